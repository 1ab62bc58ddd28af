"""Interactive latent explorers for JupyterLab (ipywidgets).

:class:`LatentExplorer` puts sliders on directions of a latent space (the code's own coordinates,
principal components, or any other basis) around a starting point, and shows the decoded image
live. Notebook 01 starts it at class means; notebook 02 at the bulk centre of faces. Below the live
explorer a notebook also keeps a still image of its starting view, which pages without a kernel
(the executed HTML, GitHub) show.
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from latentlab.errors import ParameterError


def to_png(image: ArrayLike, scale: int = 6) -> bytes:
    """PNG bytes of an image in [0, 1] ((h, w) or (h, w, 3)), enlarged ``scale`` times."""
    from PIL import Image

    array = (np.clip(np.asarray(image, np.float32), 0, 1) * 255).round().astype(np.uint8)
    pil = Image.fromarray(array.squeeze())
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def keras_decoder(decoder: Any, image_shape: Sequence[int]) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a Keras decoder as ``z (d,) -> image`` with a direct call (no ``predict`` overhead)."""
    import keras

    def decode(z: np.ndarray) -> np.ndarray:
        out = decoder(np.asarray(z, np.float32)[None], training=False)
        return keras.ops.convert_to_numpy(out)[0].reshape(image_shape)

    return decode


class LatentExplorer:
    """Sliders over ``directions`` of a latent space; the image is ``decode(origin + coeffs @ directions)``.

    decode:     function z (d,) -> image (h, w) or (h, w, 3) in [0, 1]
    starts:     named starting points {name: z (d,)}, e.g. class means; the first is the default
    directions: (k, d) unit directions (default: the first k coordinate axes)
    scales:     (k,) slider half-ranges are 3 x scale (default 1)
    n_sliders:  without ``directions``, how many code axes get a slider (at least 1)
    sampler:    optional ``rng -> z`` for the "random point" button
    labels:     (k,) slider names (default "dir 0", "dir 1", ...)
    """

    def __init__(
        self,
        decode: Callable[[np.ndarray], np.ndarray],
        starts: Mapping[str, np.ndarray],
        directions: np.ndarray | None = None,
        scales: np.ndarray | None = None,
        n_sliders: int = 8,
        sampler: Callable[[np.random.Generator], np.ndarray] | None = None,
        labels: Sequence[str] | None = None,
        seed: int = 0,
        image_scale: int = 6,
    ) -> None:
        import ipywidgets as w

        self.starts, self.directions, self.scales, labels = _checked(starts, directions, scales, n_sliders, labels)
        if isinstance(image_scale, bool) or not isinstance(image_scale, int | np.integer) or image_scale < 1:
            raise ParameterError(f"image_scale={image_scale!r}: give a whole number >= 1 (pixels per image pixel).")
        self.decode, self.sampler = decode, sampler
        self.rng = np.random.default_rng(seed)
        self.image_scale = image_scale
        self.last_update_s = 0.0
        self.start_menu = w.Dropdown(options=list(self.starts), description="start")
        self.sliders = [
            w.FloatSlider(
                value=0.0,
                min=-3.0 * float(s),
                max=3.0 * float(s),
                step=float(s) / 20,
                description=labels[i],
                continuous_update=True,
                readout_format=".2f",
            )
            for i, s in enumerate(self.scales)
        ]
        self.reset_button = w.Button(description="reset", icon="undo")
        self.random_button = w.Button(description="random point", icon="random", disabled=sampler is None)
        self.image = w.Image(format="png")
        self.status = w.HTML()
        self.origin = self.starts[self.start_menu.value]
        for s in self.sliders:
            s.observe(self._on_change, names="value")
        self.start_menu.observe(self._on_start, names="value")
        self.reset_button.on_click(lambda _: self.reset())
        self.random_button.on_click(lambda _: self.random_point())
        controls = w.VBox(
            [self.start_menu, *self.sliders, w.HBox([self.reset_button, self.random_button]), self.status]
        )
        self.widget = w.HBox([controls, self.image])
        self._hold = False
        self.update()

    @property
    def coefficients(self) -> np.ndarray:
        return np.array([s.value for s in self.sliders], np.float32)

    @property
    def z(self) -> np.ndarray:
        """The latent point shown now: origin + coefficients @ directions."""
        return self.origin + self.coefficients @ self.directions

    def update(self) -> np.ndarray:
        """Decode the current point, show it, and return the image."""
        t = time.perf_counter()
        self.current_image = self.decode(self.z)
        self.image.value = to_png(self.current_image, self.image_scale)
        self.last_update_s = time.perf_counter() - t
        self.status.value = f"<small>update {1000 * self.last_update_s:.0f} ms</small>"
        return self.current_image

    def set_coefficients(self, values: ArrayLike) -> None:
        """Move every slider at once (one redraw)."""
        self._hold = True
        try:
            for s, v in zip(self.sliders, values):
                s.value = float(np.clip(v, s.min, s.max))
        finally:
            self._hold = False
        self.update()

    def reset(self) -> None:
        self.set_coefficients(np.zeros(len(self.sliders)))

    def random_point(self) -> None:
        """Jump to a point drawn by ``sampler``, expressed in the slider directions."""
        if self.sampler is None:
            return
        target = np.asarray(self.sampler(self.rng), np.float32)
        coeffs = np.linalg.lstsq(self.directions.T, target - self.origin, rcond=None)[0]
        self.set_coefficients(coeffs)

    def _on_change(self, _change: Any) -> None:
        if not self._hold:
            self.update()

    def _on_start(self, change: Mapping[str, Any]) -> None:
        self.origin = self.starts[change["new"]]
        self.update()

    def still(self) -> dict[str, str]:
        """A display bundle of the starting view (the first start, sliders at 0) as a still PNG with a caption:
        what the executed HTML and GitHub show, since they cannot run the sliders."""
        start = next(iter(self.starts))
        image = self.decode(self.starts[start])
        encoded = base64.b64encode(to_png(image, self.image_scale)).decode("ascii")
        caption = f"Starting view of the explorer: {start}, every slider at 0 (run the notebook to move them)."
        return {
            "text/html": f'<figure><img src="data:image/png;base64,{encoded}" alt="{html.escape(caption)}">'
            f"<figcaption><small>{html.escape(caption)}</small></figcaption></figure>",
            "image/png": encoded,
            "text/plain": caption,
        }

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        display(self.still(), raw=True)


def _checked(
    starts: Mapping[str, np.ndarray],
    directions: np.ndarray | None,
    scales: np.ndarray | None,
    n_sliders: int,
    labels: Sequence[str] | None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[str]]:
    """LatentExplorer's inputs as arrays, or a ParameterError that says what to pass instead."""
    if not starts:
        raise ParameterError("LatentExplorer needs at least one starting point: starts={'name': z (d,)}.")
    points = {str(k): np.asarray(v, np.float32) for k, v in starts.items()}
    d = len(next(iter(points.values())))
    odd = {k: v.shape for k, v in points.items() if v.shape != (d,)}
    if odd:
        raise ParameterError(f"every starting point must be a code of shape ({d},); got {odd}.")
    if directions is None:
        if isinstance(n_sliders, bool) or not isinstance(n_sliders, int | np.integer) or n_sliders < 1:
            raise ParameterError(f"n_sliders={n_sliders!r}: give a whole number >= 1 (at most {d}, the code size).")
        directions = np.eye(d, dtype=np.float32)[: min(int(n_sliders), d)]
    directions = np.asarray(directions, np.float32)
    if directions.ndim != 2 or directions.shape[1] != d or len(directions) == 0:
        raise ParameterError(f"directions must be (k, {d}) with k >= 1 (one row per slider), got {directions.shape}.")
    k = len(directions)
    scales = np.ones(k, np.float32) if scales is None else np.asarray(scales, np.float32)
    if scales.shape != (k,) or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ParameterError(
            f"scales must be {k} positive numbers, one per slider (direction), got shape {scales.shape}"
            f"{'' if scales.shape != (k,) else ' with values <= 0 or not finite'}; e.g. the square roots of the PCA "
            "eigenvalues of those directions, or leave scales out for 1."
        )
    names = [f"dir {i}" for i in range(k)] if labels is None else [str(label) for label in labels]
    if len(names) != k:
        raise ParameterError(
            f"labels has {len(names)} names for {k} sliders: give one label per direction, or leave labels out."
        )
    return points, directions, scales, names
