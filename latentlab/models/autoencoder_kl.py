"""Stable Diffusion's VAE (``AutoencoderKL``, the ``kl-f8`` family) as a Keras 3 model, in ``keras.ops``.

Images are NHWC float32 in [-1, 1]; latents are NHWC and *unscaled* (multiply by ``scaling_factor``
for a diffusion model). With SD 1.x defaults a (n, 256, 256, 3) batch encodes to (n, 32, 32, 4).

Weights load, with every key and shape checked, from

* a diffusers folder: ``config.json`` + ``diffusion_pytorch_model.safetensors`` (or ``vae/`` inside a
  pipeline folder);
* a single-file LDM checkpoint (``kl-f8-anime2.safetensors``; keys ``encoder.down.0.block.0...``,
  optionally under ``first_stage_model.``); ``.ckpt``/``.pt``/``.bin`` only with ``torch>=2.6`` installed,
  read with ``torch.load(weights_only=True)``, and only from a path given explicitly;
* a hub name such as ``bullhug/kl-f8-anime2``: a local copy in ``<data>/models/`` first, then
  ``huggingface_hub`` at the pinned ``revision`` when online and ``LATENTLAB_OFFLINE`` is unset.

``AutoencoderKLConfig.small()`` is a trainable model of the same class for machines without the
real weights.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from latentlab.batching import map_batches
from latentlab.errors import DataFormatError, DataNotFoundError, ParameterError
from latentlab.models import autoencoder_kl_weights as weights_io
from latentlab.models.autoencoder_kl_weights import DIFFUSERS_WEIGHTS, DIFFUSERS_WEIGHTS_BIN, IGNORED_PREFIXES


@dataclasses.dataclass(frozen=True)
class AutoencoderKLConfig:
    """The architecture: diffusers' ``AutoencoderKL`` config fields (SD 1.x defaults).

    ``block_out_channels[i]`` is the width of encoder block i; every block but the last halves the
    resolution, so the latent is ``2 ** (len(block_out_channels) - 1)`` times smaller than the image.
    """

    in_channels: int = 3
    out_channels: int = 3
    block_out_channels: tuple[int, ...] = (128, 256, 512, 512)
    layers_per_block: int = 2
    latent_channels: int = 4
    norm_num_groups: int = 32
    mid_block_add_attention: bool = True
    use_quant_conv: bool = True
    use_post_quant_conv: bool = True
    scaling_factor: float = 0.18215
    sample_size: int = 512

    def __post_init__(self) -> None:
        whole = ("in_channels", "out_channels", "layers_per_block", "latent_channels", "norm_num_groups", "sample_size")
        for name in whole:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name}={value!r}: give a whole number >= 1.")
            object.__setattr__(self, name, int(value))
        widths = self.block_out_channels
        if (
            isinstance(widths, (str, bytes))
            or not isinstance(widths, (tuple, list))
            or not widths
            or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1 for c in widths)
        ):
            raise ParameterError(
                f"block_out_channels={widths!r}: give a non-empty list of whole numbers >= 1, "
                "e.g. (128, 256, 512, 512)."
            )
        object.__setattr__(self, "block_out_channels", tuple(int(c) for c in widths))
        for name in ("mid_block_add_attention", "use_quant_conv", "use_post_quant_conv"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ParameterError(f"{name}={getattr(self, name)!r}: give True or False.")
            object.__setattr__(self, name, bool(getattr(self, name)))
        factor = self.scaling_factor
        if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)):
            raise ParameterError(f"scaling_factor={factor!r}: give a finite number > 0, e.g. 0.18215.")
        if not np.isfinite(factor) or factor <= 0:
            raise ParameterError(f"scaling_factor={factor!r}: give a finite number > 0, e.g. 0.18215.")
        object.__setattr__(self, "scaling_factor", float(factor))
        bad = [c for c in self.block_out_channels if c % self.norm_num_groups]
        if bad:
            raise ParameterError(
                f"norm_num_groups={self.norm_num_groups} does not divide the block widths {bad}: GroupNorm "
                "needs every width to be a multiple of the group count."
            )

    @property
    def downsampling(self) -> int:
        """Image side / latent side (8 for SD's four blocks)."""
        return 2 ** (len(self.block_out_channels) - 1)

    @classmethod
    def small(cls) -> AutoencoderKLConfig:
        """A trainable model of the same architecture for a CPU: same 8x downsampling and 4 latent
        channels (256x256 -> 4x32x32), narrow blocks, one resnet per encoder block, mid attention."""
        return cls(block_out_channels=(16, 32, 64, 64), layers_per_block=1, norm_num_groups=8, sample_size=256)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "config") -> AutoencoderKLConfig:
        """From a diffusers ``config.json`` dict; unknown keys are ignored, unsupported blocks refused, and a
        field of the wrong type or value is a :class:`DataFormatError` naming ``where``."""
        if not isinstance(d, Mapping):
            raise DataFormatError(f"{where}: a config is a dict of fields, got a {type(d).__name__}.")
        for key, want in (("down_block_types", "DownEncoderBlock2D"), ("up_block_types", "UpDecoderBlock2D")):
            types = d.get(key, [])
            if not isinstance(types, (list, tuple)) or any(t != want for t in types):
                raise DataFormatError(f"{where}: {key}={types!r} - only {want} blocks (the SD VAE) are supported.")
        if d.get("act_fn", "silu") != "silu":
            raise DataFormatError(f"{where}: act_fn={d['act_fn']!r} - only 'silu' (the SD VAE) is supported.")
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: d[k] for k in fields if k in d and d[k] is not None}
        try:
            return cls(**kwargs)
        except ParameterError as err:
            raise DataFormatError(f"{where}: {err} Use the config.json that came with the weights.") from None

    def to_dict(self) -> dict:
        """A diffusers-style ``config.json`` dict."""
        d = dataclasses.asdict(self)
        d["block_out_channels"] = list(self.block_out_channels)
        n = len(self.block_out_channels)
        d.update(
            _class_name="AutoencoderKL",
            act_fn="silu",
            down_block_types=["DownEncoderBlock2D"] * n,
            up_block_types=["UpDecoderBlock2D"] * n,
        )
        return d


# --------------------------------------------------------------------------------------------- layers


def _group_norm(cfg: AutoencoderKLConfig, name: str) -> layers.GroupNormalization:
    return layers.GroupNormalization(cfg.norm_num_groups, axis=-1, epsilon=1e-6, name=name)


def _conv(filters: int, kernel: int, name: str, stride: int = 1, padding: str = "same") -> layers.Conv2D:
    return layers.Conv2D(filters, kernel, strides=stride, padding=padding, name=name)


class ResnetBlock(layers.Layer):
    """GroupNorm-SiLU-conv3x3 twice, plus the input (through a 1x1 conv when widths differ)."""

    def __init__(self, cfg: AutoencoderKLConfig, in_ch: int, out_ch: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_ch, self.out_ch = in_ch, out_ch
        self.norm1, self.conv1 = _group_norm(cfg, "norm1"), _conv(out_ch, 3, "conv1")
        self.norm2, self.conv2 = _group_norm(cfg, "norm2"), _conv(out_ch, 3, "conv2")
        self.conv_shortcut = _conv(out_ch, 1, "conv_shortcut") if in_ch != out_ch else None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        mid = (*input_shape[:-1], self.out_ch)
        self.norm1.build(input_shape), self.conv1.build(input_shape)
        self.norm2.build(mid), self.conv2.build(mid)
        if self.conv_shortcut is not None:
            self.conv_shortcut.build(input_shape)

    def call(self, x: Any) -> Any:
        h = self.conv1(ops.silu(self.norm1(x)))
        h = self.conv2(ops.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h

    def torch_layers(self, prefix: str) -> dict:
        """The block's layers under their diffusers names, below ``prefix``."""
        out = {f"{prefix}.{n}": getattr(self, n) for n in ("norm1", "conv1", "norm2", "conv2")}
        if self.conv_shortcut is not None:
            out[f"{prefix}.conv_shortcut"] = self.conv_shortcut
        return out


class AttentionBlock(layers.Layer):
    """Single-head self-attention over all positions, with GroupNorm before and the input added after."""

    def __init__(self, cfg: AutoencoderKLConfig, channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels = channels
        self.group_norm = _group_norm(cfg, "group_norm")
        self.to_q, self.to_k, self.to_v = (layers.Dense(channels, name=n) for n in ("to_q", "to_k", "to_v"))
        self.to_out = layers.Dense(channels, name="to_out")

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.group_norm.build(input_shape)
        for dense in (self.to_q, self.to_k, self.to_v, self.to_out):
            dense.build((None, None, self.channels))

    def call(self, x: Any) -> Any:
        shape = ops.shape(x)
        h = ops.reshape(self.group_norm(x), (shape[0], -1, self.channels))
        q, k, v = self.to_q(h), self.to_k(h), self.to_v(h)
        scores = ops.matmul(q, ops.transpose(k, (0, 2, 1))) * (1.0 / math.sqrt(self.channels))
        h = self.to_out(ops.matmul(ops.softmax(scores, axis=-1), v))
        return x + ops.reshape(h, shape)

    def torch_layers(self, prefix: str) -> dict:
        """The block's layers under their diffusers names, below ``prefix``."""
        return {
            f"{prefix}.group_norm": self.group_norm,
            f"{prefix}.to_q": self.to_q,
            f"{prefix}.to_k": self.to_k,
            f"{prefix}.to_v": self.to_v,
            f"{prefix}.to_out.0": self.to_out,
        }


def _mid_block(cfg: AutoencoderKLConfig, h: Any, prefix: str, registry: dict) -> Any:
    ch = cfg.block_out_channels[-1]
    blocks = [ResnetBlock(cfg, ch, ch, name=f"{prefix}_resnet0")]
    names = [f"{prefix}.mid_block.resnets.0"]
    if cfg.mid_block_add_attention:
        blocks.append(AttentionBlock(cfg, ch, name=f"{prefix}_attention"))
        names.append(f"{prefix}.mid_block.attentions.0")
    blocks.append(ResnetBlock(cfg, ch, ch, name=f"{prefix}_resnet1"))
    names.append(f"{prefix}.mid_block.resnets.1")
    for block, name in zip(blocks, names):
        h = block(h)
        registry.update(block.torch_layers(name))
    return h


def build_encoder(cfg: AutoencoderKLConfig, registry: dict) -> keras.Model:
    """Images (n, H, W, 3) -> (mean, logvar), each (n, H/f, W/f, latent_channels); fills ``registry``
    with diffusers module names -> Keras layers."""
    x = keras.Input((None, None, cfg.in_channels), name="image")
    conv_in = _conv(cfg.block_out_channels[0], 3, "encoder_conv_in")
    h = conv_in(x)
    registry["encoder.conv_in"] = conv_in
    ch = cfg.block_out_channels[0]
    for i, out_ch in enumerate(cfg.block_out_channels):
        for j in range(cfg.layers_per_block):
            block = ResnetBlock(cfg, ch, out_ch, name=f"encoder_down{i}_resnet{j}")
            h, ch = block(h), out_ch
            registry.update(block.torch_layers(f"encoder.down_blocks.{i}.resnets.{j}"))
        if i < len(cfg.block_out_channels) - 1:
            down = _conv(ch, 3, f"encoder_down{i}_downsample", stride=2, padding="valid")
            h = down(layers.ZeroPadding2D(((0, 1), (0, 1)))(h))
            registry[f"encoder.down_blocks.{i}.downsamplers.0.conv"] = down
    h = _mid_block(cfg, h, "encoder", registry)
    norm, conv_out = _group_norm(cfg, "encoder_conv_norm_out"), _conv(2 * cfg.latent_channels, 3, "encoder_conv_out")
    h = conv_out(layers.Activation("silu")(norm(h)))
    registry.update({"encoder.conv_norm_out": norm, "encoder.conv_out": conv_out})
    if cfg.use_quant_conv:
        quant = _conv(2 * cfg.latent_channels, 1, "quant_conv")
        h = quant(h)
        registry["quant_conv"] = quant
    mean, logvar = _Moments(name="moments")(h)
    return keras.Model(x, [mean, logvar], name="encoder")


class _Moments(layers.Layer):
    """Split the encoder output into mean and log-variance (clipped to [-30, 20] as diffusers does)."""

    def call(self, h: Any) -> tuple[Any, Any]:
        mean, logvar = ops.split(h, 2, axis=-1)
        return mean, ops.clip(logvar, -30.0, 20.0)


def build_decoder(cfg: AutoencoderKLConfig, registry: dict) -> keras.Model:
    """Latents (n, h, w, latent_channels) -> images (n, f*h, f*w, 3), unclipped."""
    z = keras.Input((None, None, cfg.latent_channels), name="latent")
    h = z
    if cfg.use_post_quant_conv:
        post = _conv(cfg.latent_channels, 1, "post_quant_conv")
        h = post(h)
        registry["post_quant_conv"] = post
    ch = cfg.block_out_channels[-1]
    conv_in = _conv(ch, 3, "decoder_conv_in")
    h = conv_in(h)
    registry["decoder.conv_in"] = conv_in
    h = _mid_block(cfg, h, "decoder", registry)
    widths = list(reversed(cfg.block_out_channels))
    for i, out_ch in enumerate(widths):
        for j in range(cfg.layers_per_block + 1):
            block = ResnetBlock(cfg, ch, out_ch, name=f"decoder_up{i}_resnet{j}")
            h, ch = block(h), out_ch
            registry.update(block.torch_layers(f"decoder.up_blocks.{i}.resnets.{j}"))
        if i < len(widths) - 1:
            up = _conv(ch, 3, f"decoder_up{i}_upsample")
            h = up(layers.UpSampling2D(2, interpolation="nearest")(h))
            registry[f"decoder.up_blocks.{i}.upsamplers.0.conv"] = up
    norm, conv_out = _group_norm(cfg, "decoder_conv_norm_out"), _conv(cfg.out_channels, 3, "decoder_conv_out")
    out = conv_out(layers.Activation("silu")(norm(h)))
    registry.update({"decoder.conv_norm_out": norm, "decoder.conv_out": conv_out})
    return keras.Model(z, out, name="decoder")


# ---------------------------------------------------------------------------------------------- model


@keras.saving.register_keras_serializable(package="latentlab")
class AutoencoderKL(keras.Model):
    """SD's KL autoencoder. ``encode`` / ``decode`` work on numpy batches (eagerly, ``batch_size`` at a
    time: no tracing, and as fast as a graph for these conv-heavy layers); calling the model on
    images returns ``(reconstruction, mean, logvar)`` (z sampled when training, the mean otherwise).

    Training minimises ``mean((x_hat - x)^2) + kl_weight * KL`` where KL is summed over the latent
    elements of an image and averaged over the batch (the loss of the paper's fine-tuning is
    ``kl_weight=1``). ``kl_weight`` is a variable: ``model.kl_weight.assign(1.0)`` changes the loss
    of a compiled model without tracing its training step again. Compile without XLA on a CPU
    (Keras' default ``jit_compile="auto"`` does that): XLA makes this conv net's steps ~3x slower there.
    """

    def __init__(
        self,
        config: AutoencoderKLConfig | dict | None = None,
        kl_weight: float = 1e-6,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(config, Mapping):
            config = AutoencoderKLConfig.from_dict(config)
        if config is not None and not isinstance(config, AutoencoderKLConfig):
            raise ParameterError(f"config={config!r}: give an AutoencoderKLConfig, a dict of its fields, or None.")
        if isinstance(kl_weight, bool) or not isinstance(kl_weight, (int, float, np.integer, np.floating)):
            raise ParameterError(f"kl_weight={kl_weight!r}: give a finite number >= 0 (1e-6 for SD's VAE).")
        if not np.isfinite(kl_weight) or kl_weight < 0:
            raise ParameterError(f"kl_weight={kl_weight!r}: give a finite number >= 0 (1e-6 for SD's VAE).")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ParameterError(f"seed={seed!r}: give a whole number or None.")
        self.config = config or AutoencoderKLConfig()
        self.seed = seed
        self.torch_layers: dict[str, layers.Layer] = {}
        self.encoder = build_encoder(self.config, self.torch_layers)
        self.decoder = build_decoder(self.config, self.torch_layers)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.recon_tracker = keras.metrics.Mean(name="mse")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.source = "random initialisation"
        self.kl_weight = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(kl_weight), trainable=False, name="kl_weight"
        )
        self.built = True  # the encoder and decoder are built models already

    @property
    def scaling_factor(self) -> float:
        """The factor that scales latents for a diffusion model (SD 1.x: 0.18215)."""
        return self.config.scaling_factor

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "config": self.config.to_dict(),
            "kl_weight": float(ops.convert_to_numpy(self.kl_weight)),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict) -> AutoencoderKL:
        config = dict(config)
        return cls(AutoencoderKLConfig.from_dict(config.pop("config")), **config)

    def call(self, x: Any, training: bool = False) -> tuple[Any, Any, Any]:
        mean, logvar = self.encoder(x, training=training)
        z = mean
        if training:
            z = mean + ops.exp(0.5 * logvar) * keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return self.decoder(z, training=training), mean, logvar

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Any:
        x_hat, mean, logvar = y_pred
        recon = ops.mean(ops.square(x_hat - y))
        kl = ops.mean(ops.sum(0.5 * (ops.square(mean) + ops.exp(logvar) - 1.0 - logvar), axis=(1, 2, 3)))
        self.recon_tracker.update_state(recon)
        self.kl_tracker.update_state(kl)
        return recon + self.kl_weight * kl

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [*super().metrics, self.recon_tracker, self.kl_tracker]

    def encode(self, x: Any, batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Images (n, H, W, 3) float32 in [-1, 1] -> ``(mean, logvar)``, each (n, H/8, W/8, 4) numpy."""
        x = _images(x, self.config.in_channels, self.config.downsampling)
        return map_batches(lambda b: tuple(self.encoder(b, training=False)), x, batch_size=batch_size)

    def decode(self, z: Any, batch_size: int = 8) -> np.ndarray:
        """Unscaled latents (n, h, w, 4) -> images (n, 8h, 8w, 3) float32 (unclipped, nominally [-1, 1])."""
        z = _array(z, "latents")
        if z.ndim != 4 or z.shape[-1] != self.config.latent_channels or 0 in z.shape:
            raise ParameterError(
                f"Latents have shape {z.shape}; expected (n, h, w, {self.config.latent_channels}) NHWC."
            )
        if not np.isfinite(z).all():
            raise ParameterError("Latents contain NaN or infinite values; check the encoder's output.")
        return map_batches(lambda b: self.decoder(b, training=False), z, batch_size=batch_size)

    def reconstruct(self, x: Any, batch_size: int = 8, sample: bool = False, seed: int = 0) -> np.ndarray:
        """decode(encode(x)): through the posterior mean, or one posterior sample (``sample=True``,
        as the paper's evaluation did) drawn with ``seed``."""
        mean, logvar = self.encode(x, batch_size)
        if sample:
            mean = mean + np.exp(0.5 * logvar) * np.random.default_rng(seed).standard_normal(mean.shape, np.float32)
        return self.decode(mean, batch_size)

    # ------------------------------------------------------------------------------------ weights

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every diffusers weight name with its PyTorch shape (conv: out, in, kh, kw; linear: out, in)."""
        out = {}
        for name, layer in self.torch_layers.items():
            for key, shape in weights_io.torch_shapes(layer).items():
                out[f"{name}.{key}"] = shape
        return out

    def load_state_dict(self, state: dict[str, np.ndarray], where: str = "the checkpoint") -> None:
        """Set every weight from a diffusers-named state dict (PyTorch layouts). Raises
        :class:`DataFormatError` naming missing, unexpected and mis-shaped keys, the config fields that
        differ when the weights were made for another architecture, or weights that are NaN or infinite."""
        if not isinstance(state, Mapping):
            raise ParameterError(f"state is a {type(state).__name__}; give a dict of weight name -> array.")
        state = {str(k): v for k, v in state.items() if not str(k).startswith(IGNORED_PREFIXES)}
        expected = self.expected_shapes()
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        shaped = sorted(k for k in set(expected) & set(state) if tuple(np.shape(state[k])) != expected[k])
        if missing or extra or shaped:
            parts = []
            try:
                inferred = infer_config(state, self.config)
            except (ParameterError, DataFormatError):
                inferred = None
            differ = _config_differences(self.config, inferred) if inferred else {}
            if differ:
                parts.append(
                    "the config does not match the weights ("
                    + "; ".join(f"{k}: config {a}, weights {b}" for k, (a, b) in differ.items())
                    + ") - use the config.json that came with these weights, or pass "
                    "AutoencoderKLConfig(...) with the weights' values"
                )
            if missing:
                parts.append(f"{len(missing)} missing keys: {weights_io.some(missing)}")
            if extra:
                parts.append(f"{len(extra)} unexpected keys: {weights_io.some(extra)}")
            if shaped:
                parts.append(
                    f"{len(shaped)} keys of the wrong shape: "
                    + weights_io.some([f"{k} {tuple(np.shape(state[k]))} (expected {expected[k]})" for k in shaped])
                )
            raise DataFormatError(
                f"{where} does not fit AutoencoderKL{self.config.block_out_channels}: "
                + "; ".join(parts)
                + ". Check that the file is complete and made for this architecture."
            )
        try:
            arrays = {k: np.asarray(state[k], np.float32) for k in expected}
        except (TypeError, ValueError) as err:
            raise DataFormatError(f"{where} holds weights that are not numbers ({err}).") from err
        broken = sorted(k for k, v in arrays.items() if not np.isfinite(v).all())
        if broken:
            raise DataFormatError(
                f"{where} holds NaN or infinite weights in {len(broken)} tensors ({weights_io.some(broken)}): the "
                "checkpoint is corrupt or from a diverged training run. Download it again or use another one."
            )
        for name, layer in self.torch_layers.items():
            weights_io.assign(layer, {k: arrays[f"{name}.{k}"] for k in weights_io.torch_shapes(layer)})

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights under diffusers names in PyTorch layouts (inverse of :meth:`load_state_dict`)."""
        out = {}
        for name, layer in self.torch_layers.items():
            for key, value in weights_io.export(layer).items():
                out[f"{name}.{key}"] = value
        return out

    @classmethod
    def from_pretrained(
        cls,
        path_or_name: str | Path,
        config: AutoencoderKLConfig | None = None,
        revision: str | None = None,
        **kwargs: Any,
    ) -> AutoencoderKL:
        """Load weights from a diffusers folder, a single-file checkpoint, or a hub name (see module
        doc). ``config`` overrides the folder's ``config.json``; a single file without one gets the
        architecture read off its weights (``norm_num_groups`` and ``scaling_factor`` from ``config``
        or SD's defaults). ``revision`` pins the hub download (a commit hash, branch or tag; the
        profiles pin ``pretrained_revision``). The source is in ``model.source``."""
        if config is not None and not isinstance(config, AutoencoderKLConfig):
            raise ParameterError(f"config={config!r}: give an AutoencoderKLConfig or None.")
        path = weights_io.resolve(path_or_name, revision=revision)
        if path.is_dir():
            folder = (
                path / "vae"
                if not (path / "config.json").is_file() and (path / "vae" / "config.json").is_file()
                else path
            )
            cfg_path = folder / "config.json"
            if config is None:
                if not cfg_path.is_file():
                    raise DataNotFoundError(
                        f"{folder} has no config.json: a diffusers AutoencoderKL folder holds "
                        f"config.json and {DIFFUSERS_WEIGHTS}."
                    )
                config = AutoencoderKLConfig.from_dict(weights_io.read_json(cfg_path), str(cfg_path))
            weights = folder / DIFFUSERS_WEIGHTS
            if not weights.is_file() and (folder / DIFFUSERS_WEIGHTS_BIN).is_file():
                weights = folder / DIFFUSERS_WEIGHTS_BIN
            if not weights.is_file():
                raise DataNotFoundError(
                    f"{folder} has no {DIFFUSERS_WEIGHTS}: put the weights file beside config.json."
                )
            state = weights_io.to_diffusers_keys(weights_io.read_state_dict(weights))
        else:
            state = weights_io.to_diffusers_keys(weights_io.read_state_dict(path))
            if config is None:
                try:
                    config = infer_config(state)
                except (ParameterError, DataFormatError) as err:
                    raise DataFormatError(
                        f"{path}: {err} Pass config=AutoencoderKLConfig(norm_num_groups=...) "
                        "with the model's group count."
                    ) from None
                if config is None:
                    raise DataFormatError(f"{path} holds no AutoencoderKL weights (no encoder.conv_in.weight).")
            weights = path
        model = cls(config, **kwargs)
        model.load_state_dict(state, where=str(weights))
        model.source = str(weights)
        return model


def _array(x: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(x, np.float32)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"{what} are not an array of numbers ({err}).") from None


def _images(x: Any, channels: int, factor: int = 1) -> np.ndarray:
    """Images (n, H, W, channels) finite and in [-1, 1] (uint8 and [0, 1]-only floats are refused by range)."""
    raw = np.asarray(x)
    if raw.dtype == np.uint8:
        raise ParameterError(
            "Images are uint8 (0-255); the VAE takes float32 in [-1, 1]: use atd12k.to_model_range(frames) "
            "or x / 127.5 - 1."
        )
    x = _array(x, "Images")
    if x.ndim != 4 or x.shape[-1] != channels or 0 in x.shape:
        raise ParameterError(f"Images have shape {x.shape}; expected (n, H, W, {channels}) NHWC in [-1, 1].")
    if not np.isfinite(x).all():
        raise ParameterError("Images contain NaN or infinite values; give float32 images in [-1, 1].")
    if x.min() < -1.001 or x.max() > 1.001:
        raise ParameterError(
            f"Images lie in [{x.min():.4g}, {x.max():.4g}], not [-1, 1]: map 0-255 images with x / 127.5 - 1 "
            "(atd12k.to_model_range) and [0, 1] images with 2 x - 1."
        )
    if x.shape[1] % factor or x.shape[2] % factor:
        raise ParameterError(
            f"Images of {x.shape[1]}x{x.shape[2]} pixels: height and width must be multiples of {factor} "
            "(the VAE's downsampling); crop or resize them (e.g. to 256x256)."
        )
    return x


def infer_config(state: dict[str, np.ndarray], base: AutoencoderKLConfig | None = None) -> AutoencoderKLConfig | None:
    """The architecture a diffusers-named state dict was made for (None if it is not an AutoencoderKL);
    GroupNorm's group count and the scaling factor come from ``base`` (SD defaults)."""
    fields = weights_io.infer_architecture(state)
    return None if fields is None else dataclasses.replace(base or AutoencoderKLConfig(), **fields)


def _config_differences(cfg: AutoencoderKLConfig, inferred: AutoencoderKLConfig) -> dict:
    fields = (
        "in_channels",
        "out_channels",
        "block_out_channels",
        "layers_per_block",
        "latent_channels",
        "mid_block_add_attention",
        "use_quant_conv",
        "use_post_quant_conv",
    )
    return {f: (getattr(cfg, f), getattr(inferred, f)) for f in fields if getattr(cfg, f) != getattr(inferred, f)}
