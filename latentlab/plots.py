"""Figures: each paper figure is one call here. Images as matplotlib grids, point clouds as plotly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def _as_images(batch, image_shape) -> np.ndarray:
    batch = np.asarray(batch)
    if batch.ndim == 2 or (image_shape and batch.shape[1:] != tuple(image_shape)):
        batch = batch.reshape(len(batch), *image_shape)
    return batch


def image_grid(
    rows: Sequence,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence | None = None,
    title: str | None = None,
    image_shape=(28, 28),
    cell: float = 0.9,
    cmap: str = "gray",
):
    """A grid of images: ``rows`` is a list of batches (each (n, h, w[, c]) or flat (n, h*w)),
    drawn one batch a row. Returns the figure."""
    rows = [_as_images(r, image_shape) for r in rows]
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(cell * n_cols + (1.2 if row_labels else 0), cell * n_rows), squeeze=False
    )
    for i, batch in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(batch):
                ax.imshow(
                    np.clip(batch[j], 0, 1) if batch.dtype.kind == "f" else batch[j],
                    cmap=cmap,
                    vmin=0,
                    vmax=1 if batch.dtype.kind == "f" else 255,
                )
            if row_labels is not None and j == 0:
                ax.set_ylabel(str(row_labels[i]), rotation=0, ha="right", va="center", fontsize=9)
            if col_labels is not None and i == 0 and j < len(col_labels):
                ax.set_title(str(col_labels[j]), fontsize=8)
    top = 1.0
    if title:
        fig.suptitle(title)
        top = 1.0 - 0.45 / fig.get_size_inches()[1]
    fig.tight_layout(pad=0.2, rect=(0, 0, 1, top))
    return fig


def training_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    keys=("loss", "val_loss"),
    title: str | None = None,
    log: bool = True,
):
    """Loss per epoch of several runs (``{name: keras history dict}``), one panel per key."""
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, hist in histories.items():
            if key in hist:
                ax.plot(
                    np.arange(1, len(hist[key]) + 1), hist[key], label=name, marker="." if len(hist[key]) < 30 else None
                )
        ax.set_xlabel("epoch"), ax.set_ylabel(key), ax.set_title(key)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def pca_figure(eigenvalues: np.ndarray, projections: Mapping[str, tuple[np.ndarray, np.ndarray]]):
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


def sweep_plot(x: Sequence, curves: Mapping[str, Sequence[float]], xlabel: str, log_x: bool = True):
    """One panel per curve against a swept parameter (e.g. BIC and held-out likelihood against K)."""
    fig, axes = plt.subplots(1, len(curves), figsize=(4.5 * len(curves), 3.2), squeeze=False)
    for ax, (name, ys) in zip(axes[0], curves.items()):
        ax.plot(x, ys, marker="o")
        ax.set_xlabel(xlabel), ax.set_title(name)
        if log_x:
            ax.set_xscale("log")
    fig.tight_layout()
    return fig


def latent_scatter(coords: np.ndarray, labels: np.ndarray, title: str = "latent codes", hover=None):
    """Interactive plotly scatter (2-d or 3-d) of codes coloured by label."""
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
    return fig


def component_histograms(
    z: np.ndarray,
    mean: np.ndarray,
    width: np.ndarray,
    components: Sequence[int],
    bins: int = 40,
    cols: int = 4,
    title: str | None = None,
):
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


def correlation_matrix(corr: np.ndarray, title: str = "correlation of latent components"):
    """The (d, d) correlation matrix as a heat map (blue -1 ... red +1)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_xlabel("component"), ax.set_ylabel("component"), ax.set_title(title)
    fig.tight_layout()
    return fig


def radius_histograms(
    real: np.ndarray,
    uniform: Mapping[float, np.ndarray],
    d: int,
    bins: int = 60,
    title: str = "radii of real and statistical latent vectors",
):
    """Histograms of the radii of real latent vectors and of uniform statistical vectors
    (``{b: radii}``), each uniform one with its analytic density (dashed): the thin shell."""
    from latentlab.latent.statistics import uniform_radius_pdf

    fig, ax = plt.subplots(figsize=(8.5, 3.6))
    ax.hist(real, bins=bins, density=True, color="tab:blue", alpha=0.7, label="real (encoded faces)")
    for i, (b, r) in enumerate(uniform.items()):
        colour = plt.cm.autumn(i / max(1, len(uniform) - 1))
        ax.hist(r, bins=bins // 2, density=True, color=colour, alpha=0.45, label=f"uniform b={b:g}")
        x = np.linspace(r.min() * 0.9, r.max() * 1.1, 200)
        ax.plot(x, uniform_radius_pdf(x, b, d), color=colour, ls="--", lw=1.2)
    ax.set_xlabel("radius |z|"), ax.set_ylabel("density"), ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plane_projections(
    z: np.ndarray,
    planes: Sequence[tuple[int, int]],
    marks: Mapping[str, tuple[np.ndarray, str]] | None = None,
    title: str = "z-points projected onto coordinate planes",
    cols: int = 3,
):
    """Interactive orthogonal projections of z-points (n, d) (blue) onto coordinate planes (j1, j2),
    one panel per plane, with extra point sets on top: ``marks`` = {name: (points (m, d) or (d,), colour)},
    e.g. the origin (yellow), the bulk centre (orange) and a path (red) as in the blog's part VI."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = -(-len(planes) // cols)
    ncols = min(cols, len(planes))
    fig = make_subplots(rows=rows, cols=ncols, subplot_titles=[f"components {a}, {b}" for a, b in planes])
    layers = {"z-points": (np.asarray(z), "#1f77b4")} | dict(marks or {})
    for i, (a, b) in enumerate(planes):
        for name, (points, colour) in layers.items():
            points = np.atleast_2d(points)
            big = name != "z-points"
            fig.add_trace(
                go.Scattergl(
                    x=points[:, a],
                    y=points[:, b],
                    mode="markers",
                    name=name,
                    legendgroup=name,
                    showlegend=i == 0,
                    opacity=1.0 if big else 0.35,
                    marker=dict(
                        color=colour, size=9 if big else 3, line=dict(width=0.5, color="black") if big else None
                    ),
                ),
                row=i // ncols + 1,
                col=i % ncols + 1,
            )
        fig.update_xaxes(title_text=f"z{a}", row=i // ncols + 1, col=i % ncols + 1)
        fig.update_yaxes(title_text=f"z{b}", row=i // ncols + 1, col=i % ncols + 1)
    fig.update_layout(title=title, height=360 * rows, legend_itemsizing="constant")
    return fig


def interpolation_sequences(states, alive=None, goals=None, title: str | None = None, cell: float = 0.8):
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
    coords: np.ndarray,
    labels: Sequence | None = None,
    title: str = "triplet trajectories",
    axis_labels: Sequence[str] = ("PC 1", "PC 2"),
):
    """Each triplet's path frame1 -> frame2 -> frame3 through a 2-d projection: ``coords`` (n, 3, 2),
    one line per triplet coloured by ``labels`` (n,); circle, square, triangle mark frames 1, 2, 3."""
    coords = np.asarray(coords)
    labels = np.asarray(["all"] * len(coords) if labels is None else labels).astype(str)
    colours = {lab: plt.cm.tab10(i % 10) for i, lab in enumerate(dict.fromkeys(labels))}
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    for path, lab in zip(coords, labels):
        ax.plot(path[:, 0], path[:, 1], color=colours[lab], alpha=0.5, lw=1)
        for k, marker in enumerate("os^"):
            ax.scatter(path[k, 0], path[k, 1], color=colours[lab], marker=marker, s=14, alpha=0.8)
    handles = [plt.Line2D([], [], color=c, label=lab) for lab, c in colours.items()]
    handles += [plt.Line2D([], [], color="gray", marker=m, ls="", label=f"frame {k + 1}") for k, m in enumerate("os^")]
    ax.legend(handles=handles, fontsize=8)
    ax.set_xlabel(axis_labels[0]), ax.set_ylabel(axis_labels[1]), ax.set_title(title)
    fig.tight_layout()
    return fig


def grouped_bars(values: Mapping[str, Mapping[str, float]], ylabel: str, title: str | None = None):
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
    ax=None,
):
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


def save_gif(frames, path, fps: int = 8, scale: int = 3):
    """Write an animated GIF of ``frames`` ((n, h, w, 3) uint8 or floats in [0, 1]), or of several
    equally long animations side by side (``{name: frames}``, each labelled), to ``path`` (atomically),
    and return it as an IPython image that a notebook shows inline."""
    from IPython.display import Image as IPImage
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
    with atomic_path(path, suffix=".gif") as tmp:
        pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:], duration=int(1000 / fps), loop=0)
    return IPImage(data=open(path, "rb").read(), format="gif")
