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
    LATENTLAB_MAX_STEPS  N to cut every training to N steps (a quick look; never set by default)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from latentlab.errors import ParameterError, ProfileError

PROFILES = ("smoke", "cpu", "full")
MAX_STEPS = "LATENTLAB_MAX_STEPS"
PROFILE_FILE = Path(__file__).with_name("profiles.toml")


def _value(value: Any) -> Any:
    """A profile value as notebooks use it: TOML arrays as tuples, ``"all"`` as None (every item)."""
    if isinstance(value, list):
        return tuple(_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    return None if value == "all" else value


def read_profiles(path: Path = PROFILE_FILE) -> dict[str, dict[str, Any]]:
    """Every notebook's stem and profiles from ``profiles.toml``: ``{"01": {"stem": ..., "profiles": {"smoke":
    {...}, "cpu": {...}, "full": {...}}}}``, each profile the common values updated by its own."""
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"Cannot read the profiles in {path} ({exc}); restore it from the repository.") from None
    notebooks = {}
    for number, entry in table.items():
        common = entry.get("common", {})
        profiles = {p: {k: _value(v) for k, v in {**common, **entry.get(p, {})}.items()} for p in PROFILES}
        keys = {p: set(v) for p, v in profiles.items()}
        if "stem" not in entry or len({frozenset(k) for k in keys.values()}) != 1:
            odd = set.union(*keys.values()) - set.intersection(*keys.values())
            raise ProfileError(
                f"{path}: notebook {number} needs a stem and the same settings in every profile "
                f'(only in some: {sorted(odd)}); put shared values under ["{number}".common].'
            )
        notebooks[number] = {"stem": entry["stem"], "profiles": profiles}
    return notebooks


#: Per notebook: its file stem and the sizes of each profile (from profiles.toml).
NOTEBOOKS: dict[str, dict[str, Any]] = read_profiles()


def _switch(name: str) -> bool:
    """An on/off environment variable: 1, true, yes, y, on (any case) or 0, false, no, n, off, empty."""
    value = (os.environ.get(name) or "").strip().lower()
    if value in {"1", "true", "yes", "y", "on"}:
        return True
    if value in {"", "0", "false", "no", "n", "off"}:
        return False
    raise ProfileError(f"{name}={os.environ.get(name)!r}: set it to 1 (on) or 0 (off), or unset it.")


def offline() -> bool:
    """True when ``LATENTLAB_OFFLINE`` forbids downloads."""
    return _switch("LATENTLAB_OFFLINE")


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


def max_steps() -> int | None:
    """The step cap from ``LATENTLAB_MAX_STEPS`` (None when unset): every ``fit`` stops after that many steps."""
    text = (os.environ.get(MAX_STEPS) or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ParameterError(f"{MAX_STEPS}={text!r}: give a whole number >= 1 (steps per fit), or unset it.")
    return int(text)


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


_seeded: int | None = None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend (and remember ``seed`` for :func:`current_seed`)."""
    import keras

    global _seeded
    keras.utils.set_random_seed(seed)
    _seeded = int(seed)


def current_seed() -> int:
    """The seed last given to :func:`seed_everything` (``load`` calls it), else ``LATENTLAB_SEED``, else 0."""
    return resolve_seed() if _seeded is None else _seeded


@contextlib.contextmanager
def deterministic_ops(seed: int = 0) -> Iterator[None]:
    """Within the block, the Keras backend's kernels are deterministic, so the same seed gives the same numbers on a
    CPU. On TensorFlow this is ``enable_op_determinism``, switched off again afterwards: without it, multithreaded
    CPU kernels (the scatter-add behind the gradient of the agent's bilinear warp, for one) sum in whatever order
    their threads finish, so a long unrolled episode (notebook 05's BPTT+STOP) drifts by 1e-12 from run to run and
    a Bernoulli STOP sample can flip. It is not on everywhere because Keras then refuses XLA (``jit_compile``) for
    every model. JAX is deterministic on a CPU; PyTorch is asked with ``use_deterministic_algorithms``. GPU
    kernels may still differ in the last bits.

    What stays nondeterministic on TensorFlow's CPU build even inside the block: training BPTT+STOP for more than
    one batch. Two processes give the same loss in every batch to all printed digits, but weights that differ by
    up to 4e-7 after three batches (width 16, 12 steps), with one intra- and one inter-op thread, oneDNN off and a
    fixed PYTHONHASHSEED alike (after one batch, BPTT, PG and BPTT+STOP weights were identical; notebook 05's
    `smoke` metrics, every agent included, repeat exactly). The source was not found. Over an epoch the
    Bernoulli STOP samples turn that into different episodes, so BPTT+STOP's numbers can vary between runs of
    the same seed.

    TensorFlow's determinism refuses a random op that has neither its own seed nor a global one (``fit``'s
    shuffling, for one), so where nothing has seeded TensorFlow yet (a fresh kernel), ``seed`` becomes its global
    seed; a global seed set before is left as it is."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        from tensorflow.python.framework import config as tf_config

        try:
            unseeded = tf.compat.v1.random.get_seed(None)[0] is None
        except RuntimeError:  # determinism already on, and nothing seeded
            unseeded = True
        if unseeded:
            tf.random.set_seed(seed)
        was_on = tf_config.is_op_determinism_enabled()
        tf_config.enable_op_determinism()
        try:
            yield
        finally:
            if not was_on:
                tf_config.disable_op_determinism()
    elif backend == "torch":
        import torch

        was_on = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_on)
    else:
        yield


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

    def scope(self) -> contextlib.AbstractContextManager[Any]:
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
