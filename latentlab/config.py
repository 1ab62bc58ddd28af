"""Run profiles, paths and seeds: the one place a notebook's sizes come from.

Every notebook starts with ``cfg = latentlab.config.load("01")``. The profile comes from
``LATENTLAB_PROFILE`` (``smoke`` | ``cpu`` | ``full``); unset, it is ``full`` when the Keras backend
sees a GPU and ``cpu`` otherwise. Profiles change sizes and epochs only, never code paths.

Environment variables:
    LATENTLAB_PROFILE  smoke | cpu | full
    LATENTLAB_SEED     the seed of every random generator (default 0)
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

import numpy as np

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
    "02": {
        "stem": "02_celeba_conv_autoencoder_latent_statistics",
        "profiles": {
            "smoke": dict(
                n_images=320, n_val=64, batch_size=32, epochs=2, n_scatter=1000, n_generated=200,
                n_grid=8, n_slice_uniform=200, gmm_k=2, gmm_max_iter=20, knn_k=5, hist_components=8,
                n_planes=3, path_reach=2.0, explorer_k=8,
            ),
            "cpu": dict(
                n_images=2500, n_val=100, batch_size=32, epochs=25, n_scatter=5000, n_generated=1000,
                n_grid=12, n_slice_uniform=200, gmm_k=5, gmm_max_iter=100, knn_k=10, hist_components=16,
                n_planes=3, path_reach=2.0, explorer_k=8,
            ),
            "full": dict(
                n_images=None, n_val=2000, batch_size=128, epochs=30, n_scatter=5000, n_generated=5000,
                n_grid=16, n_slice_uniform=200, gmm_k=50, gmm_max_iter=200, knn_k=10, hist_components=16,
                n_planes=3, path_reach=2.0, explorer_k=8,
            ),
        },
    },
    "03": {
        "stem": "03_atd12k_pretrained_vae_metrics",
        "profiles": {
            "smoke": dict(
                pretrained="bullhug/kl-f8-anime2", n_train=8, n_val=2, n_test=6, val_fraction=0.1, image_size=256,
                crop=64, crops_per_frame=2, batch_size=8, epochs=3, learning_rate=1e-3, ft_epochs=1,
                ft_learning_rate=1e-4, embeddings=("pca",), n_show=1,
            ),
            "cpu": dict(
                pretrained="bullhug/kl-f8-anime2", n_train=None, n_val=None, n_test=None, val_fraction=0.1,
                image_size=256, crop=128, crops_per_frame=2, batch_size=8, epochs=6, learning_rate=1e-3,
                ft_epochs=2, ft_learning_rate=1e-4, embeddings=("pca", "tsne", "umap"), n_show=2,
            ),
            "full": dict(
                pretrained="bullhug/kl-f8-anime2", n_train=None, n_val=None, n_test=None, val_fraction=0.1,
                image_size=256, crop=256, crops_per_frame=1, batch_size=8, epochs=50, learning_rate=1e-3,
                ft_epochs=10, ft_learning_rate=1e-4, embeddings=("pca", "tsne", "umap"), n_show=3,
            ),
        },
    },
    "04": {
        "stem": "04_mpi3d_denoising_ae_manifold_surfing",
        "profiles": {
            "smoke": dict(
                channels=8, dense=16, batch_size=32, epochs=1, learning_rate=1e-3, noise="gaussian",
                noise_level=0.2, feature_images=200, feature_epochs=1, dof3_epochs=1, n_frames=8, n_pairs=2,
                n_candidates=20, grid_epochs=1, grid=dict(batch_size=(32,), lambdas=((1.0, 0.0),), channels=(8,),
                                                          noise_level=(0.2,), noise=("normal", "white")),
            ),
            "cpu": dict(
                channels=32, dense=128, batch_size=16, epochs=28, learning_rate=1e-3, noise="gaussian",
                noise_level=0.2, feature_images=5000, feature_epochs=8, dof3_epochs=10, n_frames=24, n_pairs=20,
                n_candidates=300, grid_epochs=28, grid=dict(batch_size=(16,), lambdas=((1.0, 0.0),), channels=(32,),
                                                            noise_level=(0.2,), noise=("normal", "white")),
            ),
            "full": dict(
                channels=128, dense=256, batch_size=16, epochs=300, learning_rate=1e-3, noise="gaussian",
                noise_level=0.2, feature_images=20000, feature_epochs=20, dof3_epochs=100, n_frames=60,
                n_pairs=100, n_candidates=2000, grid_epochs=100,
                grid=dict(batch_size=(4, 8, 16), lambdas=((1.0, 0.0), (0.7, 0.3), (0.0, 1.0)), channels=(64, 128, 256),
                          noise_level=(0.1, 0.2, 0.5), noise=("normal", "white")),
            ),
        },
    },
    "05": {
        "stem": "05_transformation_based_interpolation",
        "profiles": {
            "smoke": dict(
                n_images=2000, n_pairs=64, n_test_pairs=16, batch_size=32, fixed_steps=3, budget=4,
                bptt_epochs=2, pg_epochs=2, hybrid_epochs=2, stop_epochs=2, ae_epochs=1, n_show=4,
                classifier_epochs=1,
                face_size=32, n_faces=160, n_held_faces=32, face_pairs=64, face_test_pairs=16, face_width=8,
                face_max_flow=3.0, face_epochs=1, face_ae_latent=32, face_ae_epochs=1,
            ),
            "cpu": dict(
                n_images=20000, n_pairs=1024, n_test_pairs=200, batch_size=32, fixed_steps=5, budget=15,
                bptt_epochs=8, pg_epochs=8, hybrid_epochs=8, stop_epochs=8, ae_epochs=5, n_show=6,
                classifier_epochs=2,
                face_size=32, n_faces=5000, n_held_faces=100, face_pairs=1024, face_test_pairs=100, face_width=16,
                face_max_flow=3.0, face_epochs=8, face_ae_latent=128, face_ae_epochs=30,
            ),
            "full": dict(
                n_images=60000, n_pairs=20000, n_test_pairs=1000, batch_size=64, fixed_steps=5, budget=15,
                bptt_epochs=30, pg_epochs=300, hybrid_epochs=100, stop_epochs=100, ae_epochs=50, n_show=8,
                classifier_epochs=3,
                face_size=64, n_faces=50000, n_held_faces=1000, face_pairs=20000, face_test_pairs=1000,
                face_width=32, face_max_flow=6.0, face_epochs=30, face_ae_latent=256, face_ae_epochs=30,
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


def resolve_seed(seed: int | None = None) -> int:
    """The seed to run with: ``seed``, else ``LATENTLAB_SEED``, else 0."""
    if seed is None:
        text = (os.environ.get("LATENTLAB_SEED") or "0").strip()
        try:
            seed = int(text)
        except ValueError:
            raise ProfileError(f"LATENTLAB_SEED={text!r}: give a whole number >= 0, e.g. LATENTLAB_SEED=1.") from None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ProfileError(f"seed={seed!r}: give a whole number >= 0.")
    return int(seed)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend, and make the backend's kernels deterministic
    (:func:`deterministic_ops`): the same seed gives the same numbers on a CPU."""
    import keras

    keras.utils.set_random_seed(seed)
    deterministic_ops()


def deterministic_ops() -> None:
    """Ask the Keras backend for deterministic kernels. On TensorFlow, ``enable_op_determinism``: without it,
    multithreaded CPU kernels (the scatter-add behind the gradient of the agent's bilinear warp, for one) sum in
    whatever order their threads finish, so a long unrolled episode (notebook 05's BPTT+STOP) drifts by 1e-12
    from run to run and a Bernoulli STOP sample can flip. JAX is deterministic on a CPU; PyTorch is asked with
    ``use_deterministic_algorithms(warn_only=True)``. GPU kernels may still differ in the last bits."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


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
        """Where this notebook's training state lives, per profile and seed (resumable runs)."""
        return self.out_dir / "checkpoints" / f"{self.profile}-seed{self.seed}"

    def scope(self):
        """Context in which to build models: ``tf.distribute.MirroredStrategy`` over every visible
        GPU on the TensorFlow backend (so ``full`` uses them all), a no-op elsewhere."""
        import keras

        if keras.backend.backend() == "tensorflow" and gpu_count() > 1:
            import tensorflow as tf

            return tf.distribute.MirroredStrategy().scope()
        return contextlib.nullcontext()


def load(notebook: str, profile: str | None = None, seed: int | None = None, verbose: bool = True) -> Config:
    """The settings of ``notebook`` (e.g. ``"01"``) in ``profile`` (default: see module doc), with every
    random generator seeded by ``seed`` (default ``LATENTLAB_SEED`` or 0) and the output folder created."""
    if notebook not in NOTEBOOKS:
        raise ProfileError(f"Unknown notebook {notebook!r}; known: {', '.join(sorted(NOTEBOOKS))}.")
    profile, seed = resolve_profile(profile), resolve_seed(seed)
    entry = NOTEBOOKS[notebook]
    out_dir = build_dir() / entry["stem"]
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(seed)
    cfg = Config(notebook, entry["stem"], profile, seed, dict(entry["profiles"][profile]), out_dir)
    if verbose:
        print(f"latentlab {notebook}: profile={profile}, seed={seed} | {device_description()} | outputs -> {out_dir}")
    return cfg
