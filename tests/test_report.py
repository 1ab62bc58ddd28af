import json

import numpy as np
import pytest

from latentlab import config, report
from latentlab.data import DataSource


def test_metrics_and_report_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_BUILD", str(tmp_path))
    cfg = config.load("01", profile="smoke", verbose=False)
    source = DataSource("MNIST", "local", "/data/mnist.npz")
    path = report.save_metrics(cfg, {"mse": np.float32(0.0123), "curve": np.arange(3), "nested": {"acc": 0.98}}, source)
    record = json.loads(path.read_text())
    assert record["profile"] == "smoke" and record["data_source"] == str(source)
    assert record["metrics"]["curve"] == [0, 1, 2] and abs(record["metrics"]["mse"] - 0.0123) < 1e-6
    assert oct(path.stat().st_mode)[-3:] == "644"
    arrays = report.save_arrays(cfg, "samples", images=np.zeros((2, 28, 28)), labels=[1, 2])
    with np.load(arrays) as f:
        assert f["labels"].tolist() == [1, 2]
    text = report.write_report(tmp_path).read_text()
    assert f"## {cfg.stem}" in text and "| mse | 0.0123 |" in text and "| nested.acc | 0.98 |" in text


def test_report_without_metrics_says_what_to_do(tmp_path):
    assert "make run" in report.write_report(tmp_path / "empty").read_text()


def test_metrics_are_strict_json_and_a_bad_file_does_not_stop_the_report(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_BUILD", str(tmp_path))
    cfg = config.load("01", profile="smoke", verbose=False)
    path = report.save_metrics(cfg, {"ok": 1.5, "bad": [1.0, float("nan")], "inf": np.float32("inf")})
    record = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert record["metrics"]["bad"] == [1.0, None] and record["metrics"]["inf"] is None
    assert record["non_finite"] == ["bad[1]=nan", "inf=inf"]
    broken = tmp_path / "02_broken" / "metrics.json"
    broken.parent.mkdir()
    broken.write_text('{"notebook": "02_broken", "metrics": {"x": 1')
    text = report.write_report(tmp_path).read_text()
    assert "could not read" in text and str(broken) in text, "the bad file is named"
    assert "| ok | 1.5 |" in text and "Not finite (written as null): bad[1]=nan, inf=inf" in text


def test_paper_table_renders_one_row_per_claim_and_escapes_pipes():
    text = report.paper_table({"final | distance": ("(figures only)", "agent 0.030"), "realism": ("plausible", "0.5")})
    lines = text.splitlines()
    assert lines[0] == "| | paper reported | this run |"
    assert len(lines) == 4
    assert lines[2] == "| final \\| distance | (figures only) | agent 0.030 |"
    assert lines[3].count(" | ") == 2
