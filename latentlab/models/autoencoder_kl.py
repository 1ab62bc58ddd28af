"""Stable Diffusion's VAE (``AutoencoderKL``, the ``kl-f8`` family) as a Keras 3 model, in ``keras.ops``.

Images are NHWC float32 in [-1, 1]; latents are NHWC and *unscaled* (multiply by ``scaling_factor``
for a diffusion model). With SD 1.x defaults a (n, 256, 256, 3) batch encodes to (n, 32, 32, 4).

Weights load, with every key and shape checked, from

* a diffusers folder: ``config.json`` + ``diffusion_pytorch_model.safetensors`` (or ``vae/`` inside a
  pipeline folder);
* a single-file LDM checkpoint (``kl-f8-anime2.safetensors``; keys ``encoder.down.0.block.0...``,
  optionally under ``first_stage_model.``); ``.ckpt``/``.pt``/``.bin`` only with torch installed,
  read with ``torch.load(weights_only=True)``;
* a hub name such as ``bullhug/kl-f8-anime2``: a local copy in ``<data>/models/`` first, then
  ``huggingface_hub`` when online and ``LATENTLAB_OFFLINE`` is unset.

``AutoencoderKLConfig.small()`` is a trainable model of the same class for machines without the
real weights.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

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

    def __post_init__(self):
        object.__setattr__(self, "block_out_channels", tuple(int(c) for c in self.block_out_channels))
        if not self.block_out_channels or self.layers_per_block < 1 or self.latent_channels < 1:
            raise ParameterError(f"{self}: needs at least one block, one layer per block and one latent channel.")
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
    def from_dict(cls, d: dict, where: str = "config") -> AutoencoderKLConfig:
        """From a diffusers ``config.json`` dict; unknown keys are ignored, unsupported blocks refused."""
        for key, want in (("down_block_types", "DownEncoderBlock2D"), ("up_block_types", "UpDecoderBlock2D")):
            if any(t != want for t in d.get(key, [])):
                raise DataFormatError(f"{where}: {key}={d[key]} - only {want} blocks (the SD VAE) are supported.")
        if d.get("act_fn", "silu") != "silu":
            raise DataFormatError(f"{where}: act_fn={d['act_fn']!r} - only 'silu' (the SD VAE) is supported.")
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: d[k] for k in fields if k in d and d[k] is not None}
        if "block_out_channels" in kwargs:
            kwargs["block_out_channels"] = tuple(kwargs["block_out_channels"])
        return cls(**kwargs)

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

    def __init__(self, cfg: AutoencoderKLConfig, in_ch: int, out_ch: int, **kwargs):
        super().__init__(**kwargs)
        self.in_ch, self.out_ch = in_ch, out_ch
        self.norm1, self.conv1 = _group_norm(cfg, "norm1"), _conv(out_ch, 3, "conv1")
        self.norm2, self.conv2 = _group_norm(cfg, "norm2"), _conv(out_ch, 3, "conv2")
        self.conv_shortcut = _conv(out_ch, 1, "conv_shortcut") if in_ch != out_ch else None

    def build(self, input_shape):
        mid = (*input_shape[:-1], self.out_ch)
        self.norm1.build(input_shape), self.conv1.build(input_shape)
        self.norm2.build(mid), self.conv2.build(mid)
        if self.conv_shortcut is not None:
            self.conv_shortcut.build(input_shape)

    def call(self, x):
        h = self.conv1(ops.silu(self.norm1(x)))
        h = self.conv2(ops.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h

    def torch_layers(self, prefix: str) -> dict:
        out = {f"{prefix}.{n}": getattr(self, n) for n in ("norm1", "conv1", "norm2", "conv2")}
        if self.conv_shortcut is not None:
            out[f"{prefix}.conv_shortcut"] = self.conv_shortcut
        return out


class AttentionBlock(layers.Layer):
    """Single-head self-attention over all positions, with GroupNorm before and the input added after."""

    def __init__(self, cfg: AutoencoderKLConfig, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.group_norm = _group_norm(cfg, "group_norm")
        self.to_q, self.to_k, self.to_v = (layers.Dense(channels, name=n) for n in ("to_q", "to_k", "to_v"))
        self.to_out = layers.Dense(channels, name="to_out")

    def build(self, input_shape):
        self.group_norm.build(input_shape)
        for dense in (self.to_q, self.to_k, self.to_v, self.to_out):
            dense.build((None, None, self.channels))

    def call(self, x):
        shape = ops.shape(x)
        h = ops.reshape(self.group_norm(x), (shape[0], -1, self.channels))
        q, k, v = self.to_q(h), self.to_k(h), self.to_v(h)
        scores = ops.matmul(q, ops.transpose(k, (0, 2, 1))) * (1.0 / math.sqrt(self.channels))
        h = self.to_out(ops.matmul(ops.softmax(scores, axis=-1), v))
        return x + ops.reshape(h, shape)

    def torch_layers(self, prefix: str) -> dict:
        return {
            f"{prefix}.group_norm": self.group_norm,
            f"{prefix}.to_q": self.to_q,
            f"{prefix}.to_k": self.to_k,
            f"{prefix}.to_v": self.to_v,
            f"{prefix}.to_out.0": self.to_out,
        }


def _mid_block(cfg, h, prefix: str, registry: dict):
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

    def call(self, h):
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = AutoencoderKLConfig.from_dict(config)
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
        return self.config.scaling_factor

    def get_config(self):
        return {
            **super().get_config(),
            "config": self.config.to_dict(),
            "kl_weight": float(ops.convert_to_numpy(self.kl_weight)),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(AutoencoderKLConfig.from_dict(config.pop("config")), **config)

    def call(self, x, training=False):
        mean, logvar = self.encoder(x, training=training)
        z = mean
        if training:
            z = mean + ops.exp(0.5 * logvar) * keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return self.decoder(z, training=training), mean, logvar

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        x_hat, mean, logvar = y_pred
        recon = ops.mean(ops.square(x_hat - y))
        kl = ops.mean(ops.sum(0.5 * (ops.square(mean) + ops.exp(logvar) - 1.0 - logvar), axis=(1, 2, 3)))
        self.recon_tracker.update_state(recon)
        self.kl_tracker.update_state(kl)
        return recon + self.kl_weight * kl

    @property
    def metrics(self):
        return [*super().metrics, self.recon_tracker, self.kl_tracker]

    def encode(self, x, batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Images (n, H, W, 3) float32 in [-1, 1] -> ``(mean, logvar)``, each (n, H/8, W/8, 4) numpy."""
        x = _images(x, self.config.in_channels)
        return map_batches(lambda b: tuple(self.encoder(b, training=False)), x, batch_size=batch_size)

    def decode(self, z, batch_size: int = 8) -> np.ndarray:
        """Unscaled latents (n, h, w, 4) -> images (n, 8h, 8w, 3) float32 (unclipped, nominally [-1, 1])."""
        z = np.asarray(z, np.float32)
        if z.ndim != 4 or z.shape[-1] != self.config.latent_channels:
            raise ParameterError(
                f"Latents have shape {z.shape}; expected (n, h, w, {self.config.latent_channels}) NHWC."
            )
        return map_batches(lambda b: self.decoder(b, training=False), z, batch_size=batch_size)

    def reconstruct(self, x, batch_size: int = 8, sample: bool = False, seed: int = 0) -> np.ndarray:
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
        :class:`DataFormatError` naming missing, unexpected and mis-shaped keys, or the config fields
        that differ when the weights were made for another architecture."""
        state = {k: v for k, v in state.items() if not k.startswith(IGNORED_PREFIXES)}
        expected = self.expected_shapes()
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        shaped = sorted(k for k in set(expected) & set(state) if tuple(np.shape(state[k])) != expected[k])
        if missing or extra or shaped:
            parts = []
            try:
                inferred = infer_config(state, self.config)
            except ParameterError:
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
        for name, layer in self.torch_layers.items():
            weights_io.assign(
                layer, {k: np.asarray(state[f"{name}.{k}"], np.float32) for k in weights_io.torch_shapes(layer)}
            )

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights under diffusers names in PyTorch layouts (inverse of :meth:`load_state_dict`)."""
        out = {}
        for name, layer in self.torch_layers.items():
            for key, value in weights_io.export(layer).items():
                out[f"{name}.{key}"] = value
        return out

    @classmethod
    def from_pretrained(
        cls, path_or_name: str | Path, config: AutoencoderKLConfig | None = None, **kwargs
    ) -> AutoencoderKL:
        """Load weights from a diffusers folder, a single-file checkpoint, or a hub name (see module
        doc). ``config`` overrides the folder's ``config.json``; a single file without one gets the
        architecture read off its weights (``norm_num_groups`` and ``scaling_factor`` from ``config``
        or SD's defaults). The source is in ``model.source``."""
        path = weights_io.resolve(path_or_name)
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
                except ParameterError as err:
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


def _images(x, channels: int) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.ndim != 4 or x.shape[-1] != channels:
        raise ParameterError(f"Images have shape {x.shape}; expected (n, H, W, {channels}) NHWC in [-1, 1].")
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
