"""AutoencoderKL: parity with diffusers on a golden fixture (tests/fixtures/make_autoencoder_kl_fixture.py),
single-file LDM checkpoints, and clear errors for checkpoints that do not fit."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from latentlab.errors import DataFormatError, DataNotFoundError, ParameterError
from latentlab.models import AutoencoderKL, AutoencoderKLConfig
from latentlab.models.autoencoder_kl import infer_config
from latentlab.models.autoencoder_kl_weights import to_diffusers_keys

FIXTURE = Path(__file__).parent / "fixtures" / "autoencoder_kl_tiny"
TINY = dict(block_out_channels=(4, 8, 8), layers_per_block=2, norm_num_groups=2)


@pytest.fixture(scope="module")
def golden():
    with np.load(FIXTURE / "golden.npz") as f:
        return {k: f[k] for k in f.files}


def _check_parity(model, golden):
    mean, logvar = model.encode(golden["x"])
    assert mean.shape == golden["mean"].shape == (2, 8, 8, 4)
    assert np.abs(mean - golden["mean"]).max() < 1e-4
    assert np.abs(logvar - golden["logvar"]).max() < 1e-4
    assert np.abs(model.decode(golden["mean"]) - golden["decoded"]).max() < 1e-4


def test_diffusers_folder_matches_diffusers(golden):
    model = AutoencoderKL.from_pretrained(FIXTURE / "diffusers")
    assert model.config.block_out_channels == (4, 8, 8) and model.scaling_factor == pytest.approx(0.13025)
    assert model.source.endswith("diffusion_pytorch_model.safetensors")
    _check_parity(model, golden)


def test_single_file_ldm_checkpoint_matches_diffusers(golden):
    model = AutoencoderKL.from_pretrained(FIXTURE / "ldm.safetensors", config=AutoencoderKLConfig(**TINY))
    _check_parity(model, golden)


def test_single_file_architecture_is_read_off_the_weights():
    state = to_diffusers_keys(load_file(str(FIXTURE / "ldm.safetensors")))
    cfg = infer_config(state, AutoencoderKLConfig(norm_num_groups=2))
    assert (cfg.block_out_channels, cfg.layers_per_block, cfg.latent_channels) == ((4, 8, 8), 2, 4)
    assert cfg.mid_block_add_attention and cfg.use_quant_conv


def test_ldm_names_under_a_pipeline_prefix_and_training_extras_are_accepted(tmp_path, golden):
    ldm = load_file(str(FIXTURE / "ldm.safetensors"))
    wrapped = {f"first_stage_model.{k}": v for k, v in ldm.items()}
    wrapped["model.diffusion_model.input_blocks.0.0.weight"] = np.zeros((2, 2), np.float32)  # the UNet, not ours
    wrapped["first_stage_model.loss.logvar"] = np.zeros((), np.float32)  # LPIPS/discriminator state
    save_file(wrapped, str(tmp_path / "sd.safetensors"))
    _check_parity(
        AutoencoderKL.from_pretrained(tmp_path / "sd.safetensors", config=AutoencoderKLConfig(**TINY)), golden
    )


def test_torch_checkpoint_needs_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(DataFormatError, match="needs torch"):
            AutoencoderKL.from_pretrained(FIXTURE / "ldm.ckpt", config=AutoencoderKLConfig(**TINY))
    else:
        model = AutoencoderKL.from_pretrained(FIXTURE / "ldm.ckpt", config=AutoencoderKLConfig(**TINY))
        assert model.source.endswith("ldm.ckpt")


def _folder_with(tmp_path, edit) -> Path:
    folder = tmp_path / "vae"
    shutil.copytree(FIXTURE / "diffusers", folder)
    weights = folder / "diffusion_pytorch_model.safetensors"
    state = load_file(str(weights))
    edit(state)
    save_file(state, str(weights))
    return folder


def test_missing_extra_and_misshaped_keys_are_named(tmp_path):
    def edit(state):
        del state["decoder.up_blocks.1.resnets.2.conv2.bias"]
        state["encoder.mid_block.attentions.0.to_q.bias"] = np.zeros(5, np.float32)
        state["decoder.extra_head.weight"] = np.zeros(3, np.float32)

    with pytest.raises(DataFormatError) as err:
        AutoencoderKL.from_pretrained(_folder_with(tmp_path, edit))
    text = str(err.value)
    assert "1 missing keys: decoder.up_blocks.1.resnets.2.conv2.bias" in text
    assert "1 unexpected keys: decoder.extra_head.weight" in text
    assert "encoder.mid_block.attentions.0.to_q.bias (5,) (expected (8,))" in text


def test_a_config_that_does_not_match_the_weights_is_explained(tmp_path):
    folder = tmp_path / "vae"
    shutil.copytree(FIXTURE / "diffusers", folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["block_out_channels"] = [8, 8, 8]
    cfg["latent_channels"] = 8
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(
        DataFormatError,
        match=r"config does not match the weights \(block_out_channels: config "
        r"\(8, 8, 8\), weights \(4, 8, 8\); latent_channels: config 8, weights 4",
    ):
        AutoencoderKL.from_pretrained(folder)


def test_unreadable_files_and_missing_weights_are_clear(tmp_path, monkeypatch):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(DataFormatError, match="not a readable .safetensors"):
        AutoencoderKL.from_pretrained(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="has no config.json"):
        AutoencoderKL.from_pretrained(tmp_path / "empty")
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path / "data"))
    with pytest.raises(DataNotFoundError) as err:  # conftest sets LATENTLAB_OFFLINE=1: no hub download
        AutoencoderKL.from_pretrained("bullhug/kl-f8-anime2")
    text = str(err.value)
    assert str(tmp_path / "data" / "models" / "bullhug--kl-f8-anime2") in text and "config.json" in text
    assert "kl-f8-anime2.safetensors" in text and "LATENTLAB_OFFLINE=1" in text


def test_a_named_model_is_found_in_the_data_folder(tmp_path, monkeypatch, golden):
    shutil.copytree(FIXTURE / "diffusers", tmp_path / "models" / "someone--tiny-vae")
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))
    _check_parity(AutoencoderKL.from_pretrained("someone/tiny-vae"), golden)


def test_state_dict_round_trip_and_sd_defaults():
    sd = AutoencoderKLConfig()
    assert sd.downsampling == 8 and sd.block_out_channels == (128, 256, 512, 512) and sd.scaling_factor == 0.18215
    model = AutoencoderKL(AutoencoderKLConfig(**TINY), seed=0)
    state = model.state_dict()
    assert set(state) == set(load_file(str(FIXTURE / "diffusers" / "diffusion_pytorch_model.safetensors")))
    other = AutoencoderKL(AutoencoderKLConfig(**TINY), seed=1)
    other.load_state_dict(state)
    z = np.random.default_rng(0).standard_normal((1, 4, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(model.decode(z), other.decode(z))
    with pytest.raises(ParameterError, match="does not divide"):
        AutoencoderKLConfig(block_out_channels=(6, 8), norm_num_groups=4)
    with pytest.raises(ParameterError, match="NHWC"):
        model.encode(np.zeros((1, 3, 16, 16), np.float32))


def test_small_config_trains_and_the_kl_weight_is_a_variable():
    """The notebook runs the same in graph mode; here eagerly, to keep the test fast."""
    import keras

    keras.utils.set_random_seed(0)
    model = AutoencoderKL(AutoencoderKLConfig(block_out_channels=(4, 8), layers_per_block=1, norm_num_groups=2), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), run_eagerly=True)  # no tracing: fast for a tiny model
    x = np.random.default_rng(0).uniform(-1, 1, (16, 16, 16, 3)).astype(np.float32)
    x = np.clip(x.cumsum(1) / 4, -1, 1)  # smooth images a tiny VAE can learn
    history = model.fit(x, x, batch_size=8, epochs=6, verbose=0).history
    assert history["mse"][-1] < 0.7 * history["mse"][0] and np.isfinite(history["kl"][-1])
    model.kl_weight.assign(1.0)  # the paper's loss
    after = model.fit(x, x, batch_size=8, epochs=1, verbose=0).history
    assert after["loss"][-1] == pytest.approx(after["mse"][-1] + after["kl"][-1], rel=1e-3)
