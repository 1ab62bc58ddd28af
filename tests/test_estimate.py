"""The run-time estimate: every notebook's plan counts the steps its profile runs, stages are measured on real
models, and the full profile announces its cost and how to choose cpu instead."""

import math
import time

import pytest

from latentlab import cli, config, estimate
from latentlab.errors import ParameterError, TrainingError


@pytest.mark.parametrize("number", sorted(estimate.PLANS))
@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_every_notebook_has_a_plan_built_lazily_with_positive_steps(number, profile):
    stages = estimate.plan(config.load(number, profile=profile, verbose=False))
    assert stages and all(s.steps > 0 and callable(s.prepare) for s in stages)
    assert len({s.label for s in stages}) == len(stages), "two stages with one label"


def test_steps_follow_the_profile_sizes():
    cfg = config.load("01", profile="full", verbose=False)
    by_label = {s.label: s.steps for s in estimate.plan(cfg)}
    assert by_label[f"final dense AE, {cfg.main_epochs} epochs"] == math.ceil(60_000 / 256) * 1000
    assert by_label[f"digit classifier, {cfg.clf_epochs} epochs"] == math.ceil(60_000 / 128) * cfg.clf_epochs
    grid = [s for s in estimate.plan(config.load("04", profile="full", verbose=False)) if s.label.startswith("grid")]
    # 162 grid points: one measured stage per (batch, channels, lambdas), the noise settings counted in its steps
    assert len(grid) == 27 and sum(s.steps for s in grid) == 6 * 100 * sum(math.ceil(1600 / b) * 9 for b in (4, 8, 16))
    faces = estimate.plan(config.load("02", profile="full", verbose=False))
    assert faces[0].steps == math.ceil(162_770 / 128) * 30 and "162,770 faces" in faces[0].label


def test_without_a_gpu_the_vae_is_timed_on_one_frame_at_128_px_and_counted_per_frame_and_tile(monkeypatch):
    # a CPU training step of SD's VAE at batch 8 and 256 px holds 23 GB, one frame 5 GB, one at 128 px 3 GB: the
    # estimate times single 128-px frames there, and a 256-px frame counts as four of them
    cfg = config.load("03", profile="full", verbose=False)
    frames, bs = 3 * 9_000, cfg.batch_size
    assert cfg.image_size == 256
    for gpus, batch, tiles in ((0, 1, 4), (1, bs, 1)):
        monkeypatch.setattr(estimate, "gpu_count", lambda gpus=gpus: gpus)
        passes, tune = estimate.plan(cfg)
        assert tune.steps == math.ceil(frames / batch) * cfg.ft_epochs * tiles
        assert passes.steps == math.ceil(3 * 12_000 / bs) * tiles
        assert tune.label.endswith(
            f"(timed at batch {batch} and 128 px: a 256-px frame counts 4)" if not gpus else f"(timed at batch {batch})"
        )
        assert ("timed at 128 px" in passes.label) == (not gpus)


def test_a_stage_is_timed_after_its_trace_and_the_budget_bounds_the_timed_steps():
    calls = []
    stage = estimate.Stage("counted", 1000, lambda: lambda: calls.append(1))
    measured = estimate.measure(stage, steps=4)
    assert len(calls) == 5 and measured.timed == 4
    assert measured.seconds == pytest.approx(1000 * measured.seconds_per_step)
    calls.clear()

    def prepare():
        def step():  # fast to trace, slow after
            calls.append(1)
            time.sleep(0.02 if len(calls) > 1 else 0)

        return step

    assert estimate.measure(estimate.Stage("slower", 10, prepare), steps=4, budget=0.01).timed == 1
    assert len(calls) == 2
    slow = estimate.Stage("slow trace", 10, lambda: lambda: time.sleep(0.05))
    measured = estimate.measure(slow, steps=4, budget=0.01)  # the traced step alone is over the budget
    assert measured.timed == 0 and measured.seconds_per_step >= 0.05 and measured.seconds >= 0.5
    with pytest.raises(ParameterError, match="steps=0"):
        estimate.measure(stage, steps=0)


def test_a_real_stage_measures_a_training_step():
    cfg = config.load("01", profile="smoke", verbose=False)
    first = estimate.plan(cfg)[0]
    measured = estimate.measure(first, steps=2)
    assert measured.timed == 2 and 0 < measured.seconds_per_step < 5


def test_full_announces_its_cost_and_how_to_choose_cpu_other_profiles_stay_silent(monkeypatch, capsys):
    assert estimate.announce(config.load("01", profile="cpu", verbose=False)) is None
    assert capsys.readouterr().out == ""
    full = config.load("01", profile="full", verbose=False)
    stages = estimate.plan(full)[:2]  # the two smallest models: real measurements, full-size step counts
    monkeypatch.setitem(estimate.PLANS, "01", lambda cfg: stages)
    measured = estimate.announce(full, steps=2, apart=False)  # here: a child process would not see the patch
    out = capsys.readouterr().out
    assert [m.label for m in measured] == [s.label for s in stages]
    assert out.startswith("Profile full: about ") and "--profile cpu" in out and "papermill -p profile cpu" in out
    assert f"| {stages[1].label} | {stages[1].steps:,} |" in out


def test_the_command_prints_a_table_and_refuses_an_unknown_notebook(monkeypatch, capsys):
    monkeypatch.setitem(estimate.PLANS, "02", lambda cfg: [estimate.Stage("one step", 7, lambda: lambda: None)])
    monkeypatch.setattr(
        estimate, "gpu_count", lambda: 1
    )  # measured here, as with a GPU: a child would not see the patch
    assert cli.main(["estimate", "02", "--profile", "cpu", "--steps", "1"]) == 0
    assert "| one step | 7 |" in capsys.readouterr().out
    assert cli.main(["estimate", "07"]) == 2
    assert "Unknown notebook '07'" in capsys.readouterr().err


def test_without_a_gpu_the_stages_are_measured_in_a_child_process(monkeypatch, capfd):
    """The child plans afresh from the settings (its own import of latentlab) and sends each stage's measurement:
    the same stages as measured here, without TensorFlow's start-up lines (a kernel shows its children's stderr).
    A child that ends before sending them all is an error that says so."""
    cfg = config.load("02", profile="smoke", verbose=False)
    capfd.readouterr()
    apart = estimate.estimate(cfg, steps=1, apart=True)
    assert [m.label for m in apart] == [s.label for s in estimate.plan(cfg)]
    assert all(m.seconds_per_step > 0 and m.timed == 1 for m in apart)
    err = capfd.readouterr().err
    assert "InitializeLog" not in err and "oneDNN" not in err, err[-500:]
    one = estimate.plan(cfg)[0]
    monkeypatch.setitem(estimate.PLANS, "02", lambda cfg: [one, one, one])  # the child still plans one stage
    with pytest.raises(TrainingError, match=r"process ended \(exit code 0\) after 1 of 3 stages"):
        estimate.estimate(cfg, steps=1, apart=True)
