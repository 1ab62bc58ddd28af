"""bench_scale's bookkeeping: time and sampled memory are attributed to the notebook section whose cells ran."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_scale  # noqa: E402


def _cell(start: str, end: str) -> dict:
    timing = {"iopub.execute_input": f"2026-12-05T10:00:{start}Z", "shell.execute_reply": f"2026-12-05T10:00:{end}Z"}
    return {"cell_type": "code", "source": ["x = 1\n"], "metadata": {"execution": timing}}


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "source": [text], "metadata": {}}


def test_time_and_memory_peaks_go_to_the_section_whose_cells_ran(tmp_path):
    nb = {
        "cells": [
            _cell("00", "04"),  # setup
            _markdown("## 1. Training: the autoencoder\n"),
            _cell("05", "10"),
            _markdown("Some words, no heading.\n"),
            _cell("10", "12"),
            _markdown("## 2. Scoring\n"),
            _cell("20", "30"),
        ]
    }
    path = tmp_path / "executed.ipynb"
    path.write_text(json.dumps(nb))
    assert bench_scale.section_times(path) == {"setup": 4.0, "1. Training": 7.0, "2. Scoring": 10.0}
    t0 = bench_scale.dt.datetime.fromisoformat("2026-12-05T10:00:00+00:00").timestamp()
    # a spike between cells (15 s: nothing ran) is nobody's; one inside section 1's second cell is section 1's
    samples = [(t0 + 1, 900.0), (t0 + 6, 1500.0), (t0 + 11, 2500.0), (t0 + 15, 9999.0), (t0 + 25, 1200.0)]
    peaks = bench_scale.section_peaks(path, samples)
    assert peaks == {"setup": 900.0, "1. Training": 2500.0, "2. Scoring": 1200.0}
    # a section no sample fell in (shorter than the sampling interval) is unmeasured, not 0 MB
    assert all(np.isnan(v) for v in bench_scale.section_peaks(path, []).values())
    assert np.isnan(bench_scale.section_peaks(path, samples[:2])["2. Scoring"])


def test_growth_exponent():
    assert bench_scale.growth([10, 20, 40], [3.0, 6.0, 12.0]) == pytest.approx(1.0)
    assert bench_scale.growth([10, 20, 40], [5.0, 5.0, 5.0]) == pytest.approx(0.0, abs=1e-12)
