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
