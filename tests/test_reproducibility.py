"""Same seed, same numbers: the smoke pipeline of notebook 01, run twice from scratch."""

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_mnist_dense_autoencoder_gmm_sampling.ipynb"


def _run(build: Path, monkeypatch) -> dict:
    monkeypatch.setenv("LATENTLAB_BUILD", str(build))
    monkeypatch.setenv("LATENTLAB_PROFILE", "smoke")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}
    ).execute()
    return json.loads((build / NOTEBOOK.stem / "metrics.json").read_text())


def test_smoke_pipeline_twice_gives_the_same_metrics(tmp_path, monkeypatch):
    first = _run(tmp_path / "a", monkeypatch)
    second = _run(tmp_path / "b", monkeypatch)
    assert first["profile"] == "smoke"
    assert first["metrics"]["sampler_scores"], "the run produced no scores"
    assert first == second
