"""Same seed, same numbers: notebooks 01 (dense AE, GMMs) and 05 (every agent, with deterministic kernels) run a
second time in smoke from scratch, and every number of metrics.json must equal the first run's."""

import json

import pytest

from latentlab import runner


@pytest.mark.slow
@pytest.mark.parametrize("number", ["01", "05"])
def test_a_second_smoke_run_gives_the_same_metrics(smoke_run, number, tmp_path):
    again = runner.run([number], profile="smoke", seed=0, build=tmp_path, html=False, log=lambda line: None)[0]
    assert again.ok, again.error
    build, first = smoke_run(number)  # executed meanwhile by another worker, or now
    assert first.ok, first.error
    one, two = (json.loads((b / first.stem / "metrics.json").read_text()) for b in (build, tmp_path))
    assert one["seed"] == two["seed"] == 0 and one["metrics"], "the run produced no metrics"
    assert one == two
