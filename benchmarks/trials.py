"""Interleaved trials: the one way every benchmark here times code against its reference.

Variants run A, B, A, B, ... after a warm-up of each, so that drifts of the machine (turbo, neighbours, memory)
fall on both alike; each is reported as min / median / max, and a ratio as the ratio of medians with the spread
of the per-round ratios.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def interleaved(
    variants: dict[str, Callable[[], object]],
    trials: int = 5,
    warmup: int = 1,
    between: Callable[[], float] | None = None,
) -> tuple[dict[str, list[float]], list[float]]:
    """Seconds of each call of each variant over ``trials`` rounds (variants in turn within a round) after
    ``warmup`` untimed rounds, and the value of ``between()`` (e.g. a matmul GFLOP/s) measured once per round."""
    for _ in range(warmup):
        for fn in variants.values():
            fn()
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    reference: list[float] = []
    for _ in range(trials):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
        if between is not None:
            reference.append(between())
    return seconds, reference


def spread(values: list[float], fmt: str = "{:.3g}") -> str:
    """``min / median / max`` of ``values``, each formatted with ``fmt`` (default 3 significant digits)."""
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def ratio(slow: list[float], fast: list[float]) -> str:
    """How many times faster ``fast`` ran than ``slow`` (both lists of seconds, paired by round): the ratio of the
    medians, with the min and max of the per-round ratios."""
    rounds = [s / f for s, f in zip(slow, fast)]
    return f"{statistics.median(slow) / statistics.median(fast):.2f}x (rounds {min(rounds):.2f}-{max(rounds):.2f})"


def anon_mb() -> float:
    """This process's anonymous resident memory (``RssAnon``, Linux), MB: what it holds, not the pages of files it
    has mapped."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("RssAnon:")) / 1024


def in_fresh_process(argv: list[str], env: dict[str, str], what: str) -> dict:
    """Run ``python *argv`` in a process of its own (for what a process keeps once it has run: an allocator's pool,
    a setting read at start-up) and return the JSON object its last line of output prints; exits naming ``what``
    with the end of its stderr if it fails."""
    done = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
