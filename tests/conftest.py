"""Shared fixtures: real MNIST (from the offline wheel or the user's data folder), isolated folders."""

from __future__ import annotations

import os

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
def smoke_runs(tmp_path_factory):
    """Every notebook executed once in the smoke profile with seed 0 (``latentlab.runner``), for every test that
    needs an executed notebook: ``(build folder, {"01": NotebookRun, ...})``."""
    from latentlab import runner

    build = tmp_path_factory.mktemp("smoke")
    runs = runner.run(profile="smoke", seed=0, build=build, log=lambda line: None)
    return build, {r.notebook: r for r in runs}
