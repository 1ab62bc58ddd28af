"""Figures: each paper figure is one call here. Images as matplotlib grids, point clouds as plotly."""

from __future__ import annotations

import base64
import functools
import io
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
from matplotlib.markers import MarkerStyle
from matplotlib.patches import FancyArrowPatch
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from latentlab.errors import ParameterError

#: Pixels per inch of the figures drawn here. :func:`image_grid` sizes its cells in pixels from it, and sets it on
#: its figure, so a front end's own default dpi cannot shrink the images.
DPI = 100
#: Font sizes (points) of image_grid's title, row labels and column labels.
TITLE_PT, ROW_PT, COL_PT = 12, 9, 8
_PAD = 6  # pixels between labels and images, and around the figure
_GAP = 4  # pixels between neighbouring images


def _as_images(batch: ArrayLike, image_shape: tuple[int, ...] | None) -> np.ndarray:
    batch = np.asarray(batch)
    if batch.ndim == 2 or (image_shape and batch.shape[1:] != tuple(image_shape)):
        batch = batch.reshape(len(batch), *image_shape)
    return batch


def _text_size(text: str, points: float) -> tuple[float, float]:
    """Width and height in pixels (at :data:`DPI`) of ``text``, one line per ``\\n``."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    renderer, font = RendererAgg(1, 1, DPI), FontProperties(size=points)
    lines = str(text).split("\n")
    width = max(renderer.get_text_width_height_descent(line or " ", font, ismath=False)[0] for line in lines)
    return width, len(lines) * points * DPI / 72 * 1.3


def image_zoom(image_size: tuple[int, int], cell: float) -> float:
    """How much image_grid enlarges an image of ``image_size`` (h, w) pixels: to ``cell`` inches (at :data:`DPI`)
    along its longer side, but never below 1, so an image is never drawn smaller than its native size."""
    return max(1.0, cell * DPI / max(image_size))


def image_grid(
    rows: Sequence,
    row_labels: Sequence | None = None,
    col_labels: Sequence | None = None,
    title: str | None = None,
    image_shape: tuple[int, ...] | None = (28, 28),
    cell: float = 0.9,
    cmap: str = "gray",
) -> plt.Figure:
    """A grid of images: ``rows`` is a list of batches (each (n, h, w[, c]) or flat (n, h*w)), drawn one batch a
    row. Returns the figure.

    The figure is sized in pixels: every image is drawn ``cell`` inches wide (90 px at the default) or at its
    native size if that is larger (a 256 px frame), never smaller, and the title and labels get room of their
    own instead of squeezing the images. A column is widened to fit its label; a long title wraps."""
    import textwrap

    rows = [_as_images(r, image_shape) for r in rows]
    if not rows or not any(len(r) for r in rows):
        raise ParameterError("image_grid needs at least one row with at least one image.")
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    h, w = max(r.shape[1] for r in rows), max(r.shape[2] for r in rows)
    zoom = image_zoom((h, w), cell)
    img_w, img_h = round(w * zoom), round(h * zoom)
    col_text = [str(c) for c in col_labels][:n_cols] if col_labels is not None else []
    col_w = max([img_w] + [_text_size(c, COL_PT)[0] for c in col_text]) + _GAP
    col_h = max([_text_size(c, COL_PT)[1] for c in col_text], default=0)
    row_text = [str(r) for r in row_labels] if row_labels is not None else []
    row_w = max([_text_size(r, ROW_PT)[0] for r in row_text], default=0)
    left = _PAD + (row_w + _PAD if row_text else 0)
    width = left + n_cols * col_w + _PAD
    title_text, title_h = "", 0.0
    if title:
        chars = max(20, int(len(title) * (width - 2 * _PAD) / max(_text_size(title, TITLE_PT)[0], 1)))
        title_text = "\n".join(textwrap.wrap(str(title), chars)) or str(title)
        title_h = _text_size(title_text, TITLE_PT)[1] + _PAD
    left, col_w = round(left), round(col_w)
    top = round(_PAD + title_h + (col_h + 2 if col_text else 0))
    height = top + n_rows * (img_h + _GAP) + _PAD
    fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    if title_text:
        fig.text(0.5, 1 - _PAD / height, title_text, ha="center", va="top", fontsize=TITLE_PT)
    for i, batch in enumerate(rows):
        y = top + i * (img_h + _GAP)
        if row_text and i < len(row_text):
            x_label, y_label = (left - _PAD) / width, 1 - (y + img_h / 2) / height
            fig.text(x_label, y_label, row_text[i], ha="right", va="center", fontsize=ROW_PT)
        for j, image in enumerate(batch):
            x = round(left + j * col_w + (col_w - img_w) / 2)
            ax = fig.add_axes((x / width, 1 - (y + img_h) / height, img_w / width, img_h / height))
            ax.set_axis_off()
            floats = batch.dtype.kind == "f"
            ax.imshow(
                np.clip(image, 0, 1) if floats else image,
                cmap=cmap,
                vmin=0,
                vmax=1 if floats else 255,
            )
    for j, label in enumerate(col_text):
        x, y = (left + (j + 0.5) * col_w) / width, 1 - (top - 2) / height
        fig.text(x, y, label, ha="center", va="bottom", fontsize=COL_PT)
    return fig


def training_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    keys: Sequence[str] = ("loss", "val_loss"),
    title: str | None = None,
    log: bool = True,
    first_epoch: int = 1,
    x_label: str = "epoch",
) -> plt.Figure:
    """Loss per epoch of several runs (``{name: keras history dict}``), one panel per key. The first value of each
    series is drawn at ``first_epoch`` (0 for a series that starts with a measurement before training).
    ``x_label`` names what one value stands for, e.g. ``"iteration"`` for the per-batch values of a
    :class:`~latentlab.models.training.BatchCurve`."""
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, hist in histories.items():
            if key in hist:
                epochs = np.arange(first_epoch, first_epoch + len(hist[key]))
                ax.plot(epochs, hist[key], label=name, marker="." if len(hist[key]) < 30 else None)
        ax.set_xlabel(x_label)
        ax.set_ylabel(key)
        ax.set_title(key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def pca_figure(eigenvalues: np.ndarray, projections: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> plt.Figure:
    """Paper Fig. 7: the eigenvalue spectrum, then one 2-d scatter per entry of ``projections``
    (``{"0 vs 1": (coords (n, 2), labels (n,))}``)."""
    fig, axes = plt.subplots(1, 1 + len(projections), figsize=(4.2 * (1 + len(projections)), 3.6))
    axes[0].bar(np.arange(1, len(eigenvalues) + 1), eigenvalues)
    axes[0].set_xlabel("principal component"), axes[0].set_ylabel("eigenvalue"), axes[0].set_title("spectrum")
    for ax, (name, (coords, labels)) in zip(axes[1:], projections.items()):
        for c in np.unique(labels):
            pts = coords[labels == c]
            ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.4, label=str(c))
        ax.set_xlabel("PC 1"), ax.set_ylabel("PC 2"), ax.set_title(name)
        ax.legend(markerscale=4, fontsize=8)
    fig.tight_layout()
    return fig


def sweep_plot(x: Sequence, curves: Mapping[str, Sequence[float]], xlabel: str, log_x: bool = True) -> plt.Figure:
    """One panel per curve against a swept parameter (e.g. BIC and held-out likelihood against K)."""
    fig, axes = plt.subplots(1, len(curves), figsize=(4.5 * len(curves), 3.2), squeeze=False)
    for ax, (name, ys) in zip(axes[0], curves.items()):
        ax.plot(x, ys, marker="o")
        ax.set_xlabel(xlabel), ax.set_title(name)
        if log_x:
            ax.set_xscale("log")
    fig.tight_layout()
    return fig


def _in_colab() -> bool:
    return "google.colab" in sys.modules


class PointCloudFigure(go.Figure):
    """A plotly figure that shows everywhere: interactive in JupyterLab, VS Code and Colab, and as a static PNG
    (drawn with matplotlib from the same traces) wherever plotly's own output is not rendered, as in nbconvert's
    HTML and GitHub's notebook preview. Use it like any ``plotly.graph_objects.Figure``.

    Its display bundle holds plotly's figure JSON (which JupyterLab and VS Code render), ``image/png`` (the
    static view), and in Colab, whose outputs run in frames of their own, an HTML page that loads plotly.js."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        import plotly.io as pio

        bundle = pio.renderers["plotly_mimetype"].to_mimebundle(self.to_dict())
        bundle["image/png"] = base64.b64encode(static_png(self)).decode("ascii")
        bundle["text/plain"] = f"<{type(self).__name__}: {self.layout.title.text or 'plotly figure'}>"
        if _in_colab():
            bundle["text/html"] = self.to_html(include_plotlyjs="cdn", full_html=False)
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)


def _scalar(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default


def _marker_colours(trace: Any) -> Any:
    """Matplotlib colours of a trace's markers: one colour, a list of colours, or numbers for a colour map."""
    colour = trace.marker.color if trace.marker is not None else None
    if colour is None:
        return None
    if isinstance(colour, str):
        return colour
    values = np.asarray(colour)
    return values.astype(float) if values.dtype.kind in "iuf" else list(values.astype(str))


def static_png(fig: go.Figure, width: int = 900) -> bytes:
    """A PNG of a plotly figure's scatter traces (2-d, WebGL and 3-d, in its subplots), drawn with matplotlib: the
    static view of :class:`PointCloudFigure`. Layout width and height are in pixels (``width`` when unset)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    layout = fig.layout
    w, h = layout.width or width, layout.height or 520
    out = Figure(figsize=(w / DPI, h / DPI), dpi=DPI)
    FigureCanvasAgg(out)
    box = (0.07, 0.08, 0.78, 0.88)  # left, bottom, right, top of the area plotly's domains divide

    def rect(dx: Sequence[float], dy: Sequence[float]) -> tuple[float, float, float, float]:
        x0, x1 = box[0] + dx[0] * (box[2] - box[0]), box[0] + dx[1] * (box[2] - box[0])
        y0, y1 = box[1] + dy[0] * (box[3] - box[1]), box[1] + dy[1] * (box[3] - box[1])
        return x0, y0, x1 - x0, y1 - y0

    axes: dict[str, Any] = {}
    handles, seen = [], set()
    for trace in fig.data:
        if trace.type not in ("scatter", "scattergl", "scatter3d"):
            continue
        if trace.type == "scatter3d":
            key = trace.scene or "scene"
            if key not in axes:
                scene = layout[key]
                axes[key] = out.add_axes(rect(scene.domain.x or (0, 1), scene.domain.y or (0, 1)), projection="3d")
                axes[key].set_xlabel(scene.xaxis.title.text or "x", fontsize=8)
                axes[key].set_ylabel(scene.yaxis.title.text or "y", fontsize=8)
                axes[key].set_zlabel(scene.zaxis.title.text or "z", fontsize=8)
        else:
            xname, yname = "xaxis" + (trace.xaxis or "x")[1:], "yaxis" + (trace.yaxis or "y")[1:]
            key = xname + yname
            if key not in axes:
                xa, ya = layout[xname], layout[yname]
                axes[key] = out.add_axes(rect(xa.domain or (0, 1), ya.domain or (0, 1)))
                axes[key].set_xlabel(xa.title.text or "", fontsize=8)
                axes[key].set_ylabel(ya.title.text or "", fontsize=8)
        ax = axes[key]
        points = [
            np.asarray(v, dtype=float) for v in (trace.x, trace.y, *([trace.z] if trace.type == "scatter3d" else []))
        ]
        size = max(3.0, _scalar(trace.marker.size if trace.marker is not None else None, 6.0))
        alpha = _scalar(trace.opacity, 1.0) * _scalar(trace.marker.opacity if trace.marker is not None else None, 1.0)
        colour = _marker_colours(trace)
        style = {"cmap": "viridis"} if isinstance(colour, np.ndarray) else {}
        if trace.type == "scatter3d":
            style["depthshade"] = False
        drawn = ax.scatter(*points, s=(0.72 * size) ** 2, c=colour, alpha=alpha, linewidths=0, **style)
        if "lines" in (trace.mode or ""):
            ax.plot(*points, color=colour if isinstance(colour, str) else None, alpha=alpha, lw=1)
        ax.tick_params(labelsize=7)
        if trace.name and trace.showlegend is not False and trace.name not in seen:
            seen.add(trace.name)
            face = colour if isinstance(colour, str) else drawn.get_facecolor()[0]
            handles.append(plt.Line2D([], [], marker="o", ls="", color=face, markersize=6, label=trace.name))
    if handles:
        out.legend(
            handles=handles,
            loc="center left",
            bbox_to_anchor=(box[2] + 0.02, 0.5),
            fontsize=8,
            title_fontsize=8,
            frameon=False,
            title=layout.legend.title.text or None,
        )
    for note in layout.annotations or ():
        if note.xref == "paper" and note.yref == "paper" and note.text:
            x, y = box[0] + note.x * (box[2] - box[0]), box[1] + note.y * (box[3] - box[1])
            out.text(x, y, note.text, ha=note.xanchor or "center", va=note.yanchor or "bottom", fontsize=9)
    if layout.title.text:
        out.suptitle(layout.title.text, x=box[0], ha="left", fontsize=12)
    buffer = io.BytesIO()
    out.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def latent_scatter(
    coords: np.ndarray, labels: ArrayLike, title: str = "latent codes", hover: ArrayLike | None = None
) -> PointCloudFigure:
    """Interactive plotly scatter (2-d or 3-d) of codes (n, 2 or more) coloured by label (n,), with a static view
    for pages that cannot run plotly (:class:`PointCloudFigure`)."""
    import plotly.express as px

    coords = np.asarray(coords)
    labels = np.asarray(labels).astype(str)
    order = np.argsort(labels, kind="stable")
    kwargs = dict(
        color=labels[order],
        title=title,
        opacity=0.6,
        hover_name=None if hover is None else np.asarray(hover)[order],
        labels={"color": "class"},
    )
    if coords.shape[1] >= 3:
        fig = px.scatter_3d(x=coords[order, 0], y=coords[order, 1], z=coords[order, 2], **kwargs)
        fig.update_traces(marker_size=2)
    else:
        fig = px.scatter(x=coords[order, 0], y=coords[order, 1], **kwargs)
        fig.update_traces(marker_size=4)
    fig.update_layout(height=520, legend_itemsizing="constant")
    return PointCloudFigure(fig)


def component_histograms(
    z: np.ndarray,
    mean: np.ndarray,
    width: np.ndarray,
    components: Sequence[int],
    bins: int = 40,
    cols: int = 4,
    title: str | None = None,
) -> plt.Figure:
    """Number distribution of each latent component in ``components`` (histogram of ``z`` (n, d)),
    with its Gaussian fit N(mean_j, width_j^2) (``mean``, ``width`` (d,)) drawn over it."""
    rows = -(-len(components) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.flat[len(components) :]:
        ax.axis("off")
    for ax, j in zip(axes.flat, components):
        ax.hist(z[:, j], bins=bins, density=True, color="tab:blue", alpha=0.6)
        x = np.linspace(z[:, j].min(), z[:, j].max(), 200)
        ax.plot(x, np.exp(-0.5 * ((x - mean[j]) / width[j]) ** 2) / (width[j] * np.sqrt(2 * np.pi)), color="tab:red")
        ax.axvline(0, color="gray", lw=0.8, ls=":")
        ax.set_title(f"z{j}: mean {mean[j]:.2f}, width {width[j]:.2f}", fontsize=8)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def correlation_matrix(corr: np.ndarray, title: str = "correlation of latent components") -> plt.Figure:
    """The (d, d) correlation matrix as a heat map (blue -1 ... red +1)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_xlabel("component"), ax.set_ylabel("component"), ax.set_title(title)
    fig.tight_layout()
    return fig


def radius_panels(
    real: np.ndarray,
    uniform: Mapping[float, np.ndarray],
    d: int,
    matched_b: float,
    bins: int = 60,
    title: str = "radii of statistical (above) and real (below) latent vectors",
) -> plt.Figure:
    """Radii on one radius axis, in two panels with densities of their own: above, uniform statistical vectors
    (``{b: radii}``), each with its analytic density (dashed): the thin shells; below, the real latent vectors
    (n,), whose radii spread so much wider that beside the shells' spikes on one density axis they vanish. The
    radius-matched shell, ``uniform[matched_b]``, is drawn in green: its histogram above, its mean +- 2 standard
    deviations as a band below, where it falls among the real radii."""
    from latentlab.latent.statistics import uniform_radius_moments, uniform_radius_pdf

    fig, (above, below) = plt.subplots(2, 1, sharex=True, figsize=(8.5, 5.6))
    blog = [b for b in uniform if b != matched_b]
    for b, r in uniform.items():
        matched = b == matched_b
        colour = "tab:green" if matched else plt.cm.autumn(blog.index(b) / max(1, len(blog) - 1))
        label = f"uniform b*={b:.2f} (radius-matched)" if matched else f"uniform b={b:g}"
        above.hist(r, bins=bins // 2, density=True, color=colour, alpha=0.5, label=label)
        x = np.linspace(r.min() * 0.9, r.max() * 1.1, 200)
        above.plot(x, uniform_radius_pdf(x, b, d), color=colour, ls="--", lw=1.2)
    below.hist(real, bins=bins, density=True, color="tab:blue", alpha=0.7, label=f"real (encoded faces, {len(real)})")
    mean, std = uniform_radius_moments(matched_b, d)
    below.axvspan(mean - 2 * std, mean + 2 * std, color="tab:green", alpha=0.25, label="shell of b* (mean +- 2 std)")
    above.set_ylabel("density"), below.set_ylabel("density"), below.set_xlabel("radius |z|")
    above.set_title(title)
    above.legend(fontsize=8), below.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plane_projections(
    z: np.ndarray,
    planes: Sequence[tuple[int, int]],
    marks: Mapping[str, tuple[np.ndarray, str]] | None = None,
    title: str = "z-points projected onto coordinate planes",
    cols: int = 3,
) -> PointCloudFigure:
    """Interactive orthogonal projections of z-points (n, d) (blue) onto coordinate planes (j1, j2),
    one panel per plane, with extra point sets on top: ``marks`` = {name: (points (m, d) or (d,), colour)},
    e.g. the origin (yellow), the bulk centre (orange) and a path (red) as in the blog's part VI."""
    return _plane_panels(z, planes, marks, title, cols)


def origin_zoom(
    z: np.ndarray,
    planes: Sequence[tuple[int, int]],
    half_width: float,
    marks: Mapping[str, tuple[np.ndarray, str]] | None = None,
    title: str = "the surroundings of the origin",
    cols: int = 3,
) -> PointCloudFigure:
    """The blog's closer look at the origin (part IV): :func:`plane_projections` of z-points (n, d) and ``marks``,
    each panel showing only the points whose projection falls into the square |z_j1|, |z_j2| <= ``half_width``
    around the origin, with that square drawn as a grey frame and the axes fixed to it (interactive and static)."""
    return _plane_panels(z, planes, marks, title, cols, window=float(half_width))


def _plane_panels(
    z: np.ndarray,
    planes: Sequence[tuple[int, int]],
    marks: Mapping[str, tuple[np.ndarray, str]] | None,
    title: str,
    cols: int,
    window: float | None = None,
) -> PointCloudFigure:
    """:func:`plane_projections`, or with ``window`` :func:`origin_zoom`."""
    from plotly.subplots import make_subplots

    rows = -(-len(planes) // cols)
    ncols = min(cols, len(planes))
    fig = make_subplots(rows=rows, cols=ncols, subplot_titles=[f"components {a}, {b}" for a, b in planes])
    layers = {"z-points": (np.asarray(z), "#1f77b4")} | dict(marks or {})
    zoomed_opacity = 0.5 if window else 0.35  # fewer points in a window: drawn larger and stronger
    for i, (a, b) in enumerate(planes):
        for name, (points, colour) in layers.items():
            points = np.atleast_2d(points)
            if window is not None:
                points = points[(np.abs(points[:, [a, b]]) <= window).all(axis=1)]
            big = name != "z-points"
            fig.add_trace(
                go.Scattergl(
                    x=points[:, a],
                    y=points[:, b],
                    mode="markers",
                    name=name,
                    legendgroup=name,
                    showlegend=i == 0,
                    opacity=1.0 if big else zoomed_opacity,
                    marker=dict(
                        color=colour,
                        size=(7 if window else 9) if big else (5 if window else 3),
                        line=dict(width=0.5, color="black") if big else None,
                    ),
                ),
                row=i // ncols + 1,
                col=i % ncols + 1,
            )
        if window is not None:  # the frame keeps the static view's axes on the window however few points fall in it
            frame = window * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]])
            fig.add_trace(
                go.Scatter(
                    x=frame[:, 0],
                    y=frame[:, 1],
                    mode="lines+markers",
                    name="window",
                    showlegend=False,
                    marker=dict(color="gray", size=1),
                ),
                row=i // ncols + 1,
                col=i % ncols + 1,
            )
            fig.update_xaxes(range=[-1.05 * window, 1.05 * window], row=i // ncols + 1, col=i % ncols + 1)
            fig.update_yaxes(range=[-1.05 * window, 1.05 * window], row=i // ncols + 1, col=i % ncols + 1)
        fig.update_xaxes(title_text=f"z{a}", row=i // ncols + 1, col=i % ncols + 1)
        fig.update_yaxes(title_text=f"z{b}", row=i // ncols + 1, col=i % ncols + 1)
    fig.update_layout(title=title, height=360 * rows, legend_itemsizing="constant")
    return PointCloudFigure(fig)


def interpolation_sequences(
    states: ArrayLike,
    alive: ArrayLike | None = None,
    goals: ArrayLike | None = None,
    title: str | None = None,
    cell: float = 0.8,
) -> plt.Figure:
    """Episodes start -> goal, one a row (paper Fig. 4, 5, 7): ``states`` (n, T + 1, h, w, c) with the
    start first, ``alive`` (n, T + 1) 0 where the episode had already stopped (drawn as solid black
    cells), ``goals`` (n, h, w, c) appended as the last column "GT". Grey images are drawn as dark ink
    on white so that the black cells stand out."""
    states = np.array(states, dtype=np.float32)
    grey = states.shape[-1] == 1
    if grey:
        states = states[..., 0]
    if alive is not None:
        states[np.asarray(alive) == 0] = 1.0 if grey else 0.0
    rows = list(states)
    labels = ["start", *range(1, states.shape[1])]
    if goals is not None:
        goals = np.asarray(goals, dtype=np.float32)
        goals = goals[..., 0] if grey else goals
        rows = [np.concatenate([r, g[None]]) for r, g in zip(rows, goals)]
        labels.append("GT")
    return image_grid(
        rows,
        col_labels=labels,
        title=title,
        image_shape=states.shape[2:4] if grey else None,
        cell=cell,
        cmap="gray_r" if grey else "gray",
    )


def latent_trajectories(
    coords: ArrayLike,
    labels: Sequence | None = None,
    title: str = "triplet trajectories",
    axis_labels: Sequence[str] = ("PC 1", "PC 2"),
    max_paths: int = 8,
    rows: Sequence[int] | None = None,
    seed: int = 0,
    panels: Sequence | None = None,
    names: Sequence[str] | None = None,
) -> plt.Figure:
    """Triplets' paths frame 1 -> frame 2 -> frame 3 through a 2-d projection ``coords`` (n, 3, 2), one block per
    label (``labels`` (n,), e.g. difficulty level or split; one block without).

    A block is an overview panel and close-ups. The overview draws at most ``max_paths`` of the label's triplets,
    each in a colour of its own as two arrows 1 -> 2 -> 3 with its frames numbered, over a faint cloud of every
    frame (darker: the label's own); overviews share their limits. Beside it, one close-up per drawn triplet, centred
    on it and all at one scale (the widest drawn triplet fills its close-up), so that short paths stay readable
    and lengths compare across triplets and labels. Neighbouring triplets of one clip (frame 3 of one beside frame 1
    of the next) never join into one curve.

    The triplets drawn are spread over the label's paths: the one nearest each centre of a k-means (seeded by
    ``seed``) of their (6,) coordinates; or give ``rows`` (indices into ``coords``) to draw exactly those.
    ``panels`` orders (or picks) the labels shown, default every label as first seen; ``names`` (n,) titles the
    close-ups (default "triplet {row}"). Axes are labelled ``"{label}"`` (overview) and ``"{label} · triplet
    {row}"`` (close-up); each arrow carries the gid ``"triplet {row}: {k}->{k + 1}"``."""
    coords = np.asarray(coords, dtype=float)
    if coords.ndim != 3 or coords.shape[1:] != (3, 2) or len(coords) == 0:
        raise ParameterError(
            f"coords of shape {coords.shape}: give (n, 3, 2), frames 1, 2, 3 of n triplets in two dimensions "
            "(e.g. views['pca'].reshape(n, 3, 2))."
        )
    if not np.isfinite(coords).all():
        raise ParameterError("coords contain NaN or infinite values; check the projection they came from.")
    labels = np.asarray(["all"] * len(coords) if labels is None else labels).astype(str)
    if labels.shape != (len(coords),):
        raise ParameterError(f"labels has shape {labels.shape} for {len(coords)} triplets: give one label per triplet.")
    names = [f"triplet {i}" for i in range(len(coords))] if names is None else [str(n) for n in names]
    if len(names) != len(coords):
        raise ParameterError(f"names has {len(names)} entries for {len(coords)} triplets: give one per triplet.")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int | np.integer) or max_paths < 1:
        raise ParameterError(f"max_paths={max_paths!r}: give a whole number >= 1 (triplets drawn per label).")
    seen = list(dict.fromkeys(labels.tolist()))
    shown = seen if panels is None else [str(p) for p in panels]
    missing = [p for p in shown if p not in seen]
    if missing or not shown:
        raise ParameterError(f"panels {missing or '[]'}: choose labels among {seen}.")
    if rows is not None:
        rows = np.asarray(rows)
        if (
            rows.ndim != 1
            or rows.dtype.kind not in "iu"
            or (len(rows) and not 0 <= rows.min() <= rows.max() < len(coords))
        ):
            raise ParameterError(f"rows must be indices of triplets in 0..{len(coords) - 1}, got {rows!r}.")
    chosen = {}
    for label in shown:
        members = np.flatnonzero(labels == label)
        chosen[label] = (
            _spread_rows(coords, members, int(max_paths), seed)
            if rows is None
            else np.unique(rows[np.isin(rows, members)])
        )
    drawn = np.concatenate(list(chosen.values())).astype(int)
    centres = coords.mean(axis=1)
    half = 1.15 * max(np.abs(coords[drawn] - centres[drawn, None]).max(initial=0.0), 1e-9)
    slots = max(1, max(len(c) for c in chosen.values()))
    across, down = min(slots, 4), max(2, -(-slots // 4))
    # Laid out by hand in inches (constrained layout measured every tick of every close-up: seconds per figure).
    cell, gap, band, left, wide, below, top, foot = 1.55, 0.14, 0.26, 0.62, 3.9, 0.5, 0.5, 0.4
    block_h = down * (cell + band) + below
    width = left + wide + 0.3 + across * (cell + gap) + 0.1
    height = top + len(shown) * block_h + foot
    fig = plt.figure(figsize=(width, height))

    def place(x: float, y: float, w: float, h: float) -> plt.Axes:  # inches from the top left corner
        return fig.add_axes((x / width, 1 - (y + h) / height, w / width, h / height))

    everything = coords.reshape(-1, 2)
    margin = 0.05 * np.maximum(np.ptp(everything, axis=0), 1e-9)
    low, high = everything.min(axis=0) - margin, everything.max(axis=0) + margin
    for b, label in enumerate(shown):
        members, picked = np.flatnonzero(labels == label), chosen[label]
        y0 = top + b * block_h
        ax = place(left, y0 + band, wide, down * (cell + band) - band)
        ax.set_xlim(low[0], high[0])
        ax.set_ylim(low[1], high[1])
        ax.set_autoscale_on(False)
        ax.set_label(label)
        _cloud(ax, everything, coords[members])
        for i, row in enumerate(picked):
            _triplet(ax, coords[row], row, plt.cm.tab10(i % 10), small=True)
        ax.set_title(f"{label}: {len(picked)} of {len(members)} triplets", fontsize=10)
        ax.set_xlabel(axis_labels[0], fontsize=8, labelpad=2)
        ax.set_ylabel(axis_labels[1], fontsize=8, labelpad=2)
        ax.tick_params(labelsize=7)
        for i, row in enumerate(picked):
            x = left + wide + 0.3 + (i % across) * (cell + gap)
            zoom = place(x, y0 + (i // across) * (cell + band) + band, cell, cell)
            zoom.set_label(f"{label} · triplet {row}")
            zoom.set_xlim(centres[row, 0] - half, centres[row, 0] + half)
            zoom.set_ylim(centres[row, 1] - half, centres[row, 1] + half)
            zoom.set_autoscale_on(False)
            colour = plt.cm.tab10(i % 10)
            _cloud(zoom, everything, coords[members])
            _triplet(zoom, coords[row], row, colour, small=False)
            zoom.set_xticks([])
            zoom.set_yticks([])
            zoom.set_title(names[row], fontsize=7, color=colour, pad=3)
            for spine in zoom.spines.values():
                spine.set_edgecolor(colour)
    fig.suptitle(title, y=1 - 0.12 / height, va="top")
    fig.text(
        0.5,
        0.1 / height,
        f"numbers mark frames 1, 2, 3 of one triplet, arrows run 1 -> 2 -> 3; grey: every frame (darker: the "
        f"label's own). Close-ups share one scale: each spans {2 * half:.3g} x {2 * half:.3g} units.",
        ha="center",
        va="bottom",
        fontsize=8,
        color="0.3",
    )
    return fig


def _cloud(ax: plt.Axes, everything: np.ndarray, own: np.ndarray) -> None:
    """Every frame (m, 2) in light grey, the panel's own triplets' frames (k, 3, 2) darker: the background."""
    ax.scatter(*everything.T, s=4, color="0.87", linewidths=0, zorder=1)
    ax.scatter(*own.reshape(-1, 2).T, s=5, color="0.62", linewidths=0, zorder=1)


@functools.cache
def _digit_markers() -> tuple[MarkerStyle, ...]:
    """The markers "1", "2", "3", made once (each mathtext marker is parsed when it is made)."""
    return tuple(MarkerStyle(f"${k}$") for k in (1, 2, 3))


def _triplet(ax: plt.Axes, path: np.ndarray, row: int, colour: Any, small: bool) -> None:
    """One triplet (3, 2) as arrows 1 -> 2 -> 3 with its frames numbered (smaller in the overview)."""
    ring, digit, gap = (60, 22, 4) if small else (150, 45, 7)
    for k in range(2):
        ax.add_artist(  # not add_patch: the limits are set, and patch limits cost a shrunk arrow's path each
            FancyArrowPatch(
                path[k],
                path[k + 1],
                arrowstyle="-|>",
                mutation_scale=9 if small else 12,
                lw=1.2 if small else 1.6,
                color=colour,
                shrinkA=gap,
                shrinkB=gap,
                zorder=3,
                gid=f"triplet {row}: {k + 1}->{k + 2}",
            )
        )
    ax.scatter(*path.T, s=ring, facecolor="white", edgecolor=colour, linewidths=1.1, zorder=4)
    for k in range(3):
        ax.scatter(*path[k], s=digit, marker=_digit_markers()[k], color=colour, linewidths=0, zorder=5)


def _spread_rows(coords: np.ndarray, members: np.ndarray, k: int, seed: int) -> np.ndarray:
    """At most ``k`` of ``members`` (indices into ``coords`` (n, 3, 2)), spread over their triplets' positions and
    shapes: the member nearest each centre of a seeded k-means of their (6,) coordinates; sorted."""
    if len(members) <= k:
        return members
    from sklearn.cluster import KMeans

    points = coords[members].reshape(len(members), -1)
    k = min(k, len(np.unique(points, axis=0)))
    fit = KMeans(k, n_init=4, random_state=seed).fit(points)
    distance = np.linalg.norm(points - fit.cluster_centers_[fit.labels_], axis=1)
    picked = [members[fit.labels_ == c][np.argmin(distance[fit.labels_ == c])] for c in range(k)]
    return np.sort(np.asarray(picked))


def grouped_bars(values: Mapping[str, Mapping[str, float]], ylabel: str, title: str | None = None) -> plt.Figure:
    """Bars of ``values[group][series]``: one group of bars per outer key, one colour per inner key."""
    groups = list(values)
    series = list(dict.fromkeys(k for g in groups for k in values[g]))
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.2 * len(groups) * max(1, len(series) / 3)), 3.4))
    for i, name in enumerate(series):
        ax.bar(
            np.arange(len(groups)) + (i - (len(series) - 1) / 2) * width,
            [values[g].get(name, np.nan) for g in groups],
            width,
            label=name,
        )
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def latent_graph(
    z: np.ndarray,
    edges: np.ndarray | None = None,
    paths: Mapping[str, np.ndarray] | None = None,
    color: np.ndarray | None = None,
    color_label: str = "",
    title: str = "latent codes",
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Codes (n, 2) or (n, 3) as points (coloured by ``color``), graph ``edges`` ((m, 2) node pairs) as
    thin lines, and ``paths`` (``{name: (k, d) codes}``) drawn over them from start (o) to goal (*).
    Three-d codes get a 3-d axis. Returns the figure."""
    from matplotlib.collections import LineCollection

    z = np.asarray(z)
    three = z.shape[1] >= 3
    if ax is None:
        fig = plt.figure(figsize=(6.4, 5.4))
        ax = fig.add_subplot(projection="3d" if three else None)
    fig = ax.figure
    dims = z[:, :3] if three else z[:, :2]
    if edges is not None and len(edges):
        segs = dims[np.asarray(edges)]
        if three:
            from mpl_toolkits.mplot3d.art3d import Line3DCollection

            ax.add_collection3d(Line3DCollection(segs, colors="0.6", linewidths=0.3, alpha=0.5))
        else:
            ax.add_collection(LineCollection(segs, colors="0.6", linewidths=0.3, alpha=0.5))
    pts = ax.scatter(*dims.T, c=color, s=6, cmap="viridis", zorder=2)
    if color is not None:
        fig.colorbar(pts, ax=ax, label=color_label, shrink=0.8)
    for i, (name, path) in enumerate((paths or {}).items()):
        p = np.asarray(path)[:, : dims.shape[1]]
        c = plt.cm.tab10(i + 1)
        ax.plot(*p.T, color=c, lw=2, label=name, zorder=3)
        ax.scatter(*p[0], color=c, marker="o", s=60, edgecolor="k", zorder=4)
        ax.scatter(*p[-1], color=c, marker="*", s=140, edgecolor="k", zorder=4)
    if paths:
        ax.legend(fontsize=8)
    ax.set_title(title)
    if not three:
        ax.set_xlabel("z1"), ax.set_ylabel("z2")
        ax.set_aspect("equal", adjustable="datalim")
        ax.autoscale_view()
    fig.tight_layout()
    return fig


class Animation:
    """An animated GIF that a notebook shows inline everywhere: its display is an HTML ``<img>`` holding the GIF
    (JupyterLab, Colab, nbconvert's HTML and GitHub render it), written to ``path`` as well."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path = data, Path(path)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        encoded = base64.b64encode(self.data).decode("ascii")
        return {
            "text/html": f'<img src="data:image/gif;base64,{encoded}" alt="animation {self.path.name}">',
            "text/plain": f"<animated GIF {self.path}>",
        }


def save_gif(frames: ArrayLike | Mapping[str, ArrayLike], path: str | Path, fps: int = 8, scale: int = 3) -> Animation:
    """Write an animated GIF of ``frames`` ((n, h, w, 3) uint8 or floats in [0, 1]), or of several
    equally long animations side by side (``{name: frames}``, each labelled), to ``path`` (atomically),
    and return it as an :class:`Animation` that a notebook shows inline."""
    from PIL import Image, ImageDraw

    from latentlab.io import atomic_path

    named = dict(frames) if isinstance(frames, Mapping) else {"": frames}
    clips = [np.asarray(f) for f in named.values()]
    clips = [(np.clip(c, 0, 1) * 255).round().astype(np.uint8) if c.dtype.kind == "f" else c for c in clips]
    if len({len(c) for c in clips}) != 1:
        from latentlab.errors import ParameterError

        raise ParameterError(f"side-by-side animations need equally many frames, got {[len(c) for c in clips]}.")
    labelled = any(named)
    pics = []
    for t in range(len(clips[0])):
        row = np.concatenate([np.pad(c[t], ((0, 0), (0, 2), (0, 0)), constant_values=255) for c in clips], axis=1)
        pic = Image.fromarray(row).resize((row.shape[1] * scale, row.shape[0] * scale), Image.NEAREST)
        if labelled:
            canvas = Image.new("RGB", (pic.width, pic.height + 14), "white")
            canvas.paste(pic, (0, 14))
            draw = ImageDraw.Draw(canvas)
            width = clips[0].shape[2] + 2
            for k, name in enumerate(named):
                draw.text((k * width * scale + 2, 1), str(name), fill="black")
            pic = canvas
        pics.append(pic)
    buffer = io.BytesIO()
    pics[0].save(buffer, format="GIF", save_all=True, append_images=pics[1:], duration=int(1000 / fps), loop=0)
    with atomic_path(path, suffix=".gif") as tmp:
        Path(tmp).write_bytes(buffer.getvalue())
    return Animation(buffer.getvalue(), Path(path))
