"""Command line: ``python -m latentlab report`` gathers every notebook's metrics into build/REPORT.md."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="write build/REPORT.md from build/*/metrics.json")
    rep.add_argument("--build", default=None, help="build folder (default: LATENTLAB_BUILD or ./build)")
    args = parser.parse_args(argv)
    if args.command == "report":
        from latentlab.report import write_report

        print(f"wrote {write_report(args.build)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
