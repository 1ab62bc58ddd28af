"""Every notebook runs from top to bottom in the smoke profile and passes the checks it asserts there; the
executed copy and its HTML are written (the run is shared with the reproducibility and assignment tests)."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = [p.name[:2] for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]


@pytest.mark.slow
@pytest.mark.parametrize("number", NUMBERS)
def test_notebook_runs_in_smoke_and_passes_its_checks(smoke_run, number):
    build, run = smoke_run(number)
    assert run.ok, f"{run.stem} failed in smoke: {run.error} (executed copy: {run.executed})"
    checks = json.loads((build / run.stem / "checks.json").read_text())
    assert checks["profile"] == "smoke" and checks["checks"], "the closing cell recorded no checks"
    assert not [c["claim"] for c in checks["checks"] if c["status"] == "FAIL"]
    assert json.loads((build / run.stem / "metrics.json").read_text())["metrics"]
    assert Path(run.html).stat().st_size > 10_000
