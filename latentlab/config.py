"""Run profiles, paths and seeds: the one place a notebook's sizes come from.

Every notebook starts with ``cfg = latentlab.config.load("01")``. The profile comes from
``LATENTLAB_PROFILE`` (``smoke`` | ``cpu`` | ``full``); unset, it is ``full`` when the Keras backend
sees a GPU and ``cpu`` otherwise. Profiles change sizes and epochs only, never code paths.

Environment variables:
    LATENTLAB_PROFILE  smoke | cpu | full
    LATENTLAB_DATA     where datasets are looked for and cached (default: <project>/data)
    LATENTLAB_BUILD    where notebooks write metrics, arrays and checkpoints (default: <project>/build)
    LATENTLAB_OFFLINE  1 to skip every download attempt
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any

from latentlab.errors import ProfileError

PROFILES = ("smoke", "cpu", "full")

#: Per notebook: its file stem and the sizes of each profile. ``smoke`` runs in seconds (CI),
#: ``cpu`` shows the paper's points on a 2-core laptop in minutes, ``full`` is the paper's setting.
NOTEBOOKS: dict[str, dict[str, Any]] = {
    "01": {
        "stem": "01_mnist_dense_autoencoder_gmm_sampling",
        "profiles": {
            "smoke": dict(
                n_train=6000, n_val=1000, batch_size=64, arch_epochs=3, main_epochs=8,
                gmm_k=5, k_sweep=(1, 2, 5), gmm_max_iter=20, clf_epochs=1,
                n_scatter=1000, explorer_pcs=8, n_score_per_class=20,
            ),
            "cpu": dict(
                n_train=60000, n_val=10000, batch_size=256, arch_epochs=8, main_epochs=25,
                gmm_k=250, k_sweep=(1, 5, 25, 250), gmm_max_iter=100, clf_epochs=3,
                n_scatter=5000, explorer_pcs=8, n_score_per_class=100,
            ),
            "full": dict(
                n_train=60000, n_val=10000, batch_size=256, arch_epochs=100, main_epochs=1000,
                gmm_k=250, k_sweep=(1, 5, 10, 25, 50, 100, 250, 500), gmm_max_iter=200,
                clf_epochs=10, n_scatter=10000, explorer_pcs=8, n_score_per_class=200,
            ),
        },
    },
}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def offline() -> bool:
    """True when ``LATENTLAB_OFFLINE`` forbids downloads."""
    return _truthy(os.environ.get("LATENTLAB_OFFLINE"))


def project_root() -> Path:
    """The checkout's root: the nearest parent of the working directory holding latentlab's
    ``pyproject.toml``, else the parent of the installed package, else the working directory."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "latentlab").is_dir():
            return folder
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "pyproject.toml").is_file():
        return package_parent
    return here


def data_dir() -> Path:
    """Where datasets are looked for first and cached: ``LATENTLAB_DATA`` or ``<project>/data``."""
    env = os.environ.get("LATENTLAB_DATA")
    return Path(env).expanduser() if env else project_root() / "data"


def build_dir() -> Path:
    """Where notebooks write their outputs: ``LATENTLAB_BUILD`` or ``<project>/build``."""
    env = os.environ.get("LATENTLAB_BUILD")
    return Path(env).expanduser() if env else project_root() / "build"


def gpu_count() -> int:
    """Number of GPUs the active Keras backend can use (0 on a CPU machine)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return sum(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.device_count()
    return 0


def resolve_profile(name: str | None = None) -> str:
    """The profile to run: ``name``, else ``LATENTLAB_PROFILE``, else ``full`` with a GPU, ``cpu``
    without one."""
    name = name if name is not None else os.environ.get("LATENTLAB_PROFILE") or None
    if name is None:
        return "full" if gpu_count() > 0 else "cpu"
    name = name.strip().lower()
    if name not in PROFILES:
        raise ProfileError(
            f"Unknown profile {name!r}: LATENTLAB_PROFILE must be one of {', '.join(PROFILES)} "
            "(smoke: seconds, for CI; cpu: minutes on a laptop; full: the paper's settings on a GPU)."
        )
    return name


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend. (TensorFlow's ``enable_op_determinism`` is not
    used: it turns XLA off, halving training speed, and CPU training is repeatable without it;
    tests/test_reproducibility.py checks that a notebook run twice gives the same numbers.)"""
    import keras

    keras.utils.set_random_seed(seed)


def device_description() -> str:
    """A short human-readable line: backend and the devices it trains on."""
    import keras

    gpus = gpu_count()
    where = f"{gpus} GPU{'s' if gpus != 1 else ''}" if gpus else f"CPU ({os.cpu_count()} cores)"
    return f"Keras {keras.__version__} on {keras.backend.backend()}, {where}"


@dataclasses.dataclass(frozen=True)
class Config:
    """One notebook's run settings. Profile sizes are attributes: ``cfg.main_epochs``."""

    notebook: str
    stem: str
    profile: str
    seed: int
    params: dict[str, Any]
    out_dir: Path

    def __getattr__(self, name: str) -> Any:
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(
            f"Config of notebook {self.__dict__.get('notebook')!r} has no setting {name!r}; "
            f"settings: {', '.join(sorted(params))}"
        )

    @property
    def checkpoint_dir(self) -> Path:
        """Where this notebook's training state lives, per profile (resumable runs)."""
        return self.out_dir / "checkpoints" / self.profile

    def scope(self):
        """Context in which to build models: ``tf.distribute.MirroredStrategy`` over every visible
        GPU on the TensorFlow backend (so ``full`` uses them all), a no-op elsewhere."""
        import keras

        if keras.backend.backend() == "tensorflow" and gpu_count() > 1:
            import tensorflow as tf

            return tf.distribute.MirroredStrategy().scope()
        return contextlib.nullcontext()


def load(notebook: str, profile: str | None = None, seed: int = 0, verbose: bool = True) -> Config:
    """The settings of ``notebook`` (e.g. ``"01"``) in ``profile`` (default: see module doc),
    with every random generator seeded and the output folder created."""
    if notebook not in NOTEBOOKS:
        raise ProfileError(f"Unknown notebook {notebook!r}; known: {', '.join(sorted(NOTEBOOKS))}.")
    profile = resolve_profile(profile)
    entry = NOTEBOOKS[notebook]
    out_dir = build_dir() / entry["stem"]
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(seed)
    cfg = Config(notebook, entry["stem"], profile, seed, dict(entry["profiles"][profile]), out_dir)
    if verbose:
        print(f"latentlab {notebook}: profile={profile} | {device_description()} | outputs -> {out_dir}")
    return cfg
