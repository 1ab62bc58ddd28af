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


def image_grid(rows: Sequence, row_labels: Sequence[str] | None = None, col_labels: Sequence | None = None,
               title: str | None = None, image_shape=(28, 28), cell: float = 0.9, cmap: str = "gray"):
    """A grid of images: ``rows`` is a list of batches (each (n, h, w[, c]) or flat (n, h*w)),
    drawn one batch a row. Returns the figure."""
    rows = [_as_images(r, image_shape) for r in rows]
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols + (1.2 if row_labels else 0), cell * n_rows),
                             squeeze=False)
    for i, batch in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(batch):
                ax.imshow(np.clip(batch[j], 0, 1) if batch.dtype.kind == "f" else batch[j], cmap=cmap,
                          vmin=0, vmax=1 if batch.dtype.kind == "f" else 255)
            if row_labels is not None and j == 0:
                ax.set_ylabel(str(row_labels[i]), rotation=0, ha="right", va="center", fontsize=9)
            if col_labels is not None and i == 0 and j < len(col_labels):
                ax.set_title(str(col_labels[j]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout(pad=0.2)
    return fig


def training_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], keys=("loss", "val_loss"),
                    title: str | None = None, log: bool = True):
    """Loss per epoch of several runs (``{name: keras history dict}``), one panel per key."""
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, hist in histories.items():
            if key in hist:
                ax.plot(np.arange(1, len(hist[key]) + 1), hist[key], label=name, marker="." if len(hist[key]) < 30 else None)
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
    kwargs = dict(color=labels[order], title=title, opacity=0.6,
                  hover_name=None if hover is None else np.asarray(hover)[order],
                  labels={"color": "class"})
    if coords.shape[1] >= 3:
        fig = px.scatter_3d(x=coords[order, 0], y=coords[order, 1], z=coords[order, 2], **kwargs)
        fig.update_traces(marker_size=2)
    else:
        fig = px.scatter(x=coords[order, 0], y=coords[order, 1], **kwargs)
        fig.update_traces(marker_size=4)
    fig.update_layout(height=520, legend_itemsizing="constant")
    return fig
