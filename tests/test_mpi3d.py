"""MPI3D: the npz loader (real format, small files), factor selection, and the synthetic renderer."""

import os
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from latentlab.data import mpi3d, mpi3d_synthetic
from latentlab.errors import DataFormatError, DataNotFoundError, ParameterError

SMALL = (2, 1, 2, 1, 1, 4, 5)  # a custom layout of 80 images


def indexed_images(n: int) -> np.ndarray:
    """(n, 64, 64, 3) uint8 whose first pixels spell the image's index (base 256)."""
    images = np.zeros((n, 64, 64, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(n) % 256
    images[:, 0, 0, 1] = np.arange(n) // 256
    return images


def index_of(images: np.ndarray) -> np.ndarray:
    return images[:, 0, 0, 0].astype(int) + 256 * images[:, 0, 0, 1].astype(int)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))
    return tmp_path


def test_layout_follows_the_image_count():
    assert mpi3d.factor_sizes_for(1_036_800) == (6, 6, 2, 3, 3, 40, 40)
    assert mpi3d.factor_sizes_for(460_800) == (4, 4, 2, 3, 3, 40, 40)
    with pytest.raises(DataFormatError, match="1,036,799 images"):
        mpi3d.factor_sizes_for(1_036_799)


def test_a_stored_npz_is_memory_mapped_in_place_without_a_cache(data_dir):
    images = indexed_images(80)
    np.savez(data_dir / mpi3d.FILENAME, images=images)  # np.savez stores its members uncompressed
    data = mpi3d.load_mpi3d(factor_sizes=SMALL, verbose=False)
    assert isinstance(data.images, np.memmap) and not data.images.flags.writeable
    assert Path(data.images.filename) == (data_dir / mpi3d.FILENAME).resolve()
    assert data.images.shape == images.shape and np.array_equal(np.asarray(data.images), images)
    assert sorted(p.name for p in data_dir.iterdir()) == [mpi3d.FILENAME], "nothing may be written beside it"
    assert data.source.kind == "local" and not data.source.complete and "in place" in str(data.source)


def test_loader_extracts_a_compressed_npz_into_a_cache_and_selects_by_factors(data_dir):
    np.savez_compressed(data_dir / mpi3d.FILENAME, images=indexed_images(80))
    data = mpi3d.load_mpi3d(factor_sizes=SMALL, verbose=False)
    assert isinstance(data.images, np.memmap) and data.source.kind == "local" and not data.source.complete
    cache = data_dir / "mpi3d_toy.images.npy"
    assert cache.is_file() and Path(data.images.filename) == cache.resolve()
    assert "extracted once into mpi3d_toy.images.npy" in str(data.source)
    assert np.array_equal(index_of(np.asarray(data.images)), np.arange(80))
    images, factors = mpi3d.select_factors(
        data, {"object_color": 1, "object_shape": 0, "object_size": "large", "camera_height": 0, "background_color": 0}
    )
    assert images.shape == (20, 64, 64, 3) and factors.shape == (20, 7)
    assert np.array_equal(index_of(images), np.ravel_multi_index(tuple(factors.T), SMALL))
    assert (factors[:, :5] == [1, 0, 1, 0, 0]).all()
    assert {tuple(f) for f in factors[:, 5:]} == {(h, v) for h in range(4) for v in range(5)}
    # the cache is reused while the npz is unchanged, and rebuilt when the npz is newer
    stamp = cache.stat().st_mtime_ns
    mpi3d.load_mpi3d(factor_sizes=SMALL, verbose=False)
    assert cache.stat().st_mtime_ns == stamp
    np.savez_compressed(data_dir / mpi3d.FILENAME, images=indexed_images(80)[::-1].copy())
    os.utime(data_dir / mpi3d.FILENAME, ns=(stamp + 10**9, stamp + 10**9))
    again = mpi3d.load_mpi3d(factor_sizes=SMALL, verbose=False)
    assert index_of(np.asarray(again.images[:1]))[0] == 79


def test_a_truncated_stored_npz_is_refused_naming_the_file_and_the_fix(data_dir):
    path = data_dir / mpi3d.FILENAME
    np.savez(path, images=indexed_images(80))
    whole = path.read_bytes()
    # the member's header promises one image more than the member holds (its bytes end early)
    assert whole.count(b"(80, 64, 64, 3)") == 1
    path.write_bytes(whole.replace(b"(80, 64, 64, 3)", b"(81, 64, 64, 3)"))
    with pytest.raises(
        DataFormatError, match=rf"{re.escape(str(path))}: 'images' holds .* needs .*truncated.*get the file again"
    ):
        mpi3d.open_images(path)
    # a download cut short: the zip's index at the end is gone
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(
        DataFormatError, match=rf"{re.escape(str(path))} is not a readable npz.*delete it or replace it"
    ):
        mpi3d.load_mpi3d(path, factor_sizes=SMALL, verbose=False)
    assert sorted(p.name for p in data_dir.iterdir()) == [mpi3d.FILENAME]


def test_the_benchmark_standin_zip64_member_is_mapped_in_place(tmp_path, monkeypatch):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import standins

    sizes = (1, 1, 1, 1, 1, 2, 3)
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1 << 16)  # the full file's 12.7 GB member is zip64: force it
    dest = standins.make_mpi3d_standin(tmp_path / "mpi3d", factor_sizes=sizes, workers=1, verbose=False)
    monkeypatch.undo()
    npz = dest / mpi3d.FILENAME
    local = npz.read_bytes()[:30]
    name_len, extra_len = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
    assert local[:4] == b"PK\x03\x04" and extra_len > 0, "the local header should carry a zip64 field"
    before = sorted(p.name for p in dest.iterdir())
    data = mpi3d.load_mpi3d(npz, factor_sizes=sizes, verbose=False)
    assert Path(data.images.filename) == npz.resolve() and "in place" in data.source.note
    assert data.images.offset > 30 + name_len + extra_len
    assert np.array_equal(np.asarray(data.images), mpi3d_synthetic.render(mpi3d_synthetic.grid_factors(sizes)))
    assert sorted(p.name for p in dest.iterdir()) == before


def test_wrong_key_length_or_shape_are_clear_errors(data_dir):
    path = data_dir / "other.npz"
    np.savez(path, imgs=indexed_images(4), labels=np.arange(4))
    with pytest.raises(DataFormatError, match=r"no array 'images'.*'imgs', 'labels'"):
        mpi3d.load_mpi3d(path, verbose=False)
    np.savez(path, images=indexed_images(80))
    with pytest.raises(DataFormatError, match="80 images.*1,036,800"):
        mpi3d.load_mpi3d(path, verbose=False)
    with pytest.raises(DataFormatError, match="factor_sizes"):
        mpi3d.load_mpi3d(path, factor_sizes=(2, 2, 2, 1, 1, 4, 5), verbose=False)
    np.savez(path, images=np.zeros((80, 32, 32, 3), np.uint8))
    with pytest.raises(DataFormatError, match=r"\(N, 64, 64, 3\)"):
        mpi3d.load_mpi3d(path, verbose=False)
    path.write_bytes(b"not a zip file")
    with pytest.raises(DataFormatError, match="not a readable npz"):
        mpi3d.load_mpi3d(path, verbose=False)


def test_missing_file_falls_back_to_the_renderer_or_says_where_to_get_it(data_dir):
    data = mpi3d.load_mpi3d(verbose=False)
    assert data.synthetic and data.source.kind == "synthetic" and len(data.images) == 1_036_800
    assert "rr-learning/disentanglement_dataset" in data.source.note
    with pytest.raises(DataNotFoundError, match=f"{mpi3d.FILENAME}.*rr-learning/disentanglement_dataset"):
        mpi3d.load_mpi3d(synthetic_fallback=False, verbose=False)


def test_paper_sets_on_the_synthetic_data(data_dir):
    data = mpi3d.load_mpi3d(verbose=False)
    images, factors = mpi3d.paper_set(data)
    assert images.shape == (1600, 64, 64, 3) and images.dtype == np.uint8
    assert (factors[:, :5] == [0, 0, 1, 0, 0]).all()  # white, cone, large, top camera, purple
    assert np.array_equal(images[[0, 1599]], mpi3d_synthetic.render(factors[[0, 1599]]))
    fixed = {k: v for k, v in mpi3d.PAPER_FIXED.items() if k != "camera_height"}
    _, factors3 = mpi3d.select_factors(data, {**fixed, "horizontal_axis": 3, "vertical_axis": range(2)})
    assert sorted(map(tuple, factors3[:, 3:])) == [(c, 0, 3, v) for c in range(3) for v in range(2)]


def test_out_of_range_factor_values_are_parameter_errors(data_dir):
    data = mpi3d.load_mpi3d(verbose=False)
    with pytest.raises(ParameterError, match="object_color=6 is out of range.*0..5"):
        mpi3d.select_factors(data, {**mpi3d.PAPER_FIXED, "object_color": 6})
    with pytest.raises(ParameterError, match="'black'"):
        mpi3d.select_factors(data, {**mpi3d.PAPER_FIXED, "object_color": "black"})
    with pytest.raises(ParameterError, match="unknown factors"):
        mpi3d.select_factors(data, {**mpi3d.PAPER_FIXED, "lighting": 0})
    with pytest.raises(ParameterError, match="horizontal_axis=39.5"):
        mpi3d_synthetic.render([0, 0, 1, 0, 0, 39.5, 0])
    with pytest.raises(ParameterError, match="object_shape=1.5"):
        mpi3d_synthetic.render([0, 1.5, 1, 0, 0, 3, 0])


def test_renderer_is_deterministic_and_distinguishes_factors():
    f = np.array(
        [
            [c, s, 1, cam, bg, 20, 20]
            for c, s, cam, bg in [(0, 0, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)]
        ]
    )
    a, b = mpi3d_synthetic.render(f), mpi3d_synthetic.render(f)
    assert a.shape == (5, 64, 64, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert all(not np.array_equal(a[0], a[i]) for i in range(1, 5))
    images = mpi3d_synthetic.SyntheticImages()
    assert np.array_equal(images[7], mpi3d_synthetic.render(mpi3d_synthetic.grid_factors(images.sizes, [7]))[0])


def test_synthetic_images_refuse_out_of_range_indices_as_numpy_does():
    images = mpi3d_synthetic.SyntheticImages(SMALL)
    real = np.zeros((len(images), 1), np.uint8)  # what the memory-mapped file does with the same keys
    for key in (80, -81, np.int64(80), 10**6):
        with pytest.raises(IndexError):
            real[key]
        with pytest.raises(IndexError, match="out of bounds"):
            images[key]
    last = mpi3d_synthetic.render(mpi3d_synthetic.grid_factors(SMALL, [79]))[0]
    assert np.array_equal(images[-1], last) and np.array_equal(images[79], last)
    assert np.array_equal(images[-80], images[0]) and not np.array_equal(images[0], last)


def white_centroid_x(images: np.ndarray) -> np.ndarray:
    mask = (images > 200).all(-1)  # the white object on a purple background
    cols = np.arange(images.shape[2])
    return (mask * cols).sum((1, 2)) / mask.sum((1, 2))


def test_axes_are_continuous():
    base = np.array([0, 0, 1, 0, 0, 10.0, 5.0])
    steps = [0.0, 0.05, 0.5, 2.0, 8.0]
    frames = mpi3d_synthetic.render([base + [0, 0, 0, 0, 0, d, 0] for d in steps]).astype(float)
    dist = [np.square(frames[i] - frames[0]).mean() for i in range(1, len(steps))]
    assert 0 < dist[0] < dist[1] < dist[2] < dist[3]
    h = np.linspace(0, 39, 14)
    xs = white_centroid_x(mpi3d_synthetic.render([[0, 0, 1, 0, 0, hh, 5] for hh in h]))
    assert np.all(np.diff(xs) > 0), "the object should move right as the horizontal factor grows"
    mid = white_centroid_x(mpi3d_synthetic.render([[0, 0, 1, 0, 0, hh, 5] for hh in (10, 10.5, 11)]))
    assert mid[0] < mid[1] < mid[2]


def test_valid_factor_paths():
    a, b = [0, 0, 1, 0, 0, 2, 30], [0, 0, 1, 0, 0, 12, 10]
    paths = mpi3d_synthetic.valid_factor_paths(a, b, 7)
    assert list(paths) == ["straight", "horizontal first", "vertical first"]
    for p in paths.values():
        assert p.shape == (7, 7) and np.allclose(p[0], a) and np.allclose(p[-1], b)
        assert np.allclose(np.abs(np.diff(p[:, 5:], axis=0)).sum(1), 30 / 6)  # constant speed (L1 for the L paths)
    assert np.allclose(np.diff(paths["straight"][:, 5:], axis=0), [10 / 6, -20 / 6])
    h_first, v_first = paths["horizontal first"][:, 5:], paths["vertical first"][:, 5:]
    assert np.allclose(h_first[:3, 1], 30) and np.allclose(h_first[2], [12, 30]) and np.allclose(h_first[2:, 0], 12)
    assert np.allclose(v_first[:5, 0], 2) and np.allclose(v_first[4], [2, 10]) and np.allclose(v_first[4:, 1], 10)
    with pytest.raises(ParameterError, match="discrete factor"):
        mpi3d_synthetic.valid_factor_paths(a, [1, 0, 1, 0, 0, 12, 10], 5)
