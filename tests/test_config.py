import pytest

from latentlab import config
from latentlab.errors import ProfileError


def test_unknown_profile_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("LATENTLAB_PROFILE", "fast")
    with pytest.raises(ProfileError, match="smoke, cpu, full"):
        config.resolve_profile()


def test_profile_from_environment_and_argument(monkeypatch):
    monkeypatch.setenv("LATENTLAB_PROFILE", " Smoke ")
    assert config.resolve_profile() == "smoke"
    assert config.resolve_profile("full") == "full"


def test_default_profile_follows_the_gpu(monkeypatch):
    monkeypatch.delenv("LATENTLAB_PROFILE", raising=False)
    monkeypatch.setattr(config, "gpu_count", lambda: 0)
    assert config.resolve_profile() == "cpu"
    monkeypatch.setattr(config, "gpu_count", lambda: 2)
    assert config.resolve_profile() == "full"


def test_profiles_change_sizes_not_keys():
    for notebook, entry in config.NOTEBOOKS.items():
        keys = {p: set(v) for p, v in entry["profiles"].items()}
        assert set(keys) == set(config.PROFILES), notebook
        assert keys["smoke"] == keys["cpu"] == keys["full"], notebook


def test_load_gives_sizes_as_attributes_and_creates_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_BUILD", str(tmp_path))
    cfg = config.load("01", profile="smoke", verbose=False)
    assert cfg.profile == "smoke" and cfg.out_dir == tmp_path / cfg.stem and cfg.out_dir.is_dir()
    assert cfg.main_epochs == config.NOTEBOOKS["01"]["profiles"]["smoke"]["main_epochs"]
    with pytest.raises(AttributeError, match="no setting 'epochz'"):
        _ = cfg.epochz
    with pytest.raises(ProfileError, match="Unknown notebook"):
        config.load("99", profile="smoke", verbose=False)


def test_data_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))
    assert config.data_dir() == tmp_path
    monkeypatch.delenv("LATENTLAB_DATA")
    assert config.data_dir() == config.project_root() / "data"


def test_seed_from_environment_and_argument_keys_the_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_BUILD", str(tmp_path))
    monkeypatch.setenv("LATENTLAB_SEED", "7")
    cfg = config.load("01", profile="smoke", verbose=False)
    assert cfg.seed == 7 and cfg.checkpoint_dir.name == "smoke-seed7"
    assert config.load("01", profile="smoke", seed=1, verbose=False).checkpoint_dir.name == "smoke-seed1"
    monkeypatch.setenv("LATENTLAB_SEED", "seven")
    with pytest.raises(ProfileError, match="LATENTLAB_SEED='seven'"):
        config.load("01", profile="smoke", verbose=False)
    with pytest.raises(ProfileError, match="seed=-1"):
        config.resolve_seed(-1)


def test_profiles_are_common_values_with_overrides(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text(
        '["07"]\nstem = "07_x"\n["07".common]\nn = "all"\nks = [1, 2]\nepochs = 3\n'
        '["07".smoke]\nn = 10\nks = [[1, 0]]\n["07".full]\nepochs = 30\n'
    )
    profiles = config.read_profiles(path)["07"]["profiles"]
    assert profiles["cpu"] == {"n": None, "ks": (1, 2), "epochs": 3}, "'all' is None, arrays are tuples"
    assert profiles["smoke"] == {"n": 10, "ks": ((1, 0),), "epochs": 3} and profiles["full"]["epochs"] == 30
    path.write_text('["07"]\nstem = "07_x"\n["07".common]\nn = 1\n["07".cpu]\nextra = 2\n')
    with pytest.raises(ProfileError, match=r"only in some: \['extra'\]"):
        config.read_profiles(path)
    path.write_text('["07"\nstem = ')
    with pytest.raises(ProfileError, match="Cannot read the profiles"):
        config.read_profiles(path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("y", True), ("YES", True), (" 1 ", True), ("on", True), ("0", False), ("off", False), ("", False), ("No", False)],
)
def test_offline_switch_reads_the_usual_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("LATENTLAB_OFFLINE", value)
    assert config.offline() is expected


def test_an_unclear_offline_switch_is_an_error(monkeypatch):
    monkeypatch.setenv("LATENTLAB_OFFLINE", "maybe")
    with pytest.raises(ProfileError, match="LATENTLAB_OFFLINE='maybe': set it to 1"):
        config.offline()
