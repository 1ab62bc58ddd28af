import json

import numpy as np
import pytest

from latentlab import config
from latentlab.checks import Checks


def _cfg(tmp_path, profile):
    out = tmp_path / profile
    out.mkdir()
    return config.Config("05", "05_test", profile, 2, {}, out)


def test_every_failure_is_reported_at_once_with_its_values(tmp_path):
    checks = Checks(_cfg(tmp_path, "cpu"))
    assert checks.that(1 < 2, "one is below two", a=1, b=2)
    assert not checks.that(np.float64(0.3) < 0.1, "small enough", value=np.float64(0.3))
    checks.that(False, "needs training", trained=True, steps=np.int64(0))
    with pytest.raises(AssertionError) as err:
        checks.finish(display=False)
    assert "2 of 3 checks failed in profile 'cpu', seed 2" in str(err.value)
    assert "- small enough (value=0.3)" in str(err.value) and "- needs training (steps=0)" in str(err.value)
    saved = json.loads((tmp_path / "cpu" / "checks.json").read_text())
    assert [c["status"] for c in saved["checks"]] == ["pass", "FAIL", "FAIL"] and saved["seed"] == 2


def test_trained_checks_are_recorded_but_not_asserted_in_smoke(tmp_path):
    checks = Checks(_cfg(tmp_path, "smoke"))
    checks.that(False, "needs training", trained=True, value=float("nan"))
    checks.finish(display=False)  # does not raise
    assert "not reproduced" in checks.markdown() and "value=nan" in checks.markdown()
    with pytest.raises(AssertionError, match="always"):
        checks.that(False, "always")
        checks.finish(display=False)


def test_trained_checks_are_not_asserted_when_training_was_cut(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_MAX_STEPS", "2")
    checks = Checks(_cfg(tmp_path, "full"))
    checks.that(False, "needs training", trained=True)
    checks.finish(display=False)  # does not raise: two steps of training are not the paper's
    assert "not reproduced" in checks.markdown()
    monkeypatch.delenv("LATENTLAB_MAX_STEPS")
    with pytest.raises(AssertionError, match="needs training"):
        again = Checks(config.Config("05", "05_test", "full", 2, {}, tmp_path))
        again.that(False, "needs training", trained=True)
        again.finish(display=False)


def test_learned_checks_are_asserted_in_smoke_but_not_when_training_was_cut(tmp_path, monkeypatch):
    for folder in ("uncut", "cut"):
        (tmp_path / folder).mkdir()
    with pytest.raises(AssertionError, match="beats the mean"):
        smoke = Checks(_cfg(tmp_path / "uncut", "smoke"))
        smoke.that(False, "beats the mean", learned=True)
        smoke.finish(display=False)
    monkeypatch.setenv("LATENTLAB_MAX_STEPS", "2")
    for profile in ("smoke", "full"):
        cut = Checks(_cfg(tmp_path / "cut", profile))
        cut.that(False, "beats the mean", learned=True)
        cut.finish(display=False)  # does not raise: two steps learn nothing
        assert "not reproduced" in cut.markdown()


def test_a_claim_recorded_without_assert_reports_whether_it_held_and_never_fails_the_run(tmp_path):
    checks = Checks(_cfg(tmp_path, "cpu"))
    assert not checks.that(False, "paper: holds on some seeds only", trained=True, asserted=False, ratio=0.6)
    assert checks.that(True, "paper: held this time", asserted=False)
    checks.finish(display=False)  # does not raise in cpu, where a trained check would
    saved = json.loads((tmp_path / "cpu" / "checks.json").read_text())
    assert [c["status"] for c in saved["checks"]] == ["not reproduced (not asserted in this profile)", "pass"]
    assert not any(c["asserted"] for c in saved["checks"]) and "ratio=0.6" in checks.markdown()
