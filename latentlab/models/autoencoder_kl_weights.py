"""Weight files of Stable Diffusion's VAE: reading them, naming their tensors, and PyTorch layouts.

* :func:`read_state_dict`: every tensor of a ``.safetensors`` file (or, with torch, a ``.ckpt``/``.pt``/``.bin``
  read with ``weights_only=True``) as numpy arrays;
* :func:`to_diffusers_keys`: LDM single-file names (``encoder.down.0.block.0``, optionally under
  ``first_stage_model.``) and old diffusers attention names to current diffusers names;
* :func:`infer_architecture`: the architecture a diffusers-named state dict was made for;
* :func:`torch_shapes`, :func:`assign`, :func:`export`: a Keras layer's weights in PyTorch layouts;
* :func:`resolve`: a path, or a hub name looked for in ``<data>/models/`` and then downloaded when allowed.

PyTorch pickles (``.ckpt``, ``.pt``, ``.bin``) are read only with ``torch>=2.6``, whose
``weights_only=True`` cannot be bypassed as in older versions, and only from a path the user gave or a
hub download latentlab made itself (at the pinned ``revision``): a hub name never falls back to a pickle
found lying in ``<data>/models/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from keras import layers

from latentlab import config as ll_config
from latentlab.errors import DataFormatError, DataNotFoundError, ParameterError
from latentlab.io import write_json

DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"
DIFFUSERS_WEIGHTS_BIN = "diffusion_pytorch_model.bin"
TORCH_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
LDM_PREFIXES = ("first_stage_model.", "vae.")
#: Keys of LDM training checkpoints that are not part of the autoencoder (LPIPS and discriminator).
IGNORED_PREFIXES = ("loss.", "model_ema.")
KNOWN_MODELS = {"bullhug/kl-f8-anime2": "kl-f8-anime2"}
#: The oldest torch whose ``torch.load(weights_only=True)`` is not known to be bypassable (CVE-2025-32434).
MIN_TORCH = (2, 6)
#: Written into a folder that :func:`resolve` downloaded: which repository and revision it holds.
DOWNLOAD_MARKER = ".latentlab-download.json"
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


def some(keys: list[str], n: int = 8) -> str:
    """The first ``n`` of ``keys`` for a message, with how many more there are."""
    return ", ".join(keys[:n]) + (f", ... ({len(keys) - n} more)" if len(keys) > n else "")


def torch_shapes(layer: layers.Layer) -> dict[str, tuple[int, ...]]:
    """The PyTorch names and shapes of a Conv2D, Dense or normalisation layer's weights."""
    if isinstance(layer, layers.Conv2D):
        kh, kw, cin, cout = layer.kernel.shape
        return {"weight": (cout, cin, kh, kw), "bias": (cout,)}
    if isinstance(layer, layers.Dense):
        cin, cout = layer.kernel.shape
        return {"weight": (cout, cin), "bias": (cout,)}
    return {"weight": tuple(layer.gamma.shape), "bias": tuple(layer.beta.shape)}


def assign(layer: layers.Layer, w: dict[str, np.ndarray]) -> None:
    """Set ``layer``'s weights from PyTorch-layout arrays (conv: out, in, kh, kw; linear: out, in)."""
    if isinstance(layer, layers.Conv2D):
        layer.kernel.assign(w["weight"].transpose(2, 3, 1, 0)), layer.bias.assign(w["bias"])
    elif isinstance(layer, layers.Dense):
        layer.kernel.assign(w["weight"].T), layer.bias.assign(w["bias"])
    else:
        layer.gamma.assign(w["weight"]), layer.beta.assign(w["bias"])


def export(layer: layers.Layer) -> dict[str, np.ndarray]:
    """``layer``'s weights in PyTorch layouts (inverse of :func:`assign`)."""
    if isinstance(layer, layers.Conv2D):
        return {"weight": np.asarray(layer.kernel.numpy()).transpose(3, 2, 0, 1), "bias": layer.bias.numpy()}
    if isinstance(layer, layers.Dense):
        return {"weight": np.asarray(layer.kernel.numpy()).T, "bias": layer.bias.numpy()}
    return {"weight": layer.gamma.numpy(), "bias": layer.beta.numpy()}


# ------------------------------------------------------------------------------------ checkpoints


def torch_version(torch: Any) -> tuple[int, int]:
    """(major, minor) of an imported torch module (``"2.6.0+cpu"`` -> (2, 6)); (0, 0) if unreadable."""
    match = re.match(r"(\d+)\.(\d+)", str(getattr(torch, "__version__", "")))
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _read_torch(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise DataFormatError(
            f"{path} is a PyTorch pickle: reading it needs torch>=2.6 (`pip install 'torch>=2.6'`, the CPU build "
            "is enough), or convert it once to .safetensors elsewhere."
        ) from None
    found = torch_version(torch)
    if found < MIN_TORCH:
        raise DataFormatError(
            f"{path} is a PyTorch pickle and torch {getattr(torch, '__version__', '?')} is installed: latentlab "
            "reads pickles only with torch>=2.6, since torch.load(weights_only=True) can be bypassed in older "
            "versions. Upgrade (`pip install 'torch>=2.6'`) or convert the file to .safetensors."
        )
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types (UnpicklingError, RuntimeError, ...)
        raise DataFormatError(f"{path} could not be read with torch.load(weights_only=True): {err}") from err
    obj = obj.get("state_dict", obj) if isinstance(obj, Mapping) else obj
    if not isinstance(obj, Mapping):
        raise DataFormatError(f"{path} holds a {type(obj).__name__}, not a state dict of named tensors.")
    try:
        return {str(k): v.float().numpy() for k, v in obj.items() if hasattr(v, "numpy")}
    except (RuntimeError, TypeError, AttributeError) as err:
        raise DataFormatError(f"{path}: its tensors cannot be converted to numpy ({err}).") from err


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a ``.safetensors`` file (or, with torch>=2.6 installed, a ``.ckpt``/``.pt``/``.bin``
    read with ``weights_only=True``) as numpy arrays, keys unchanged."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"No checkpoint at {path}: give the path of a .safetensors (or .ckpt) file.")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            return dict(load_file(str(path)))
        except (SafetensorError, OSError, ValueError, TypeError) as err:
            raise DataFormatError(
                f"{path} is not a readable .safetensors file ({type(err).__name__}: {err}); download it again."
            ) from err
    if path.suffix in TORCH_SUFFIXES:
        return _read_torch(path)
    raise DataFormatError(
        f"{path}: unknown checkpoint type {path.suffix!r}; expected .safetensors or "
        f"(with torch>=2.6) {', '.join(TORCH_SUFFIXES)}."
    )


_LDM_RULES = [
    (r"^(encoder|decoder)\.norm_out\.", r"\1.conv_norm_out."),
    (r"^encoder\.down\.(\d+)\.block\.(\d+)\.", r"encoder.down_blocks.\1.resnets.\2."),
    (r"^encoder\.down\.(\d+)\.downsample\.", r"encoder.down_blocks.\1.downsamplers.0."),
    (r"^(encoder|decoder)\.mid\.block_1\.", r"\1.mid_block.resnets.0."),
    (r"^(encoder|decoder)\.mid\.block_2\.", r"\1.mid_block.resnets.1."),
    (r"^(encoder|decoder)\.mid\.attn_1\.norm\.", r"\1.mid_block.attentions.0.group_norm."),
    (r"^(encoder|decoder)\.mid\.attn_1\.([qkv])\.", r"\1.mid_block.attentions.0.to_\2."),
    (r"^(encoder|decoder)\.mid\.attn_1\.proj_out\.", r"\1.mid_block.attentions.0.to_out.0."),
    (r"\.nin_shortcut\.", ".conv_shortcut."),
]
_OLD_DIFFUSERS_ATTENTION = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def to_diffusers_keys(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename an LDM single-file state dict (``encoder.down.0.block.0``, ``mid.attn_1.q`` as 1x1
    convs, decoder ``up.N`` in reverse order, optional ``first_stage_model.`` prefix) and old
    diffusers attention names (``query``/``proj_attn``) to current diffusers names. Diffusers
    state dicts pass through unchanged."""
    prefix = next((p for p in LDM_PREFIXES if any(k.startswith(p + "encoder.") for k in state)), None)
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    ldm = any(re.match(r"^encoder\.down\.\d+\.", k) for k in state)
    n_up = 1 + max((int(m.group(1)) for k in state if (m := re.match(r"^decoder\.up\.(\d+)\.", k))), default=-1)
    out = {}
    for key, value in state.items():
        if ldm:
            if m := re.match(r"^decoder\.up\.(\d+)\.(block|upsample)(\.?)", key):
                i = n_up - 1 - int(m.group(1))
                new = f"decoder.up_blocks.{i}." + ("resnets" if m.group(2) == "block" else "upsamplers.0") + m.group(3)
                key = new + key[m.end() :]
            for pattern, repl in _LDM_RULES:
                key = re.sub(pattern, repl, key)
        m = re.match(r"^(.*\.attentions\.0\.)(query|key|value|proj_attn)\.(weight|bias)$", key)
        if m:
            key = f"{m.group(1)}{_OLD_DIFFUSERS_ATTENTION[m.group(2)]}.{m.group(3)}"
        value = np.asarray(value)
        if ".attentions.0.to_" in key and key.endswith(".weight") and value.ndim > 2:
            value = value.reshape(value.shape[:2])
        out[key] = value
    return out


def infer_architecture(state: dict[str, np.ndarray]) -> dict | None:
    """The architecture a diffusers-named state dict was made for, as ``AutoencoderKLConfig`` fields (None if
    it is not an AutoencoderKL). GroupNorm's group count and the scaling factor are not in the weights.
    Raises :class:`DataFormatError` when the key tensors have shapes no AutoencoderKL has."""
    if "encoder.conv_in.weight" not in state:
        return None
    try:
        return _architecture(state)
    except (IndexError, TypeError, ValueError) as err:
        raise DataFormatError(
            f"the weights' shapes do not describe an AutoencoderKL ({type(err).__name__}: {err}); "
            "check that the file is a complete VAE checkpoint."
        ) from err


def _architecture(state: dict[str, np.ndarray]) -> dict:
    widths = []
    while f"encoder.down_blocks.{len(widths)}.resnets.0.conv1.weight" in state:
        widths.append(int(np.shape(state[f"encoder.down_blocks.{len(widths)}.resnets.0.conv1.weight"])[0]))
    per_block = 0
    while f"encoder.down_blocks.0.resnets.{per_block}.conv1.weight" in state:
        per_block += 1
    latent2 = np.shape(state.get("quant_conv.weight", state.get("encoder.conv_out.weight", [8])))[0]
    fields = {
        "in_channels": int(np.shape(state["encoder.conv_in.weight"])[1]),
        "layers_per_block": per_block or 1,
        "latent_channels": int(latent2) // 2,
        "mid_block_add_attention": "encoder.mid_block.attentions.0.to_q.weight" in state,
        "use_quant_conv": "quant_conv.weight" in state,
        "use_post_quant_conv": "post_quant_conv.weight" in state,
    }
    if "decoder.conv_out.weight" in state:
        fields["out_channels"] = int(np.shape(state["decoder.conv_out.weight"])[0])
    if widths:
        fields["block_out_channels"] = tuple(widths)
    return fields


def read_json(path: Path) -> dict:
    """A JSON object file as a dict, or a :class:`DataFormatError` naming the file."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DataFormatError(
            f"{path} is not valid JSON ({err}); use the config.json that came with the weights."
        ) from err
    if not isinstance(obj, dict):
        raise DataFormatError(
            f"{path} holds a JSON {type(obj).__name__}, not an object of config fields; use the config.json "
            "that came with the weights."
        )
    return obj


def local_model_dir() -> Path:
    """Where named models are looked for: ``<data>/models/``."""
    return ll_config.data_dir() / "models"


def check_revision(revision: str | None) -> str | None:
    """``revision`` (a branch, tag or commit of a hub repository), or :class:`ParameterError`."""
    if revision is None:
        return None
    if not isinstance(revision, str) or not re.fullmatch(r"[\w][\w./-]*", revision) or ".." in revision:
        raise ParameterError(
            f"revision={revision!r}: give a branch, tag or commit hash of the hub repository (e.g. 'main' or a "
            "40-character commit), or None."
        )
    return revision


def _marker(folder: Path) -> dict | None:
    try:
        obj = json.loads((folder / DOWNLOAD_MARKER).read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _has_weights(folder: Path, *names: str) -> bool:
    inner = folder / "vae" if not (folder / "config.json").is_file() and (folder / "vae").is_dir() else folder
    return (inner / "config.json").is_file() and any((inner / n).is_file() for n in names)


def resolve(path_or_name: str | Path, revision: str | None = None) -> Path:
    """A path as given if it exists; for a hub name ``owner/repo``: ``<data>/models/owner--repo/`` (a
    diffusers folder with .safetensors weights, or one latentlab downloaded at ``revision``),
    ``<data>/models/<repo>.safetensors``, then a hub download of ``revision`` when allowed.

    A hub name never resolves to a pickle it finds locally (a ``.ckpt``, or a ``.bin`` that latentlab did
    not download at this revision): pass such a file's path explicitly if you trust it."""
    revision = check_revision(revision)
    if not isinstance(path_or_name, (str, Path)) or not str(path_or_name):
        raise ParameterError(
            f"{path_or_name!r}: give a diffusers folder, a .safetensors checkpoint or a hub name such as "
            "'bullhug/kl-f8-anime2'."
        )
    path = Path(path_or_name).expanduser()
    if path.exists():
        return path
    name = str(path_or_name)
    if not _HUB_NAME.fullmatch(name):
        raise DataNotFoundError(
            f"No file or folder {path}: give a diffusers folder, a .safetensors checkpoint or a "
            "hub name such as 'bullhug/kl-f8-anime2'."
        )
    stem = KNOWN_MODELS.get(name, name.split("/")[1])
    folder = local_model_dir() / name.replace("/", "--")
    tried = []
    mark = _marker(folder)
    ours = mark is not None and mark.get("repo") == name
    stale = ours and revision is not None and mark.get("revision") != revision
    if folder.is_dir() and not stale:
        if _has_weights(folder, DIFFUSERS_WEIGHTS):
            return folder
        if _has_weights(folder, DIFFUSERS_WEIGHTS_BIN) and ours:
            return folder  # a pickle downloaded by latentlab from this repository at this revision
        if _has_weights(folder, DIFFUSERS_WEIGHTS_BIN):
            tried.append(
                f"{folder}: holds {DIFFUSERS_WEIGHTS_BIN}, a PyTorch pickle latentlab did not download, so a hub "
                f"name does not load it (pass the folder's path explicitly if you trust it)"
            )
        else:
            tried.append(f"{folder}: no config.json with {DIFFUSERS_WEIGHTS}")
    elif stale:
        tried.append(f"{folder}: holds revision {mark.get('revision')!r}, not the pinned {revision!r}")
    else:
        tried.append(f"{folder}: missing")
    single = local_model_dir() / f"{stem}.safetensors"
    if single.is_file():
        return single
    tried.append(f"{single}: missing")
    for suffix in TORCH_SUFFIXES:
        pickle_file = local_model_dir() / f"{stem}{suffix}"
        if pickle_file.is_file():
            tried.append(
                f"{pickle_file}: a PyTorch pickle, never loaded for a hub name (pass its path explicitly if you "
                "trust it, or convert it to .safetensors)"
            )
    if ll_config.offline():
        tried.append("hub download: skipped (LATENTLAB_OFFLINE=1)")
    else:
        got, status = _hub_download(name, folder, revision)
        if got is not None:
            return got
        tried.append(f"hub download: {status}")
    raise DataNotFoundError(
        f"Weights {name!r} not found. Put config.json and {DIFFUSERS_WEIGHTS} from https://huggingface.co/{name} "
        f"into {folder}/, or the single-file checkpoint as {single}. Tried: " + "; ".join(tried) + "."
    )


def _hub_download(name: str, folder: Path, revision: str | None = None) -> tuple[Path | None, str]:
    """Download config.json and the weights of ``name`` at ``revision`` into ``folder`` (safetensors, else the
    PyTorch .bin, read later only with torch>=2.6), and record the repository and revision in it."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        return None, "huggingface_hub is not installed (pip install huggingface_hub)"
    try:
        (folder / DOWNLOAD_MARKER).unlink(missing_ok=True)
        hf_hub_download(name, "config.json", revision=revision, local_dir=folder)
        try:
            hf_hub_download(name, DIFFUSERS_WEIGHTS, revision=revision, local_dir=folder)
            weights = DIFFUSERS_WEIGHTS
        except Exception:  # some repositories hold only the PyTorch .bin (read with torch>=2.6)
            hf_hub_download(name, DIFFUSERS_WEIGHTS_BIN, revision=revision, local_dir=folder)
            weights = DIFFUSERS_WEIGHTS_BIN
        write_json(folder / DOWNLOAD_MARKER, {"repo": name, "revision": revision, "weights": weights})
        return folder, "ok"
    except Exception as err:  # network errors, missing repo, file or revision: each is a reason to fall back
        return None, f"failed ({type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''})"
