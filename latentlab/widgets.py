"""Interactive latent explorers for JupyterLab (ipywidgets).

:class:`LatentExplorer` puts sliders on directions of a latent space (the code's own coordinates,
principal components, or any other basis) around a starting point, and shows the decoded image
live. Notebook 01 starts it at class means; notebook 02 at the bulk centre of faces. Below the live
explorer a notebook also keeps a still image of its starting view, which pages without a kernel
(the executed HTML, GitHub) show.

:class:`TripletScrubber` slides t from 0 to 1 along latent paths between a triplet's frame 1 and frame 3 (straight,
slerp, through a predicted middle latent; :mod:`latentlab.latent.paths` builds them) and shows the decoded frame
beside the real frames 1, 2, 3 (notebook 03).
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
from latentlab.latent.paths import polyline_path


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


def still_bundle(png: bytes, caption: str) -> dict[str, str]:
    """A display bundle (HTML figure with caption, PNG, plain text) of a widget's starting view: what executed HTML,
    GitHub and Colab show where no kernel runs the widget."""
    encoded = base64.b64encode(png).decode("ascii")
    return {
        "text/html": f'<figure><img src="data:image/png;base64,{encoded}" alt="{html.escape(caption)}">'
        f"<figcaption><small>{html.escape(caption)}</small></figcaption></figure>",
        "image/png": encoded,
        "text/plain": caption,
    }


def labelled_strip(images: Sequence[np.ndarray], labels: Sequence[str], scale: int) -> bytes:
    """Images (H, W, 3) or (H, W) in [0, 1] side by side in one PNG, each enlarged ``scale`` times under its label:
    the still of a widget that shows several images at once."""
    from PIL import Image, ImageDraw

    pngs = [Image.open(io.BytesIO(to_png(im, scale))).convert("RGB") for im in images]
    band, gap = 14, 6
    width = sum(p.width for p in pngs) + gap * (len(pngs) + 1)
    strip = Image.new("RGB", (width, band + max(p.height for p in pngs) + gap), "white")
    draw, x = ImageDraw.Draw(strip), gap
    for pic, label in zip(pngs, labels):
        strip.paste(pic, (x, band))
        draw.text((x, 1), label, fill="black")
        x += pic.width + gap
    buffer = io.BytesIO()
    strip.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


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
        caption = f"Starting view of the explorer: {start}, every slider at 0 (run the notebook to move them)."
        return still_bundle(to_png(image, self.image_scale), caption)

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


#: A path as the scrubber takes it: a function t in [0, 1] -> latent (h, w, c), or key latents (k, h, w, c) that
#: the path runs through piecewise-straight (:func:`latentlab.latent.paths.polyline_path`).
LatentPath = Callable[[float], np.ndarray] | ArrayLike


class TripletScrubber:
    """A slider scrubbing t in [0, 1] along a triplet's latent paths, with the decoded frame ``decode(path(t))``
    shown beside the real frames 1, 2, 3 (t = 0 is frame 1's end of the path, t = 1 frame 3's).

    decode:      function latent (h, w, c) -> image (H, W, 3) or (H, W) in [0, 1], e.g. the VAE's decoder
    frames:      (3, H, W, 3) or (3, H, W) real frames 1, 2, 3 in [0, 1]
    paths:       {name: path}, each a function t -> latent (h, w, c) (:func:`~latentlab.latent.paths.linear_path`,
                 :func:`~latentlab.latent.paths.slerp_path`) or key latents (k, h, w, c), k >= 2, run through
                 piecewise-straight (e.g. (z1, predicted z2, z3)); all of one latent shape. The first is shown first.
    steps:       slider positions after 0 (t moves in steps of 1 / steps)
    t:           where the slider starts (the still shows this view)
    image_scale: pixels per image pixel (default: the least whole number drawing frames >= 128 px)
    continuous:  decode while the slider is dragged (for fast decoders); by default only where it is let go

    Decoded frames are kept per (path, t), so going back over the slider decodes nothing again.
    """

    def __init__(
        self,
        decode: Callable[[np.ndarray], np.ndarray],
        frames: ArrayLike,
        paths: Mapping[str, LatentPath],
        steps: int = 20,
        t: float = 0.5,
        image_scale: int | None = None,
        continuous: bool = False,
    ) -> None:
        import ipywidgets as w

        self.frames = _frames(frames)
        self.paths, self.latent_shape = _paths(paths)
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
            raise ParameterError(f"steps={steps!r}: give a whole number >= 1 (slider positions after t = 0).")
        if image_scale is None:
            image_scale = max(1, -(-128 // max(self.frames.shape[1:3])))
        if isinstance(image_scale, bool) or not isinstance(image_scale, int | np.integer) or image_scale < 1:
            raise ParameterError(f"image_scale={image_scale!r}: give a whole number >= 1 (pixels per image pixel).")
        self.decode, self.image_scale = decode, int(image_scale)
        self.cache: dict[tuple[str, float], tuple[np.ndarray, bytes]] = {}
        self.last_update_s = 0.0
        first = next(iter(self.paths))
        self.start = (first, _unit_t(t))
        self.path_menu = w.ToggleButtons(options=list(self.paths), value=first, description="path")
        self.slider = w.FloatSlider(
            value=self.start[1],
            min=0.0,
            max=1.0,
            step=1.0 / int(steps),
            description="t",
            continuous_update=bool(continuous),
            readout_format=".2f",
        )
        self.image = w.Image(format="png")
        self.caption = w.HTML()
        self.status = w.HTML()
        real = [
            w.VBox([w.HTML(f"<b>frame {k + 1}</b>"), w.Image(value=to_png(f, self.image_scale), format="png")])
            for k, f in enumerate(self.frames)
        ]
        self.widget = w.VBox(
            [
                w.HBox([self.path_menu]),
                w.HBox([self.slider, self.status]),
                w.HBox([*real, w.VBox([self.caption, self.image])]),
            ]
        )
        self._hold = False
        self.slider.observe(self._on_change, names="value")
        self.path_menu.observe(self._on_change, names="value")
        self.update()
        if self.current_image.shape[:2] != self.frames.shape[1:3]:
            raise ParameterError(
                f"decode returned an image of shape {self.current_image.shape} but the frames are "
                f"{self.frames.shape[1:]}: give frames at the decoder's resolution (or resize the decoded image "
                "inside decode)."
            )

    @property
    def t(self) -> float:
        return float(self.slider.value)

    @property
    def path(self) -> str:
        """The name of the path shown now."""
        return str(self.path_menu.value)

    @property
    def z(self) -> np.ndarray:
        """The latent shown now, (h, w, c): ``paths[path](t)``."""
        return self.paths[self.path](self.t)

    def frame(self, path: str, t: float) -> np.ndarray:
        """The decoded frame (H, W, 3) at ``t`` in [0, 1] on the path named ``path`` (from the cache if seen)."""
        return self._decoded(path, t)[0]

    def show(self, path: str | None = None, t: float | None = None) -> np.ndarray:
        """Switch to ``path`` and/or move the slider to ``t`` (one redraw); returns the image shown."""
        if path is not None:
            self._name(path)
        if t is not None:
            t = _unit_t(t)
        self._hold = True
        try:
            if path is not None:
                self.path_menu.value = path
            if t is not None:
                self.slider.value = t
        finally:
            self._hold = False
        return self.update()

    def update(self) -> np.ndarray:
        """Decode (or recall) the frame at the current path and t, show it, and return it."""
        start = time.perf_counter()
        self.current_image, png = self._decoded(self.path, self.t)
        self.image.value = png
        self.caption.value = f"<b>{html.escape(self.path)}, t = {self.t:.2f}</b>"
        self.last_update_s = time.perf_counter() - start
        self.status.value = f"<small>update {1000 * self.last_update_s:.0f} ms</small>"
        return self.current_image

    def _name(self, path: str) -> str:
        if path not in self.paths:
            raise ParameterError(f"unknown path {path!r}: choose one of {list(self.paths)}.")
        return path

    def _decoded(self, path: str, t: float) -> tuple[np.ndarray, bytes]:
        key = (self._name(path), round(_unit_t(t), 9))
        if key not in self.cache:
            z = np.asarray(self.paths[path](key[1]), np.float32)
            if z.shape != self.latent_shape:
                raise ParameterError(
                    f"path {path!r} gave a latent of shape {z.shape} at t = {key[1]:g}, not {self.latent_shape}: "
                    "every path must return latents of one shape."
                )
            image = np.asarray(self.decode(z), np.float32)
            self.cache[key] = image, to_png(image, self.image_scale)
        return self.cache[key]

    def _on_change(self, _change: Any) -> None:
        if not self._hold:
            self.update()

    def still(self) -> dict[str, str]:
        """A display bundle of the starting view (the first path at the starting t) as one PNG strip: frames 1, 2, 3
        and the decoded frame, each labelled: what the executed HTML, GitHub and Colab show without a kernel."""
        path, t = self.start
        images = [*self.frames, self.frame(path, t)]
        labels = ["frame 1", "frame 2", "frame 3", f"{path}, t = {t:.2f}"]
        caption = (
            f"Starting view of the scrubber: frames 1, 2, 3 and the {path} path decoded at t = {t:.2f} "
            "(run the notebook to move the slider)."
        )
        return still_bundle(labelled_strip(images, labels, self.image_scale), caption)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        display(self.still(), raw=True)


def _unit_t(t: float) -> float:
    if isinstance(t, bool) or not isinstance(t, int | float | np.integer | np.floating) or not 0 <= t <= 1:
        raise ParameterError(f"t={t!r}: give a number in [0, 1] (0 = frame 1's end of the path, 1 = frame 3's).")
    return float(t)


def _frames(frames: ArrayLike) -> np.ndarray:
    """The real frames 1, 2, 3 as float32 (3, H, W[, 3]) in [0, 1], or a ParameterError saying what to pass."""
    try:
        frames = np.asarray(frames)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"frames are not an array of numbers ({err}); give (3, H, W, 3) in [0, 1].") from None
    if frames.ndim not in (3, 4) or len(frames) != 3 or (frames.ndim == 4 and frames.shape[-1] != 3):
        raise ParameterError(f"frames have shape {frames.shape}: give the triplet's frames 1, 2, 3 as (3, H, W, 3).")
    if frames.dtype.kind not in "fiu":
        raise ParameterError(f"frames have dtype {frames.dtype}: give numbers in [0, 1].")
    frames = frames.astype(np.float32)
    if not np.isfinite(frames).all() or frames.min() < 0 or frames.max() > 1:
        raise ParameterError(
            f"frames range over [{frames.min():g}, {frames.max():g}]: give images in [0, 1] (uint8 / 255, or "
            "atd12k.to_unit_range for the VAE's [-1, 1])."
        )
    return frames


def _paths(paths: Mapping[str, LatentPath]) -> tuple[dict[str, Callable[[float], np.ndarray]], tuple[int, ...]]:
    """TripletScrubber's paths as functions t -> latent, with their common latent shape, or a ParameterError."""
    if not isinstance(paths, Mapping) or not paths:
        raise ParameterError(
            "TripletScrubber needs at least one path: paths={'linear': paths.linear_path(z1, z3), ...} "
            "(functions t -> latent) or {'predicted': (z1, z2_hat, z3)} (key latents)."
        )
    out: dict[str, Callable[[float], np.ndarray]] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for name, path in paths.items():
        name = str(name)
        if not callable(path):
            try:
                path = polyline_path(*np.asarray(path, np.float32))
            except (TypeError, ValueError) as err:  # ParameterError included: say which path it was
                raise ParameterError(
                    f"path {name!r}: give a function t -> latent or key latents (k, h, w, c), k >= 2 ({err})."
                ) from None
        ends = [np.asarray(path(t), np.float32) for t in (0.0, 1.0)]
        if ends[0].shape != ends[1].shape or not all(np.isfinite(e).all() for e in ends):
            raise ParameterError(
                f"path {name!r} gives latents {ends[0].shape} and {ends[1].shape} at t = 0 and 1, "
                "or values that are not finite: a path must give finite latents of one shape."
            )
        out[name], shapes[name] = path, ends[0].shape
    if len(set(shapes.values())) != 1:
        raise ParameterError(
            f"the paths give latents of different shapes {shapes}: build every path from the same triplet's "
            "latents (one (h, w, c) shape)."
        )
    return out, next(iter(shapes.values()))


class PathWalker:
    """A slider stepping along sequences of frames of one length, all shown at the same step side by side: e.g. the
    decoded frames of a straight and a surfing interpolation beside the ground truth (notebook 04), walked frame by
    frame instead of watched as a GIF.

    sequences:   {name: frames (n, H, W, 3) or (n, H, W) in [0, 1]}, n >= 2 and the same for every sequence
    start:       the step shown first (the still shows it)
    image_scale: pixels per image pixel (default: the least whole number drawing frames >= 128 px)
    """

    def __init__(self, sequences: Mapping[str, ArrayLike], start: int = 0, image_scale: int | None = None) -> None:
        import ipywidgets as w

        self.sequences = _sequences(sequences)
        n = len(next(iter(self.sequences.values())))
        if isinstance(start, bool) or not isinstance(start, int | np.integer) or not 0 <= start < n:
            raise ParameterError(f"start={start!r}: give a step from 0 to {n - 1}.")
        largest = max(max(f.shape[1:3]) for f in self.sequences.values())
        image_scale = max(1, -(-128 // largest)) if image_scale is None else image_scale
        if isinstance(image_scale, bool) or not isinstance(image_scale, int | np.integer) or image_scale < 1:
            raise ParameterError(f"image_scale={image_scale!r}: give a whole number >= 1 (pixels per image pixel).")
        self.n_steps, self.start, self.image_scale = n, int(start), int(image_scale)
        self.cache: dict[tuple[str, int], bytes] = {}
        self.slider = w.IntSlider(value=self.start, min=0, max=n - 1, description="step")
        self.images = {name: w.Image(format="png") for name in self.sequences}
        self.widget = w.VBox(
            [
                self.slider,
                w.HBox([w.VBox([w.HTML(f"<b>{html.escape(name)}</b>"), im]) for name, im in self.images.items()]),
            ]
        )
        self.slider.observe(lambda _change: self.update(), names="value")
        self.update()

    @property
    def step(self) -> int:
        return int(self.slider.value)

    def show(self, step: int) -> dict[str, np.ndarray]:
        """Move the slider to ``step`` and return the frame of every sequence there."""
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or not 0 <= step < self.n_steps:
            raise ParameterError(f"step={step!r}: give a step from 0 to {self.n_steps - 1}.")
        self.slider.value = int(step)
        return self.frames(int(step))

    def frames(self, step: int) -> dict[str, np.ndarray]:
        """Every sequence's frame at ``step``."""
        return {name: frames[step] for name, frames in self.sequences.items()}

    def update(self) -> None:
        """Show every sequence's frame at the slider's step."""
        for name, image in self.images.items():
            key = (name, self.step)
            if key not in self.cache:
                self.cache[key] = to_png(self.sequences[name][self.step], self.image_scale)
            image.value = self.cache[key]

    def still(self) -> dict[str, str]:
        """A display bundle of the starting step as one labelled PNG strip, for where no kernel runs the slider."""
        labels = [f"{name}, step {self.start}/{self.n_steps - 1}" for name in self.sequences]
        png = labelled_strip(list(self.frames(self.start).values()), labels, self.image_scale)
        caption = f"Starting view of the walker: step {self.start} of every path (run the notebook to move the slider)."
        return still_bundle(png, caption)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        display(self.still(), raw=True)


def _sequences(sequences: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    """The walker's sequences as float32 arrays (n, H, W[, 3]) in [0, 1], or a ParameterError saying what to pass."""
    if not isinstance(sequences, Mapping) or not sequences:
        raise ParameterError("give the sequences as a dict {name: frames (n, H, W, 3) in [0, 1]}, at least one.")
    out = {}
    for name, frames in sequences.items():
        try:
            frames = np.asarray(frames, np.float32)
        except (TypeError, ValueError) as err:
            raise ParameterError(f"{name!r}: not an array of numbers ({err}); give (n, H, W, 3) in [0, 1].") from None
        if frames.ndim not in (3, 4) or len(frames) < 2 or (frames.ndim == 4 and frames.shape[-1] not in (1, 3)):
            raise ParameterError(f"{name!r} has shape {frames.shape}; give 2+ frames, (n, H, W, 3) or (n, H, W).")
        if not np.isfinite(frames).all() or frames.min() < 0 or frames.max() > 1:
            raise ParameterError(f"{name!r} holds values outside [0, 1] or NaN; scale the frames to [0, 1].")
        out[str(name)] = frames
    lengths = {name: len(f) for name, f in out.items()}
    if len(set(lengths.values())) > 1:
        raise ParameterError(f"the sequences differ in length {lengths}; give every path the same number of frames.")
    return out
