"""Hostile inputs to latentlab.models (issue 18): configs of the wrong type, broken and pickled weight files,
hub names next to local pickles, an old torch, unpinned downloads, and builder arguments that used to reach
Keras as raw tracebacks. Fakes stand in for torch and huggingface_hub (neither is needed, nothing is fetched)."""

import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from latentlab import config
from latentlab.errors import DataFormatError, DataNotFoundError, ParameterError
from latentlab.experiments import perceptual
from latentlab.models import (
    AutoencoderKL,
    AutoencoderKLConfig,
    build_dense_autoencoder,
    build_digit_classifier,
    conv,
    denoising,
    features,
    losses,
)
from latentlab.models import autoencoder_kl_weights as weights_io
from latentlab.models.autoencoder_kl import infer_config

FIXTURE = Path(__file__).parent / "fixtures" / "autoencoder_kl_tiny"
NAME = "bullhug/kl-f8-anime2"
PINNED = config.NOTEBOOKS["03"]["profiles"]["cpu"]["pretrained_revision"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("norm_num_groups", 0),  # used to be a ZeroDivisionError
        ("in_channels", "3"),
        ("latent_channels", 2.5),
        ("layers_per_block", True),
        ("block_out_channels", "128"),  # used to become (1, 2, 8)
        ("block_out_channels", ()),
        ("use_quant_conv", "false"),  # a non-empty string is truthy
        ("scaling_factor", float("nan")),
        ("sample_size", -1),
    ],
)
def test_config_fields_of_the_wrong_type_or_value_are_parameter_errors(field, value):
    with pytest.raises(ParameterError, match=field):
        AutoencoderKLConfig(**{field: value})


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "vae"
    shutil.copytree(FIXTURE / "diffusers", folder)
    return folder


def test_a_config_json_with_wrong_types_names_the_file(tmp_path):
    folder = _folder(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "norm_num_groups": "2"}))
    with pytest.raises(DataFormatError, match=r"vae/config\.json: norm_num_groups='2'"):
        AutoencoderKL.from_pretrained(folder)
    (folder / "config.json").write_text(json.dumps([cfg]))
    with pytest.raises(DataFormatError, match=r"config\.json holds a JSON list"):
        AutoencoderKL.from_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({**cfg, "down_block_types": "DownEncoderBlock2D"}))
    with pytest.raises(DataFormatError, match="down_block_types"):
        AutoencoderKL.from_pretrained(folder)


def test_missing_empty_and_truncated_weight_files_are_project_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match="No checkpoint at"):
        weights_io.read_state_dict(tmp_path / "absent.safetensors")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    data = (FIXTURE / "ldm.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    for name in ("empty.safetensors", "cut.safetensors"):
        with pytest.raises(DataFormatError, match=f"{name} is not a readable .safetensors"):
            weights_io.read_state_dict(tmp_path / name)
    (tmp_path / "w.onnx").write_bytes(b"x")
    with pytest.raises(DataFormatError, match="unknown checkpoint type"):
        weights_io.read_state_dict(tmp_path / "w.onnx")
    with pytest.raises(DataFormatError, match="do not describe an AutoencoderKL"):
        infer_config({"encoder.conv_in.weight": np.zeros(3, np.float32)})


class _FakeTensor:
    def float(self):
        return self

    def numpy(self):
        return np.ones(2, np.float32)


def _fake_torch(monkeypatch, version: str) -> list:
    calls = []
    torch = types.ModuleType("torch")
    torch.__version__ = version

    def load(path, map_location=None, weights_only=False):
        calls.append({"path": path, "weights_only": weights_only})
        return {"state_dict": {"w": _FakeTensor()}}

    torch.load = load
    monkeypatch.setitem(sys.modules, "torch", torch)
    return calls


def test_pickles_need_torch_2_6_whose_weights_only_cannot_be_bypassed(monkeypatch):
    calls = _fake_torch(monkeypatch, "2.5.1+cpu")
    with pytest.raises(DataFormatError, match=r"torch 2\.5\.1\+cpu is installed.*torch>=2\.6"):
        weights_io.read_state_dict(FIXTURE / "ldm.ckpt")
    assert calls == [], "torch.load must not even be called"
    calls = _fake_torch(monkeypatch, "2.6.0")
    assert list(weights_io.read_state_dict(FIXTURE / "ldm.ckpt")) == ["w"]
    assert calls[0]["weights_only"] is True
    assert weights_io.torch_version(types.SimpleNamespace(__version__="10.1.0")) == (10, 1)


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))
    (tmp_path / "models").mkdir()
    return tmp_path / "models"


def test_a_hub_name_never_falls_back_to_a_local_pickle(models_dir):
    ckpt = models_dir / "kl-f8-anime2.ckpt"
    shutil.copy(FIXTURE / "ldm.ckpt", ckpt)
    with pytest.raises(DataNotFoundError, match=r"kl-f8-anime2\.ckpt: a PyTorch pickle, never loaded for a hub name"):
        weights_io.resolve(NAME)
    assert ckpt.is_file()
    assert weights_io.resolve(ckpt) == ckpt  # the same file given explicitly is the user's choice
    folder = models_dir / "bullhug--kl-f8-anime2"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / weights_io.DIFFUSERS_WEIGHTS_BIN).write_bytes(b"a pickle someone left here")
    with pytest.raises(DataNotFoundError, match="a PyTorch pickle latentlab did not download"):
        weights_io.resolve(NAME)
    (folder / weights_io.DOWNLOAD_MARKER).write_text(json.dumps({"repo": NAME, "revision": PINNED}))
    assert weights_io.resolve(NAME, revision=PINNED) == folder  # downloaded by latentlab at this revision
    with pytest.raises(DataNotFoundError, match=f"holds revision '{PINNED}', not the pinned 'main'"):
        weights_io.resolve(NAME, revision="main")
    shutil.copy(FIXTURE / "ldm.safetensors", models_dir / "kl-f8-anime2.safetensors")
    assert weights_io.resolve(NAME, revision="main") == models_dir / "kl-f8-anime2.safetensors"


@pytest.mark.parametrize("name", ["../x", "a/b/c", "", "owner/..", ".hidden/x", 5])
def test_hostile_names_are_refused(models_dir, name):
    with pytest.raises((DataNotFoundError, ParameterError)):
        weights_io.resolve(name)


@pytest.mark.parametrize("revision", ["a b", "../main", "", 5, "main;rm"])
def test_bad_revisions_are_refused(revision):
    with pytest.raises(ParameterError, match="revision"):
        weights_io.check_revision(revision)


def _fake_hub(monkeypatch, served: dict) -> list:
    calls = []
    hub = types.ModuleType("huggingface_hub")

    def hf_hub_download(repo_id, filename, revision=None, local_dir=None):
        calls.append((repo_id, filename, revision))
        if filename not in served:
            raise FileNotFoundError(f"{filename} is not in {repo_id}@{revision}")
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        shutil.copy(served[filename], Path(local_dir) / filename)
        return str(Path(local_dir) / filename)

    hub.hf_hub_download = hf_hub_download
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    monkeypatch.setenv("LATENTLAB_OFFLINE", "0")
    return calls


def test_hub_downloads_are_pinned_to_the_profile_revision(models_dir, monkeypatch):
    assert len(PINNED) == 40 and int(PINNED, 16) >= 0, "profile 03 pins a commit"
    assert {p["pretrained_revision"] for p in config.NOTEBOOKS["03"]["profiles"].values()} == {PINNED}
    diffusers = FIXTURE / "diffusers"
    calls = _fake_hub(monkeypatch, {"config.json": diffusers / "config.json", "diffusion_pytorch_model.bin": __file__})
    folder = weights_io.resolve(NAME, revision=PINNED)
    assert folder == models_dir / "bullhug--kl-f8-anime2"
    assert calls and all(rev == PINNED for _, _, rev in calls)
    assert [f for _, f, _ in calls] == ["config.json", weights_io.DIFFUSERS_WEIGHTS, weights_io.DIFFUSERS_WEIGHTS_BIN]
    assert json.loads((folder / weights_io.DOWNLOAD_MARKER).read_text())["revision"] == PINNED
    calls.clear()
    assert weights_io.resolve(NAME, revision=PINNED) == folder and calls == [], "no second download"
    weights_io.resolve(NAME, revision="main")  # another pin: fetched again, into the folder latentlab made
    assert calls and all(rev == "main" for _, _, rev in calls)


def test_from_pretrained_passes_the_revision_on(models_dir, monkeypatch):
    seen = []
    monkeypatch.setattr(weights_io, "resolve", lambda name, revision=None: seen.append(revision) or FIXTURE / "x")
    with pytest.raises(DataNotFoundError):
        AutoencoderKL.from_pretrained(NAME, revision=PINNED)
    assert seen == [PINNED]
    with pytest.raises(ParameterError, match="config="):
        AutoencoderKL.from_pretrained(FIXTURE / "diffusers", config={"in_channels": 3})


@pytest.fixture(scope="module")
def tiny():
    return AutoencoderKL(AutoencoderKLConfig(block_out_channels=(2,), layers_per_block=1, norm_num_groups=1), seed=0)


def test_the_vae_refuses_images_outside_its_range_and_nan_weights(tiny):
    with pytest.raises(ParameterError, match="uint8.*to_model_range"):
        tiny.encode(np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(ParameterError, match=r"not \[-1, 1\]"):
        tiny.encode(np.full((1, 8, 8, 3), 255.0, np.float32))
    with pytest.raises(ParameterError, match="NaN"):
        tiny.encode(np.full((1, 8, 8, 3), np.nan, np.float32))
    with pytest.raises(ParameterError, match="Latents contain NaN"):
        tiny.decode(np.full((1, 2, 2, 4), np.nan, np.float32))
    for batch_size in (0, -2, 1.5):
        with pytest.raises(ParameterError, match="batch_size"):
            tiny.encode(np.zeros((1, 8, 8, 3), np.float32), batch_size=batch_size)
    state = tiny.state_dict()
    before = tiny.decode(np.zeros((1, 2, 2, 4), np.float32))
    state["decoder.conv_out.bias"] = np.full_like(state["decoder.conv_out.bias"], np.nan)
    with pytest.raises(DataFormatError, match=r"NaN or infinite weights in 1 tensors \(decoder\.conv_out\.bias\)"):
        tiny.load_state_dict(state, where="broken.safetensors")
    np.testing.assert_array_equal(tiny.decode(np.zeros((1, 2, 2, 4), np.float32)), before)  # nothing was assigned
    with pytest.raises(ParameterError, match="dict"):
        tiny.load_state_dict([("a", 1)])
    for bad in (dict(kl_weight=-1.0), dict(kl_weight=float("nan")), dict(seed="0"), dict(config="sd")):
        with pytest.raises(ParameterError):
            AutoencoderKL(**bad)


def test_builders_check_their_arguments_before_keras_does():
    for kwargs in (dict(latent_dim=2.5), dict(noise_level="0.2"), dict(noise="pink"), dict(image_shape=(64, 64))):
        with pytest.raises(ParameterError):
            denoising.build_denoising_autoencoder(**kwargs)
    for hidden in (True, [32.5], [], "9"):
        with pytest.raises(ParameterError, match="hidden"):
            build_dense_autoencoder(hidden)
    with pytest.raises(ParameterError, match="input_dim"):
        build_dense_autoencoder(1, input_dim=0)
    with pytest.raises(ParameterError, match="n_classes"):
        build_digit_classifier(n_classes=1)
    with pytest.raises(ParameterError, match="input_shape"):
        build_digit_classifier((5, 5, 1))
    with pytest.raises(ParameterError, match="image_shape"):
        conv.build_conv_autoencoder(image_shape=(64, 64))
    with pytest.raises(ParameterError, match="learning_rate"):
        conv.build_conv_autoencoder(learning_rate=0)
    with pytest.raises(ParameterError, match=r"\.dataset\(batch_size\)"):
        conv.encode_images(None, [np.zeros((64, 64, 3))])
    with pytest.raises(ParameterError, match="Unknown loss"):
        losses.get_loss(["mse"])  # unhashable: used to be a raw TypeError
    with pytest.raises(ParameterError, match="groups"):
        features.FactorLoss(groups=[])
    with pytest.raises(ParameterError, match="lambda_re"):
        denoising.DenoisingAutoencoder(None, None, None, lambda_re=float("nan"))
    for kind, level in ((None, 0.1), ("gaussian", "0.1"), ("gaussian", float("inf")), ("drop", 1.5)):
        with pytest.raises(ParameterError, match="noise"):
            denoising.corrupt(np.zeros((1, 2, 2, 1), np.float32), kind, level)


def test_to_unit_does_not_divide_unit_images_again():
    x8 = np.array([[[[0, 128, 255]]]], np.uint8)
    unit = denoising.to_unit(x8)
    np.testing.assert_allclose(denoising.to_unit(unit), unit)  # used to become unit / 255
    with pytest.raises(ParameterError, match="to_unit"):
        denoising.to_unit(x8.astype(np.float32))  # 0-255 floats: ambiguous, refused
    with pytest.raises(ParameterError, match="0-255"):
        denoising.to_unit(np.array([[[[300]]]]))


def test_feature_networks_name_missing_or_broken_weights(tmp_path):
    with pytest.raises(DataFormatError, match="do not exist"):
        features.vgg16_features(tmp_path / "missing.h5", (64, 64, 3))
    broken = tmp_path / features.VGG_WEIGHTS
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"0" * 64)
    with pytest.raises(DataFormatError, match=f"{features.VGG_WEIGHTS} is not a readable VGG16"):
        features.vgg16_features(broken, (64, 64, 3))
    with pytest.raises(ParameterError, match="reference images"):
        features.unit_rms(None, np.full((2, 4), np.nan), "x")
    with pytest.raises(ParameterError, match=r"not \[0, 1\]"):
        perceptual.perceptual_features(np.full((2, 64, 64, 3), 200, np.uint8), kind="factor_cnn")
    with pytest.raises(ParameterError, match="object_color"):
        perceptual.factor_targets([[9, 0, 0, 0, 0, 1.0, 1.0]])  # np.eye used to raise a raw IndexError
