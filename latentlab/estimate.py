"""What a profile will cost on this machine, before it starts: the ``full`` run-time estimate.

Every notebook's heavy work is model training (and, in notebook 03, the VAE's passes over every frame). A
notebook's :func:`plan` lists that work as stages: the model it trains (built with the same builders, at the
profile's sizes), and how many steps the profile gives it, from the profile's epochs, batch sizes and dataset
sizes (``"all"`` counts the full dataset: MNIST 60,000, CelebA's 162,770 training images, ATD-12K's 12,000
triplets, the MPI3D paper sets of 1,600 and 4,800 images). :func:`measure` times a few steps of each stage on
random inputs of the right shape after one step that traces (whose time alone counts where it is over the
budget), :func:`estimate` measures every stage (without a GPU in a child process, whose memory goes back to the
system when it is done) and :func:`announce` prints the table,
the total and how to choose ``cpu`` instead. What is not counted is said there: data loading, the analyses
(GMM fits, embeddings, graphs) and per-epoch validation passes, which come on top.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from latentlab.config import Config, gpu_count
from latentlab.errors import ParameterError, TrainingError

#: Items a profile's "all" stands for, per notebook and setting (the full datasets).
ALL = {
    ("02", "n_images"): 162_770,  # CelebA's training partition
    ("03", "n_train"): 9_000,  # ATD-12K's 10,000 training triplets less the validation share (val_fraction 0.1)
    ("03", "n_test"): 2_000,
    ("03", "n_val"): 1_000,
}
MPI3D_PAPER_SET, MPI3D_3DOF_SET = 1_600, 4_800  # latentlab.data.mpi3d.paper_set


@dataclasses.dataclass(frozen=True)
class Stage:
    """One kind of work: ``steps`` calls of the step that ``prepare()`` returns (building its model and batch)."""

    label: str
    steps: int
    prepare: Callable[[], Callable[[], Any]]


@dataclasses.dataclass(frozen=True)
class Measured:
    """A stage's measured time per step (median of ``timed`` steps after the trace) and its projected total."""

    label: str
    steps: int
    seconds_per_step: float
    timed: int

    @property
    def seconds(self) -> float:
        return self.steps * self.seconds_per_step


def _count(cfg: Config, name: str) -> int:
    value = getattr(cfg, name)
    return ALL[cfg.notebook, name] if value is None else int(value)  # None: the profile says "all"


def _steps(n: int, batch_size: int, epochs: int) -> int:
    return math.ceil(n / batch_size) * int(epochs)


def _uniform(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, shape).astype(np.float32)


def _training(build: Callable[[], Any], x: Callable[[], Any], y: Callable[[], Any] | None = None) -> Callable:
    """A ``prepare`` for :class:`Stage`: build the compiled model and one batch, return its train step."""

    def prepare() -> Callable[[], Any]:
        from latentlab.models.training import build_optimizers

        model, xb = build(), x()
        build_optimizers(model)  # one trace, as in fit
        yb = None if y is None else y()
        return lambda: model.train_on_batch(xb, yb)

    return prepare


def _dense_ae(hidden: int, loss: str) -> Callable[[], Any]:
    from latentlab.models import build_dense_autoencoder

    return lambda: build_dense_autoencoder(hidden, loss=loss)


def _plan_01(cfg: Config) -> list[Stage]:
    from latentlab.models import build_digit_classifier

    n, bs = _count(cfg, "n_train"), cfg.batch_size
    vectors = lambda: _uniform((bs, 784))  # noqa: E731
    arch = _steps(n, bs, cfg.arch_epochs)
    stages = [
        Stage(
            f"dense AE, {h} hidden, {loss}, {cfg.arch_epochs} epochs",
            arch,
            _training(_dense_ae(h, loss), vectors, vectors),
        )
        for h, loss in ((1, "bce"), (5, "bce"), (9, "bce"), (9, "mse"), (9, "euclidean"))
    ]
    main = _training(_dense_ae(9, "bce"), vectors, vectors)
    stages.append(Stage(f"final dense AE, {cfg.main_epochs} epochs", _steps(n, bs, cfg.main_epochs), main))
    digits = _training(build_digit_classifier, lambda: _uniform((128, 28, 28, 1)), lambda: np.arange(128) % 10)
    stages.append(Stage(f"digit classifier, {cfg.clf_epochs} epochs", _steps(n, 128, cfg.clf_epochs), digits))
    return stages


def _plan_02(cfg: Config) -> list[Stage]:
    from latentlab.models.conv import build_conv_autoencoder

    faces = lambda: _uniform((cfg.batch_size, 64, 64, 3))  # noqa: E731
    train = _training(lambda: build_conv_autoencoder(latent_dim=256), faces, faces)
    n = _count(cfg, "n_images")
    return [Stage(f"conv AE on {n:,} faces, {cfg.epochs} epochs", _steps(n, cfg.batch_size, cfg.epochs), train)]


def _plan_03(cfg: Config) -> list[Stage]:
    """The paper's setting: SD's pretrained kl-f8 VAE (no training from scratch), fine-tuned on the whole training
    frames, and encoded and decoded over every frame."""
    from latentlab.models import AutoencoderKL, AutoencoderKLConfig

    bs, size = cfg.batch_size, cfg.image_size

    def vae() -> Any:
        import keras

        model = AutoencoderKL(AutoencoderKLConfig(), seed=cfg.seed, name="autoencoder_kl")
        model.compile(optimizer=keras.optimizers.Adam(cfg.ft_learning_rate))
        return model

    # Without a GPU both stages are timed at 128 px, the fine-tuning step on one frame, and counted per frame and
    # per 128-px quarter of a frame (a 256-px frame counts 4). At 256 px a training step peaks at 5 GB of host
    # memory with one frame and 2.55 GB more per frame of the batch (23 GB at batch 8) and the passes at batch 8 at
    # 3.6 GB, which TensorFlow keeps for the rest of the process: at 128 px, 3.1 and 1.8 GB. On 2 cores a step at
    # 256 px took 3.4-5.5x (training, one step timed in each of two runs) and 3.9-4.2x (passes) one at 128 px: the
    # factor 4 is within about 30% (benchmarks/vae_step_memory.py; benchmarks/README.md).
    gpu = gpu_count() > 0
    timed, side = (bs, size) if gpu else (1, min(size, 128))
    tiles = (size / side) ** 2

    def passes() -> Callable[[], Any]:
        model, frames = AutoencoderKL(AutoencoderKLConfig(), seed=cfg.seed), _uniform((bs, side, side, 3))
        return lambda: model.predict_on_batch(frames)

    n_train = _count(cfg, "n_train")
    frames = 3 * (n_train + _count(cfg, "n_val") + _count(cfg, "n_test"))
    tune = _training(vae, lambda: _uniform((timed, side, side, 3)), lambda: _uniform((timed, side, side, 3)))
    per_frame = "" if gpu else f"{side} px: a {size}-px frame counts {tiles:g}"
    return [
        Stage(
            f"kl-f8 VAE: encode + decode {frames:,} frames at {size} px" + (f" (timed at {per_frame})" * (not gpu)),
            math.ceil(math.ceil(frames / bs) * tiles),
            passes,
        ),
        Stage(
            f"kl-f8 VAE: fine-tune on {3 * n_train:,} frames, {cfg.ft_epochs} epochs (timed at batch {timed}"
            + (f" and {per_frame})" if per_frame else ")"),
            math.ceil(_steps(3 * n_train, timed, cfg.ft_epochs) * tiles),
            tune,
        ),
    ]


def _plan_04(cfg: Config) -> list[Stage]:
    """The perceptual losses are costed with the factor CNN's features; ImageNet VGG16, used when its weights are
    cached, costs more per step."""
    from latentlab.experiments.grid_search import check_point, grid_points
    from latentlab.experiments.perceptual import GROUPS
    from latentlab.models.denoising import build_denoising_autoencoder
    from latentlab.models.features import build_factor_cnn

    def dae(latent_dim: int, batch_size: int, channels: int, lambdas: tuple[float, float]) -> Callable:
        def build() -> Any:
            features = build_factor_cnn((64, 64, 3), GROUPS)[1] if lambdas[1] > 0 else None
            return build_denoising_autoencoder(
                latent_dim, channels, cfg.dense, lambda_re=lambdas[0], lambda_pe=lambdas[1], features=features
            )

        images = lambda: _uniform((batch_size, 64, 64, 3))  # noqa: E731
        return _training(build, images, images)

    bs = cfg.batch_size
    stages = [
        Stage(
            f"denoising AE, {d}-d, {name} loss, {cfg.epochs} epochs",
            _steps(MPI3D_PAPER_SET, bs, cfg.epochs),
            dae(d, bs, cfg.channels, lambdas),
        )
        for d in (2, 3)
        for name, lambdas in (("MSE", (1.0, 0.0)), ("perceptual", (0.0, 1.0)), ("combined", (0.7, 0.3)))
    ]
    stages.append(
        Stage(
            f"denoising AE on the 3-DoF set, {cfg.dof3_epochs} epochs",
            _steps(MPI3D_3DOF_SET, bs, cfg.dof3_epochs),
            dae(3, bs, cfg.channels, (1.0, 0.0)),
        )
    )
    # the noise's kind and level do not change a step's cost: one measurement per (batch, channels, lambdas)
    points: dict[tuple, int] = {}
    for point in (check_point(p) for p in grid_points(cfg.grid)):
        key = (int(point["batch_size"]), int(point["channels"]), tuple(point["lambdas"]))
        points[key] = points.get(key, 0) + 1
    for (batch, channels, lambdas), count in points.items():
        stages.append(
            Stage(
                f"grid: batch {batch}, {channels} channels, lambdas {lambdas}: "
                f"{count} points x {cfg.grid_epochs} epochs",
                count * _steps(MPI3D_PAPER_SET, batch, cfg.grid_epochs),
                dae(2, batch, channels, lambdas),
            )
        )
    return stages


def _plan_05(cfg: Config) -> list[Stage]:
    """The agents' cost depends on the image size, the episode length and the width, not on the rewards: the face
    agent is costed with its three transformations and without the discriminator's own updates."""
    from latentlab.agent import AgentConfig
    from latentlab.models import build_digit_classifier
    from latentlab.models.conv import build_conv_autoencoder

    bs = cfg.batch_size

    def digit_agent(mode: str, n_steps: int, **changes: Any) -> AgentConfig:
        return AgentConfig(mode=mode, n_steps=n_steps, width=cfg.width, seed=cfg.seed, **changes)

    def pairs(epochs: int) -> int:
        return _steps(cfg.n_pairs, bs, epochs)

    epochs, digits = cfg.epochs, (28, 28, 1)
    stages = [  # the perceptual-reward agent runs bptt's episode (its small CNN aside): costed as a second one
        agent_stage(
            f"agents bptt, bptt with a perceptual reward: {epochs['bptt']} epochs each",
            2 * pairs(epochs["bptt"]),
            digit_agent("bptt", cfg.fixed_steps),
            bs,
        ),
        agent_stage(
            f"agent pg: {epochs['pg']} epochs, continued to {epochs['pg_long']}; {epochs['pg']} epochs without eq. 8",
            pairs(max(epochs["pg"], epochs["pg_long"]) + epochs["pg"]),
            digit_agent("pg", cfg.fixed_steps),
            bs,
        ),
        agent_stage(
            f"agent hybrid, without and with eq. 9: {epochs['hybrid']} epochs each",
            2 * pairs(epochs["hybrid"]),
            digit_agent("hybrid", cfg.fixed_steps, score_clip=cfg.score_clip),
            bs,
        ),
        agent_stage(
            f"agent bptt+STOP, with and without the entropy bonus: {epochs['stop']} epochs each",
            2 * pairs(epochs["stop"]),
            digit_agent("bptt_stop", cfg.budget),
            bs,
        ),
    ]
    face = (cfg.face_size, cfg.face_size, 3)
    face_agent = AgentConfig(
        image_shape=face,
        n_steps=cfg.fixed_steps,
        transformations=("warp", "recolor", "blend"),
        width=cfg.face_width,
        noise_resolution=None,
        seed=cfg.seed,
        recompute=True,
    )
    stages.append(
        agent_stage(
            f"face agent, {cfg.face_epochs} epochs", _steps(cfg.face_pairs, bs, cfg.face_epochs), face_agent, bs
        )
    )
    clf = _training(build_digit_classifier, lambda: _uniform((128, *digits)), lambda: np.arange(128) % 10)
    stages.append(
        Stage(
            f"2 digit classifiers, {cfg.classifier_epochs} epochs",
            _steps(cfg.n_images, 128, cfg.classifier_epochs),
            clf,
        )
    )
    vectors = lambda: _uniform((256, 784))  # noqa: E731
    stages.append(
        Stage(
            f"dense AE, {cfg.ae_epochs} epochs",
            _steps(cfg.n_images, 256, cfg.ae_epochs),
            _training(_dense_ae(5, "bce"), vectors, vectors),
        )
    )
    faces = lambda: _uniform((bs, *face))  # noqa: E731
    face_ae = _training(
        lambda: build_conv_autoencoder(cfg.face_ae_latent, image_shape=face, filters=(32, 64, 128)), faces, faces
    )
    stages.append(
        Stage(f"face conv AE, {cfg.face_ae_epochs} epochs", _steps(cfg.n_faces, bs, cfg.face_ae_epochs), face_ae)
    )
    return stages


def agent_stage(label: str, steps: int, config: Any, batch_size: int) -> Stage:
    """``steps`` training steps of an :class:`~latentlab.agent.InterpolationAgent` built from ``config`` (an
    ``AgentConfig``) on batches of ``batch_size`` random image pairs, trained as ``train_agent`` trains it. Notebook
    05 measures with it what a step of each training scheme costs on the reader's machine."""
    from latentlab.agent import InterpolationAgent, compile_agent
    from latentlab.config import deterministic_ops
    from latentlab.models.training import build_optimizers

    def prepare() -> Callable[[], Any]:
        model = compile_agent(InterpolationAgent(config))
        build_optimizers(model)  # one trace, as in train_agent
        pair = [_uniform((batch_size, *config.image_shape), 1), _uniform((batch_size, *config.image_shape), 2)]

        def step() -> Any:
            with deterministic_ops(config.seed):  # as train_agent trains
                return model.train_on_batch(pair)

        return step

    return Stage(label, steps, prepare)


PLANS: dict[str, Callable[[Config], list[Stage]]] = {
    "01": _plan_01,
    "02": _plan_02,
    "03": _plan_03,
    "04": _plan_04,
    "05": _plan_05,
}


def plan(cfg: Config) -> list[Stage]:
    """The stages of ``cfg``'s notebook in ``cfg``'s profile (nothing is built until a stage is measured)."""
    if cfg.notebook not in PLANS:
        raise ParameterError(f"No run-time plan for notebook {cfg.notebook!r}; known: {', '.join(PLANS)}.")
    return PLANS[cfg.notebook](cfg)


def measure(stage: Stage, steps: int = 5, budget: float = 30.0) -> Measured:
    """Build the stage, run one step that traces, then time ``steps`` steps (fewer once ``budget`` seconds are
    spent, at least one) and take the median. Where the traced step alone took more than ``budget`` (a large model
    on a slow machine: SD's VAE on a CPU), its time stands for every step, an overestimate, and ``timed`` is 0."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ParameterError(f"steps={steps!r}: give a whole number >= 1 of timed steps.")
    step = stage.prepare()
    started = time.perf_counter()
    step()
    traced = time.perf_counter() - started
    if traced > budget:
        return Measured(stage.label, stage.steps, traced, 0)
    times: list[float] = []
    while len(times) < steps and (not times or sum(times) <= budget):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return Measured(stage.label, stage.steps, float(np.median(times)), len(times))


def _measure_plan(cfg: Config, steps: int, budget: float, send: Any) -> None:
    """The child process of :func:`estimate`: every stage of ``cfg``'s plan measured, each result (or the error,
    as text) sent through the pipe ``send`` as it comes. TensorFlow's start-up lines are kept out of the notebook
    whose kernel started it (a kernel shows what its child processes write to stderr)."""
    from latentlab import import_backend_quietly

    try:
        import_backend_quietly()
        for stage in plan(cfg):
            send.send(measure(stage, steps, budget))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        send.send(f"{type(exc).__name__}: {exc}")
    finally:
        send.close()


def _measured_apart(cfg: Config, n: int, steps: int, budget: float, done: Callable[[], Any]) -> list[Measured]:
    """:func:`estimate` in a child process (spawned, as on every platform): ``n`` results, ``done()`` after each."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_measure_plan, args=(cfg, steps, budget, send), name="latentlab-estimate")
    child.start()
    send.close()
    measured: list[Measured] = []
    try:
        while len(measured) < n:
            try:
                item = receive.recv()
            except EOFError:
                child.join()
                raise TrainingError(
                    f"The run-time estimate's process ended (exit code {child.exitcode}) after {len(measured)} of "
                    f"{n} stages, perhaps out of memory: run the cpu profile, or see what full costs with "
                    f"`latentlab estimate {cfg.notebook} --profile full` on a larger machine."
                ) from None
            if isinstance(item, str):
                raise TrainingError(f"The run-time estimate failed in its process: {item}")
            measured.append(item)
            done()
    finally:  # stopped early (an error, an interrupt): the child is stopped too, not waited for
        receive.close()
        if len(measured) < n and child.is_alive():
            child.terminate()
        child.join(timeout=60)
    return measured


def estimate(cfg: Config, steps: int = 5, budget: float = 30.0, apart: bool | None = None) -> list[Measured]:
    """Every stage of ``cfg``'s plan, measured on this machine, with a progress bar. With ``apart`` (the default
    without a GPU) the stages run in a child process: the host memory their models take, which TensorFlow keeps
    until its process ends (3.2 GB for notebook 03's), goes back to the system before the notebook starts its work.
    With a GPU they run here, where a second process would compete for the GPU's memory."""
    from tqdm.auto import tqdm

    stages = plan(cfg)
    apart = gpu_count() == 0 if apart is None else apart
    bar = tqdm(total=len(stages), desc=f"estimating {cfg.profile}", unit="stage")
    try:
        if apart:
            return _measured_apart(cfg, len(stages), steps, budget, bar.update)
        measured = []
        for stage in stages:
            measured.append(measure(stage, steps, budget))
            bar.update()
        return measured
    finally:
        bar.close()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def table(measured: list[Measured]) -> str:
    """A Markdown table of the measured stages and their total."""
    steps, seconds = sum(m.steps for m in measured), sum(m.seconds for m in measured)
    rows = [
        "| stage | steps | s/step (timed steps; 0: the traced step alone) | total |",
        "|---|---:|---:|---:|",
        *(
            f"| {m.label} | {m.steps:,} | {m.seconds_per_step:.4f} ({m.timed}) | {_duration(m.seconds)} |"
            for m in measured
        ),
        f"| **all stages** | {steps:,} | | **{_duration(seconds)}** |",
    ]
    return "\n".join(rows)


def announce(cfg: Config, steps: int = 5, budget: float = 30.0, apart: bool | None = None) -> list[Measured] | None:
    """In the ``full`` profile, measure (:func:`estimate`; ``apart`` as there) and print what this notebook will
    cost on this machine and how to run ``cpu`` instead (returns the measurements); in other profiles, nothing
    (returns None)."""
    if cfg.profile != "full":
        return None
    started = time.perf_counter()
    measured = estimate(cfg, steps, budget, apart)
    total, took = sum(m.seconds for m in measured), time.perf_counter() - started
    print(
        f"Profile full: about {_duration(total)} of training and model passes on this machine, from "
        f"{sum(m.timed for m in measured)} timed steps of its {len(measured)} stages, measured in {_duration(took)} "
        "(data loading, the analyses and validation passes come on top):"
    )
    print(table(measured))
    print(
        f'To run the minutes-long cpu profile instead: set profile = "cpu" in the parameters cell (papermill -p '
        f"profile cpu), or LATENTLAB_PROFILE=cpu, or `latentlab run {cfg.notebook} --profile cpu`."
    )
    return measured
