import numpy as np
import pytest

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

    from IPython.core.interactiveshell import InteractiveShell
    from PIL import Image

    ex = LatentExplorer(_flat_decoder, {"bright": np.r_[0.8, np.zeros(7)], "dark": np.zeros(8)}, n_sliders=3)
    ex.set_coefficients([-0.8, 0, 0])  # moving the sliders does not change the still: it shows the start
    still = ex.still()
    png = Image.open(BytesIO(base64.b64decode(still["image/png"])))
    assert png.size == (28 * 6, 28 * 6) and np.asarray(png).mean() == pytest.approx(0.8 * 255, abs=1)
    assert "bright" in still["text/plain"] and "data:image/png;base64," in still["text/html"]
    shown = []
    shell = InteractiveShell.instance()
    shell.display_pub.publish = lambda data, metadata=None, **kw: shown.append(data)
    try:
        ex._ipython_display_()
    finally:
        InteractiveShell.clear_instance()
    assert "application/vnd.jupyter.widget-view+json" in shown[0] and shown[1] == still
