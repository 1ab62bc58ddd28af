"""The claims a notebook checks: recorded with their values in every run, asserted where they apply.

A notebook's closing cell collects its checks and ends with :meth:`Checks.finish`::

    checks = Checks(cfg)
    checks.that(bptt < 0.5 * start, "BPTT ends nearer the goal than half the start's distance", bptt=bptt, start=start)
    checks.that(pg > bptt, "paper: BPTT beats PG; checked here: final distance", trained=True, bptt=bptt, pg=pg)
    checks.finish()

Every check is evaluated in every profile. ``trained=True`` marks a claim that needs the real training of
``cpu`` or ``full``: in ``smoke``, and wherever ``LATENTLAB_MAX_STEPS`` cut the training, it is recorded but not
asserted. ``learned=True`` marks one that even ``smoke``'s short training shows (the autoencoder beats the mean
image): asserted in every profile, except where ``LATENTLAB_MAX_STEPS`` cut the training. ``asserted=False``
records a claim that this project found to hold on some seeds only: never asserted, its status says "not
reproduced" where it did not hold. :meth:`~Checks.finish` writes
``<out_dir>/checks.json`` (read by ``latentlab run --seeds`` to report each check per seed), shows the
table, and raises one :class:`AssertionError` naming every asserted check that failed, so a run reports
all of its failures, not just the first.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from latentlab.config import Config, max_steps
from latentlab.io import write_json

FILE = "checks.json"
TRAINED_PROFILES = ("cpu", "full")


def _short(value: Any) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    return str(value)


@dataclasses.dataclass(frozen=True)
class Check:
    """One claim: its text, whether it held, whether this profile asserts it, and the values it rests on."""

    claim: str
    holds: bool
    asserted: bool
    values: dict[str, str]

    @property
    def status(self) -> str:
        if self.holds:
            return "pass"
        return "FAIL" if self.asserted else "not reproduced (not asserted in this profile)"

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items())


class Checks:
    """Collects the checks of one notebook run (``cfg`` from :func:`latentlab.config.load`)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.items: list[Check] = []

    def that(
        self,
        holds: bool,
        claim: str,
        *,
        trained: bool = False,
        learned: bool = False,
        asserted: bool = True,
        **values: Any,
    ) -> bool:
        """Record ``claim`` with the ``values`` it rests on; asserted in every profile, with ``learned=True`` in
        every profile whose training was not cut, with ``trained=True`` only in ``cpu`` and ``full`` with the
        training uncut. ``asserted=False`` records a paper claim that does not hold on every seed here: its status
        says whether this run reproduced it, and it never fails the run. Returns whether it held."""
        holds, uncut = bool(holds), max_steps() is None
        asserted = asserted and (not trained or (self.cfg.profile in TRAINED_PROFILES and uncut))
        asserted = asserted and (not learned or uncut)
        self.items.append(Check(claim, holds, asserted, {k: _short(v) for k, v in values.items()}))
        return holds

    @property
    def failures(self) -> list[Check]:
        """The asserted checks that did not hold."""
        return [c for c in self.items if c.asserted and not c.holds]

    def markdown(self) -> str:
        """The checks as a Markdown table: claim, this run's values, status."""
        rows = ["| check | this run | status |", "|---|---|---|"]
        rows += [f"| {c.claim} | {c.describe()} | {c.status} |" for c in self.items]
        return "\n".join(rows)

    def save(self) -> None:
        """Write ``<out_dir>/checks.json`` atomically."""
        record = {
            "notebook": self.cfg.stem,
            "profile": self.cfg.profile,
            "seed": self.cfg.seed,
            "checks": [dataclasses.asdict(c) | {"status": c.status} for c in self.items],
        }
        write_json(self.cfg.out_dir / FILE, record, indent=2)

    def finish(self, display: bool = True) -> None:
        """Save the checks, show them, and raise an AssertionError listing every asserted one that failed."""
        self.save()
        if display:
            try:
                from IPython.display import Markdown
                from IPython.display import display as show

                show(Markdown(self.markdown()))
            except ImportError:  # outside IPython
                print(self.markdown())
        if self.failures:
            lines = [f"- {c.claim} ({c.describe()})" for c in self.failures]
            raise AssertionError(
                f"{len(self.failures)} of {len(self.items)} checks failed in profile "
                f"{self.cfg.profile!r}, seed {self.cfg.seed}:\n" + "\n".join(lines)
            )
