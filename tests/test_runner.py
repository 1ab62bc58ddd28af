"""`latentlab run` executes every notebook even when one fails, keeps the failed copy with its error, writes
REPORT.md saying which failed and why, and exits non-zero; `--seeds` tabulates every check per run."""

import json
from pathlib import Path

import nbformat
import pytest

from latentlab import cli

SEEN = """import os
with open(os.path.join(os.environ["LATENTLAB_BUILD"], "seen-{name}.txt"), "w") as f:
    f.write(os.environ["LATENTLAB_PROFILE"] + " " + os.environ["LATENTLAB_SEED"])"""

CHECKED = """import os
from pathlib import Path
from latentlab import config, report
from latentlab.checks import Checks
seed = int(os.environ["LATENTLAB_SEED"])
out = Path(os.environ["LATENTLAB_BUILD"]) / "01_checked"
cfg = config.Config("01", "01_checked", os.environ["LATENTLAB_PROFILE"], seed, {}, out)
cfg.out_dir.mkdir(parents=True, exist_ok=True)
report.save_metrics(cfg, {"value": seed / 2})
checks = Checks(cfg)
checks.that(seed != 1, "the seed is not 1", seed=seed)
checks.that(True, "this one always holds")
checks.finish()"""


def _notebook(folder: Path, name: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_failing_notebook_leaves_the_others_and_a_report(tmp_path, capsys):
    nbs, build = tmp_path / "notebooks", tmp_path / "build"
    nbs.mkdir()
    _notebook(nbs, "01_first", SEEN.format(name="01"))
    _notebook(nbs, "02_broken", "x = 1", "assert x == 2, 'made to fail'", "print('never runs')")
    _notebook(nbs, "03_last", SEEN.format(name="03"))
    status = cli.main(["run", "--notebooks-dir", str(nbs), "--build", str(build), "--profile", "smoke", "--seed", "3"])
    assert status == 1, "a failed notebook must make the command fail"
    for stem in ("01_first", "02_broken", "03_last"):
        assert (build / "executed" / f"{stem}.ipynb").is_file() and (build / "executed" / f"{stem}.html").is_file()
    assert (build / "seen-03.txt").read_text() == "smoke 3", "the notebook after the failure ran, with profile and seed"
    broken = nbformat.read(build / "executed" / "02_broken.ipynb", as_version=4)
    errors = [o for c in broken.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and errors[0]["evalue"] == "made to fail", "the executed copy keeps the error"
    assert not broken.cells[2].get("outputs"), "cells after the error did not run"
    report = (build / "REPORT.md").read_text()
    assert "2 of 3 notebooks ran to the end; **1 failed**" in report
    assert "| 02_broken | smoke | 3 | **FAILED**: AssertionError: made to fail |" in report
    assert "made to fail" in capsys.readouterr().err
    runs = json.loads((build / "runs.json").read_text())
    assert [r["ok"] for r in runs] == [True, False, True]


def test_a_kernel_that_dies_is_reported_as_such_with_its_cell(tmp_path):
    nbs, build = tmp_path / "notebooks", tmp_path / "build"
    nbs.mkdir()
    _notebook(nbs, "01_killed", "x = 1", "import os\nos._exit(9)", "print('never runs')")
    assert cli.main(["run", "--notebooks-dir", str(nbs), "--build", str(build), "--profile", "smoke"]) == 1
    report = (build / "REPORT.md").read_text()
    assert "the kernel stopped in cell 1 without an error in a cell" in report, report


def test_unknown_notebook_number_is_an_error_naming_the_ones_there(tmp_path, capsys):
    (tmp_path / "nbs").mkdir()
    _notebook(tmp_path / "nbs", "01_only", "1")
    assert cli.main(["run", "07", "--notebooks-dir", str(tmp_path / "nbs"), "--build", str(tmp_path / "b")]) == 2
    assert "No notebook numbered 07" in capsys.readouterr().err and not (tmp_path / "b").exists()


def test_seeds_tabulate_each_check_per_run_and_compare_same_seed_runs(tmp_path):
    nbs, build = tmp_path / "notebooks", tmp_path / "build"
    nbs.mkdir()
    _notebook(nbs, "01_checked", CHECKED)
    status = cli.main(
        ["run", "--notebooks-dir", str(nbs), "--build", str(build), "--profile", "cpu", "--seeds", "0,1,0"]
    )
    assert status == 1, "seed 1 fails a check"
    table = (build / "seeds" / "cpu" / "SEEDS.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| the seed is not 1 |"))
    assert row.split(" | ")[1:] == ["pass (seed=0)", "FAIL (seed=1)", "pass (seed=0) |"]
    assert "| this one always holds | pass () | pass () | pass () |" in table
    assert "Seed 0, seed 0 (run 1) vs seed 0 (run 3): identical metrics.json." in table
    assert (build / "seeds" / "cpu" / "run1-seed1" / "executed" / "01_checked.html").is_file()


@pytest.mark.parametrize("bad", ["0,x", "-1", ","])
def test_bad_seed_lists_are_refused(bad, capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--seeds", bad])
    assert "--seeds" in capsys.readouterr().err
