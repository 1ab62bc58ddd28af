import base64
from io import BytesIO

import numpy as np
import pytest

from latentlab.errors import ParameterError
from latentlab.latent import pca
from latentlab.models import build_dense_autoencoder
from latentlab.widgets import LatentExplorer, keras_decoder, to_png


@pytest.fixture(scope="module")
def explorer_parts(small_mnist):
    x, y = small_mnist
    ae = build_dense_autoencoder(1)
    ae.fit(x, x, epochs=1, batch_size=128, verbose=0)
    z = ae.encoder.predict(x, verbose=0)
    return ae, z, y


def test_sliders_change_the_decoded_image(explorer_parts):
    ae, z, y = explorer_parts
    P = pca(z)
    starts = {f"mean of {c}": z[y == c].mean(0) for c in range(3)}
    ex = LatentExplorer(
        keras_decoder(ae.decoder, (28, 28)),
        starts,
        directions=P.components[:4],
        scales=np.sqrt(P.eigenvalues[:4]),
        sampler=lambda r: z[r.integers(len(z))],
    )
    first_png, first = ex.image.value, ex.current_image.copy()
    np.testing.assert_allclose(
        first, ae.decoder.predict(starts["mean of 0"][None], verbose=0)[0].reshape(28, 28), atol=1e-5
    )
    ex.sliders[0].value = ex.sliders[0].max
    assert ex.image.value != first_png and np.abs(ex.current_image - first).max() > 0.05
    np.testing.assert_allclose(ex.z, starts["mean of 0"] + ex.sliders[0].max * P.components[0], rtol=1e-5, atol=1e-5)
    ex.reset()
    np.testing.assert_allclose(ex.current_image, first, atol=1e-6)
    ex.start_menu.value = "mean of 2"
    np.testing.assert_allclose(ex.z, starts["mean of 2"], atol=1e-6)
    ex.random_point()
    assert np.abs(ex.coefficients).max() > 0
    assert ex.last_update_s < 0.5


def test_default_directions_are_the_code_axes(explorer_parts):
    ae, z, _ = explorer_parts
    ex = LatentExplorer(keras_decoder(ae.decoder, (28, 28)), {"origin": np.zeros(32)}, n_sliders=5)
    assert len(ex.sliders) == 5 and ex.random_button.disabled
    ex.set_coefficients([1.0, 0, 0, 0, 0])
    np.testing.assert_array_equal(ex.z, np.eye(32)[0])


def test_png_is_a_real_image():
    from io import BytesIO

    from PIL import Image

    img = Image.open(BytesIO(to_png(np.linspace(0, 1, 28 * 28).reshape(28, 28), scale=3)))
    assert img.size == (84, 84) and np.asarray(img)[0, 0] == 0 and np.asarray(img)[-1, -1] == 255


def _flat_decoder(z):
    return np.full((28, 28), float(np.clip(z[0], 0, 1)), np.float32)


@pytest.mark.parametrize(
    "kwargs, fix",
    [
        ({"n_sliders": -1}, "n_sliders=-1: give a whole number >= 1"),
        ({"n_sliders": 0}, "n_sliders=0"),
        ({"labels": ["a", "b"]}, "give one label per direction"),
        ({"scales": np.ones(3)}, "scales must be 4 positive numbers, one per slider"),
        ({"scales": np.array([1.0, 0.0, 1.0, 1.0])}, "values <= 0"),
        ({"directions": np.ones((2, 5))}, "directions must be (k, 8)"),
        ({"image_scale": 0}, "image_scale=0"),
    ],
)
def test_bad_inputs_say_what_to_pass(kwargs, fix):
    from latentlab.errors import ParameterError

    args = {"n_sliders": 4} | kwargs
    with pytest.raises(ParameterError) as err:
        LatentExplorer(_flat_decoder, {"origin": np.zeros(8)}, **args)
    assert fix in str(err.value)


def test_starting_points_must_all_be_codes():
    from latentlab.errors import ParameterError

    with pytest.raises(ParameterError, match=r"shape \(8,\)"):
        LatentExplorer(_flat_decoder, {"a": np.zeros(8), "b": np.zeros(7)})
    with pytest.raises(ParameterError, match="at least one starting point"):
        LatentExplorer(_flat_decoder, {})


def test_display_keeps_a_still_of_the_starting_view():
    import base64
    from io import BytesIO

    from PIL import Image

    ex = LatentExplorer(_flat_decoder, {"bright": np.r_[0.8, np.zeros(7)], "dark": np.zeros(8)}, n_sliders=3)
    ex.set_coefficients([-0.8, 0, 0])  # moving the sliders does not change the still: it shows the start
    still = ex.still()
    png = Image.open(BytesIO(base64.b64decode(still["image/png"])))
    assert png.size == (28 * 6, 28 * 6) and np.asarray(png).mean() == pytest.approx(0.8 * 255, abs=1)
    assert "bright" in still["text/plain"] and "data:image/png;base64," in still["text/html"]
    assert _published(ex) == still, "the widget, then its still"


# TripletScrubber: real MNIST digits stand in for a triplet's frames and latents, with an identity-like decoder
# (latent (28, 28, 1) -> grey image (28, 28, 3)), so decode(path(t)) is known exactly.


def _grey(z):
    return np.repeat(np.clip(np.asarray(z, np.float32), 0, 1), 3, axis=-1)


@pytest.fixture(scope="module")
def digit_triplet(mnist):
    """Latents z1, z2, z3 (three real digits, (28, 28, 1) in [0, 1]), a predicted z2 (another digit), and
    frames 1, 2, 3 = their decodes (3, 28, 28, 3)."""
    (x, y), _ = mnist
    picks = [np.flatnonzero(y == d)[0] for d in (1, 7, 4, 0)]
    z1, z2, z3, guess = (x[i].astype(np.float32)[..., None] / 255 for i in picks)
    return (z1, z2, z3), guess, np.stack([_grey(z) for z in (z1, z2, z3)])


def _scrubber(digit_triplet, decode=_grey, **kwargs):
    from latentlab.latent.paths import linear_path, slerp_path
    from latentlab.widgets import TripletScrubber

    (z1, _, z3), guess, frames = digit_triplet
    paths = {"linear": linear_path(z1, z3), "slerp": slerp_path(z1, z3), "predicted": (z1, guess, z3)}
    return TripletScrubber(decode, frames, paths, **kwargs)


def test_scrubber_shows_the_decoded_path_at_the_slider(digit_triplet):
    from latentlab.latent.paths import slerp

    (z1, _, z3), guess, frames = digit_triplet
    calls = []
    sc = _scrubber(digit_triplet, decode=lambda z: calls.append(1) or _grey(z), steps=10)
    assert (sc.path, sc.t) == ("linear", 0.5)
    np.testing.assert_allclose(sc.current_image, _grey((z1 + z3) / 2), atol=1e-6)
    shown = sc.image.value
    sc.slider.value = 0.3
    assert sc.image.value != shown
    np.testing.assert_allclose(sc.current_image, _grey(0.7 * z1 + 0.3 * z3), atol=1e-6)
    sc.slider.value = 0.0
    np.testing.assert_allclose(sc.current_image, frames[0], atol=1e-6)  # t = 0: frame 1's decode
    sc.slider.value = 1.0
    np.testing.assert_allclose(sc.current_image, frames[2], atol=1e-6)  # t = 1: frame 3's
    sc.slider.value = 0.5
    linear_mid = sc.current_image
    sc.path_menu.value = "slerp"
    slerp_mid = _grey(slerp(z1.reshape(1, -1), z3.reshape(1, -1), 0.5).reshape(z1.shape))
    np.testing.assert_allclose(sc.current_image, slerp_mid, atol=1e-6)
    assert np.abs(sc.current_image - linear_mid).max() > 0.05  # another path, another middle frame
    sc.path_menu.value = "predicted"
    np.testing.assert_allclose(sc.current_image, _grey(guess), atol=1e-6)  # z1 -> predicted z2 -> z3 at 0.5
    np.testing.assert_allclose(sc.show("linear", 0.25), _grey(0.75 * z1 + 0.25 * z3), atol=1e-6)
    before = len(calls)
    for t in (0.3, 0.5, 0.0):  # positions seen before are not decoded again
        sc.slider.value = t
    assert len(calls) == before and sc.frame("linear", 0.5) is linear_mid


def test_scrubber_keeps_a_still_of_its_starting_view(digit_triplet):
    import base64
    from io import BytesIO

    from PIL import Image

    (z1, _, z3), _, frames = digit_triplet
    sc = _scrubber(digit_triplet, t=0.4)
    assert sc.image_scale == 5  # 28 px frames drawn at 140 px
    sc.show("predicted", 0.9)  # moving does not change the still: it shows the start
    still = sc.still()
    strip = np.asarray(Image.open(BytesIO(base64.b64decode(still["image/png"]))).convert("RGB"))
    band, gap, side = 14, 6, 28 * 5
    assert strip.shape == (band + side + gap, 5 * gap + 4 * side, 3)
    expected = [*frames, _grey(0.6 * z1 + 0.4 * z3)]
    for k, image in enumerate(expected):
        x = gap + k * (side + gap)
        drawn = strip[band : band + side, x : x + side]
        np.testing.assert_array_equal(drawn, np.asarray(Image.open(BytesIO(to_png(image, 5))).convert("RGB")))
    assert "linear path decoded at t = 0.40" in still["text/plain"] and "data:image/png;base64," in still["text/html"]
    assert _published(sc) == still, "the widget, then its still"


@pytest.mark.parametrize(
    "change, fix",
    [  # each change: (z1, z3, frames) -> the arguments it replaces
        (lambda z1, z3, f: {"paths": {"linear": (z1, z3), "small": np.zeros((2, 14, 14, 1))}}, "different shapes"),
        (lambda z1, z3, f: {"paths": {"one": z1[None]}}, "path 'one': give a function t -> latent or key latents"),
        (lambda z1, z3, f: {"paths": {}}, "at least one path"),
        (lambda z1, z3, f: {"frames": f[:2]}, "frames 1, 2, 3 as (3, H, W, 3)"),
        (lambda z1, z3, f: {"frames": (f * 255).astype(np.uint8)}, "give images in [0, 1] (uint8 / 255"),
        (
            lambda z1, z3, f: {"decode": lambda z: np.zeros((14, 14, 3))},
            "decode returned an image of shape (14, 14, 3)",
        ),
        (lambda z1, z3, f: {"t": 1.5}, "t=1.5: give a number in [0, 1]"),
        (lambda z1, z3, f: {"steps": 0}, "steps=0"),
    ],
)
def test_scrubber_refuses_bad_input_naming_the_fix(digit_triplet, change, fix):
    from latentlab.errors import ParameterError
    from latentlab.latent.paths import linear_path
    from latentlab.widgets import TripletScrubber

    (z1, _, z3), _, frames = digit_triplet
    args = {"decode": _grey, "frames": frames, "paths": {"linear": linear_path(z1, z3)}} | change(z1, z3, frames)
    with pytest.raises(ParameterError) as err:
        TripletScrubber(**args)
    assert fix in str(err.value)


def test_scrubber_refuses_unknown_paths_and_t_outside_0_1(digit_triplet):
    from latentlab.errors import ParameterError

    sc = _scrubber(digit_triplet)
    with pytest.raises(ParameterError, match=r"unknown path 'cubic': choose one of \['linear', 'slerp', 'predicted'\]"):
        sc.show("cubic")
    with pytest.raises(ParameterError, match=r"t=-0.2: give a number in \[0, 1\]"):
        sc.show(t=-0.2)
    with pytest.raises(ParameterError, match="t=2"):
        sc.frame("slerp", 2)
    assert (sc.path, sc.t) == ("linear", 0.5)  # a refused move leaves the view as it was


def _published(widget) -> dict:
    """What displaying ``widget`` in a notebook publishes after the widget view itself (its still), checking
    that the view comes first."""
    from IPython.core.interactiveshell import InteractiveShell

    shown = []
    shell = InteractiveShell.instance()
    shell.display_pub.publish = lambda data, metadata=None, **kw: shown.append(data)
    try:
        widget._ipython_display_()
    finally:
        InteractiveShell.clear_instance()
    assert "application/vnd.jupyter.widget-view+json" in shown[0] and len(shown) == 2
    return shown[1]


# PathWalker: real digits cross-dissolved into each other stand in for the decoded frames of two interpolations.


@pytest.fixture(scope="module")
def two_paths(mnist):
    (x, y), _ = mnist
    a, b, c = (x[np.flatnonzero(y == d)[0]].astype(np.float32) / 255 for d in (3, 8, 5))
    t = np.linspace(0, 1, 6)[:, None, None]
    return {"straight": (1 - t) * a + t * b, "surfing": (1 - t) * a + t * c}


def test_the_walker_shows_every_path_at_the_slider_step_and_keeps_its_start_as_the_still(two_paths):
    from PIL import Image

    from latentlab.widgets import PathWalker, labelled_strip, to_png

    walker = PathWalker(two_paths, start=2)
    for name, image in walker.images.items():
        assert image.value == to_png(two_paths[name][2], walker.image_scale), "the start step is shown"
    shown = walker.show(5)
    assert walker.step == 5 and all(np.array_equal(shown[n], two_paths[n][5]) for n in two_paths)
    assert walker.images["surfing"].value == to_png(two_paths["surfing"][5], walker.image_scale)
    walker.slider.value = 0  # a user dragging the slider
    assert walker.images["straight"].value == to_png(two_paths["straight"][0], walker.image_scale)
    still = walker.still()
    labels = ["straight, step 2/5", "surfing, step 2/5"]
    expected = labelled_strip([two_paths["straight"][2], two_paths["surfing"][2]], labels, walker.image_scale)
    assert still["image/png"] == base64.b64encode(expected).decode("ascii"), "the still is the start, not step 0"
    assert Image.open(BytesIO(expected)).size[1] > 28 * walker.image_scale and "step 2" in still["text/plain"]
    assert _published(walker) == still


@pytest.mark.parametrize(
    "sequences, kwargs, fix",
    [
        ({}, {}, "at least one"),
        ({"a": np.zeros((3, 8, 8)), "b": np.zeros((4, 8, 8))}, {}, "same number of frames"),
        ({"a": np.zeros((1, 8, 8))}, {}, "2\\+ frames"),
        ({"a": np.full((3, 8, 8), 2.0)}, {}, "scale the frames"),
        ({"a": np.zeros((3, 8, 8))}, {"start": 3}, "from 0 to 2"),
        ({"a": np.zeros((3, 8, 8))}, {"image_scale": 0}, "pixels per image pixel"),
    ],
)
def test_the_walker_refuses_bad_sequences_saying_what_to_give(sequences, kwargs, fix):
    from latentlab.widgets import PathWalker

    with pytest.raises(ParameterError, match=fix):
        PathWalker(sequences, **kwargs)
