"""How a notebook's time and memory grow with the dataset: every cell of notebook 03 in the ``full`` profile on
full-layout ATD-12K stand-ins of n, 2n and 4n triplets (benchmarks/standins.py), training cut to a few steps.

    python benchmarks/bench_scale.py [--triplets 24,48,96] [--max-steps 2] [--profile full] [--work DIR]

For each size it builds a stand-in (train : test = 10,000 : 2,000, as ATD-12K; frames 960x540), runs the notebook
in a fresh process with ``LATENTLAB_DATA`` pointing at it and ``LATENTLAB_MAX_STEPS`` set (one short epoch for
every fit: training is not what this measures; inference over every triplet is never cut), and records:

- the peak resident memory of the kernel (the largest ``ru_maxrss`` of the run's child processes);
- the wall time of each section of the notebook (its cells' execution times, grouped under the ``## N.``
  headings).

Then, per section, the growth exponent b of time ~ n^b (least squares on log-log over the sizes), and the time
extrapolated to ATD-12K's 12,000 triplets with it; the same for peak memory. Extrapolated figures are marked as
such: only the sizes run were measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from standins import make_atd12k_standin  # noqa: E402

FULL_TRIPLETS = 12_000
NOTEBOOK = "03"

CHILD = """
import json, resource, sys
from pathlib import Path
from latentlab import runner
run = runner.run([sys.argv[1]], profile=sys.argv[2], seed=0, build=Path(sys.argv[3]), html=False, log=lambda s: None)[0]
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"ok": run.ok, "error": run.error, "seconds": run.seconds, "executed": run.executed,
                  "peak_mb": peak_kb / 1024}))
"""


def section_times(executed: str | Path) -> dict[str, float]:
    """Seconds per section of an executed notebook: its code cells' execution times, summed under the last
    ``## `` heading above them (cells before the first heading count as "setup")."""
    nb = json.loads(Path(executed).read_text())
    out: dict[str, float] = {}
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
            out[section] = out.get(section, 0.0) + (end - start).total_seconds()
    return out


def growth(sizes: list[int], values: list[float]) -> float:
    """Exponent b of value ~ size^b, least squares on log-log."""
    return float(np.polyfit(np.log(sizes), np.log(np.maximum(values, 1e-9)), 1)[0])


def run_at(n_triplets: int, work: Path, profile: str, max_steps: int) -> dict:
    """Build the stand-in of ``n_triplets`` (5 train : 1 test) and run the notebook on it in a fresh process."""
    data = work / f"n{n_triplets}"
    n_test = max(2, n_triplets // 6)
    make_atd12k_standin(data / "atd12k", n_train=n_triplets - n_test, n_test=n_test, verbose=False)
    env = {
        **os.environ,
        "LATENTLAB_DATA": str(data),
        "LATENTLAB_MAX_STEPS": str(max_steps),
        "LATENTLAB_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    build = work / f"build-n{n_triplets}"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, NOTEBOOK, profile, str(build)], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"the run at n={n_triplets} crashed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    if not result["ok"]:
        raise SystemExit(f"notebook {NOTEBOOK} failed at n={n_triplets}: {result['error']} ({result['executed']})")
    result["sections"] = section_times(result["executed"])
    result["n"] = n_triplets
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplets", default="24,48,96", help="stand-in sizes, comma-separated")
    parser.add_argument("--max-steps", type=int, default=2, help="LATENTLAB_MAX_STEPS: steps of every fit")
    parser.add_argument("--profile", default="full")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.triplets.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    print(f"notebook {NOTEBOOK} in {args.profile}, LATENTLAB_MAX_STEPS={args.max_steps}, stand-ins in {work}")
    runs = []
    for n in sizes:
        runs.append(run_at(n, work, args.profile, args.max_steps))
        r = runs[-1]
        print(f"  n={n:6d} triplets: {r['seconds']:7.1f} s in the notebook, peak RSS {r['peak_mb']:7.0f} MB")
    sections = list(runs[-1]["sections"])
    heads = " | ".join(f"n={r['n']}" for r in runs)
    print(f"\n| section (s; last row MB) | {heads} | b | {FULL_TRIPLETS:,}, extrapolated |")
    print(f"|---|{'---|' * len(runs)}---|---|")
    for name in [*sections, "whole notebook", "peak RSS (MB)"]:
        if name == "whole notebook":
            values = [r["seconds"] for r in runs]
        elif name == "peak RSS (MB)":
            values = [r["peak_mb"] for r in runs]
        else:
            values = [r["sections"].get(name, 0.0) for r in runs]
        b = growth(sizes, values)
        full = values[-1] * (FULL_TRIPLETS / sizes[-1]) ** max(b, 0.0)
        cells = " | ".join(f"{v:.1f}" if v < 100 else f"{v:.0f}" for v in values)
        print(f"| {name} | {cells} | {b:.2f} | {full:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
