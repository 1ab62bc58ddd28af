"""Figures that show everywhere and images drawn at least at their native size, measured in the PNG a notebook
stores (the inline backend saves ``fig.dpi`` with ``bbox_inches="tight"``) and in nbconvert's HTML."""

from __future__ import annotations

import base64
import gc
import io
import re
import warnings

import matplotlib
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from latentlab import plots  # noqa: E402

MARK = (0.0, 1.0, 0.0)  # a colour no label or title is drawn in


def _inline_png(fig) -> np.ndarray:
    """The figure as the Jupyter inline backend stores it, as an (h, w, 3) uint8 array."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    plt.close(fig)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _drawn_images(png: np.ndarray, colour=MARK) -> list[tuple[int, int]]:
    """(height, width) in pixels of every region of the figure painted exactly in ``colour``."""
    target = np.round(np.array(colour) * 255).astype(np.uint8)
    regions, n = ndimage.label(np.all(png == target, axis=-1))
    return [(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in ndimage.find_objects(regions)]


@pytest.mark.parametrize(
    "shape, n_rows, n_cols, kwargs",
    [
        ((28, 28), 1, 10, {"col_labels": [f"{t:.2f}" for t in np.linspace(0, 1, 10)]}),  # 01 Fig. 6
        ((28, 28), 10, 10, {"row_labels": range(10), "col_labels": range(10)}),  # 01 midpoints of class means
        ((64, 64, 3), 1, 8, {"image_shape": (64, 64, 3)}),  # 04 Fig. 1
        ((64, 64, 3), 1, 6, {"image_shape": (64, 64, 3), "cell": 1.2, "col_labels": [f"t = {t}" for t in range(6)]}),
        ((64, 64, 3), 3, 5, {"image_shape": (64, 64, 3), "row_labels": ["uniform b=1.5", "intervals", "GMM, K=10"]}),
        ((256, 256, 3), 2, 3, {"image_shape": None, "cell": 1.9, "row_labels": ["train · Disney\noriginal", "x"]}),
    ],
)
def test_every_image_is_drawn_at_least_at_its_native_size(shape, n_rows, n_cols, kwargs):
    rows = [np.broadcast_to(np.array(MARK if len(shape) == 3 else 1.0), (n_cols, *shape)) for _ in range(n_rows)]
    cmap = "gray" if len(shape) == 3 else matplotlib.colors.ListedColormap([MARK])
    title = "Fig. 6: from the mean code of 1 to that of 7, with a title long enough to wrap on a narrow grid"
    drawn = _drawn_images(_inline_png(plots.image_grid(rows, title=title, cmap=cmap, **kwargs)))
    assert len(drawn) == n_rows * n_cols, f"expected {n_rows * n_cols} separate images, found {len(drawn)}"
    smallest = min(min(h for h, _ in drawn), min(w for _, w in drawn))
    assert smallest >= shape[0], f"an image {shape[:2]} was drawn at {smallest} px"


def test_default_cell_enlarges_digits_and_faces_alike():
    assert plots.image_zoom((28, 28), 0.9) * 28 == pytest.approx(0.9 * plots.DPI)
    assert plots.image_zoom((64, 64), 0.9) * 64 == pytest.approx(0.9 * plots.DPI)
    assert plots.image_zoom((256, 256), 1.9) == 1.0
    strip = _inline_png(plots.image_grid([np.zeros((10, 784), np.float32)], title="ten digits"))
    assert strip.shape[1] >= 10 * 90 and strip.shape[0] >= 90


def test_labels_keep_their_size_and_columns_widen_to_fit_them():
    labels = ["best-matching reconstruction", "original"]
    fig = plots.image_grid([np.ones((2, 28, 28)), np.ones((2, 28, 28))], row_labels=labels, col_labels=["a", "b"])
    texts = {t.get_text(): t for t in fig.texts}
    assert texts["best-matching reconstruction"].get_fontsize() == plots.ROW_PT
    renderer = fig.canvas.get_renderer()
    label_box = texts["best-matching reconstruction"].get_window_extent(renderer)
    assert label_box.x0 >= 0 and label_box.x1 <= min(ax.get_window_extent(renderer).x0 for ax in fig.axes) + 1
    plt.close(fig)
    wide = ["a column label much wider than a digit"] * 2
    drawn = _drawn_images(_inline_png(plots.image_grid([np.ones((2, 784))], col_labels=wide, cmap=_mark_cmap())))
    assert len(drawn) == 2 and min(w for _, w in drawn) >= 28


def _mark_cmap():
    return matplotlib.colors.ListedColormap([MARK])


def _scatter_figure():
    rng = np.random.default_rng(0)
    return plots.latent_scatter(rng.normal(size=(300, 3)), rng.integers(0, 10, 300), title="codes on 3 PCs")


def test_point_clouds_carry_a_static_png_beside_the_interactive_figure():
    fig = _scatter_figure()
    bundle = fig._repr_mimebundle_()
    assert {"application/vnd.plotly.v1+json", "image/png", "text/plain"} <= set(bundle)
    assert "text/html" not in bundle  # outside Colab: nbconvert and GitHub then show the PNG
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(bundle["image/png"]))).convert("RGB"))
    assert png.shape[:2] == (fig.layout.height, 900)
    colours = {tuple(int(v) for v in c) for c in png.reshape(-1, 3)[::7]}
    palette = {tuple(int(fig.data[i].marker.color[k : k + 2], 16) for k in (1, 3, 5)) for i in range(3)}
    assert any(min(sum(abs(a - b) for a, b in zip(c, p)) for c in colours) < 40 for p in palette), (
        "the static view shows none of the classes' colours"
    )
    planes = plots.plane_projections(
        np.random.default_rng(1).normal(size=(200, 6)), [(0, 1), (2, 3), (4, 5)], {"origin": (np.zeros(6), "gold")}
    )
    assert "image/png" in planes._repr_mimebundle_() and len(planes.data) == 6


def test_point_clouds_load_plotly_in_colab(monkeypatch):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    bundle = _scatter_figure()._repr_mimebundle_()
    assert "cdn.plot.ly" in bundle["text/html"] and "image/png" in bundle


def _html_of(outputs) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("figure", outputs=outputs)]
    return HTMLExporter().from_notebook_node(nb)[0]


def test_nbconvert_html_shows_the_figure_and_the_animation(tmp_path):
    import nbformat

    figure = nbformat.v4.new_output("display_data", data=_scatter_figure()._repr_mimebundle_())
    frames = np.linspace(0, 1, 4)[:, None, None, None] * np.ones((4, 8, 8, 3))
    animation = plots.save_gif({"linear": frames, "surfing": frames[::-1]}, tmp_path / "a.gif")
    gif = nbformat.v4.new_output("display_data", data=animation._repr_mimebundle_())
    html = _html_of([figure, gif])
    assert re.search(r'<img [^>]*src="data:image/png;base64,', html), "the point cloud's PNG is not in the HTML"
    assert re.search(r'<img [^>]*src="data:image/gif;base64,', html), "the animation is not in the HTML"


def test_save_gif_writes_every_frame_and_closes_its_file(tmp_path):
    frames = (np.arange(5)[:, None, None, None] * 50 * np.ones((5, 6, 6, 3))).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        animation = plots.save_gif(frames, tmp_path / "clip.gif", scale=2)
        gc.collect()
    with Image.open(tmp_path / "clip.gif") as gif:
        assert gif.n_frames == 5 and gif.size == (16, 12)
    assert animation.data == (tmp_path / "clip.gif").read_bytes()
    assert "<IPython" not in animation._repr_mimebundle_()["text/plain"]


def test_radius_panels_give_the_real_radii_an_axis_of_their_own():
    from latentlab.latent import statistics as st

    rng = np.random.default_rng(0)
    real = st.radii(rng.normal(0, 7, (900, 256)) * rng.uniform(0.6, 1.4, (900, 1)))  # radii spread widely
    b_star = st.radius_matched_b(rng.normal(0, 7, (900, 256)))
    uniform = {b: st.radii(st.uniform_cube(1000, 256, b, rng)) for b in (1.0, 1.5, b_star)}
    fig = plots.radius_panels(real, uniform, 256, b_star)
    above, below = fig.axes
    assert above.get_shared_x_axes().joined(above, below)
    assert below.get_ylim()[1] < 0.2 * above.get_ylim()[1]  # on the shells' axis the real radii would be flat
    heights = [p.get_height() for p in below.patches if p.get_width() < 10]
    assert max(heights) == pytest.approx(np.histogram(real, bins=60, density=True)[0].max())
    labels = [t.get_text() for t in above.get_legend().get_texts()] + [
        t.get_text() for t in below.get_legend().get_texts()
    ]
    assert f"uniform b*={b_star:.2f} (radius-matched)" in labels and "shell of b* (mean +- 2 std)" in labels
    band = [p for p in below.patches if p.get_width() >= 10][0]
    mean, std = st.uniform_radius_moments(b_star, 256)
    assert band.get_x() == pytest.approx(mean - 2 * std) and band.get_width() == pytest.approx(4 * std)
    plt.close(fig)


def test_origin_zoom_keeps_only_what_projects_into_the_window():
    from latentlab.latent.statistics import window_mask

    z = np.random.default_rng(2).normal(1.0, 3.0, (400, 6))
    fig = plots.origin_zoom(z, [(0, 1), (2, 3)], 1.5, {"origin": (np.zeros(6), "gold")})
    points = [t for t in fig.data if t.name == "z-points"]
    assert [len(t.x) for t in points] == [window_mask(z, (0, 1), 1.5).sum(), window_mask(z, (2, 3), 1.5).sum()]
    assert all(np.abs(np.r_[t.x, t.y]).max() <= 1.5 for t in points) and 0 < len(points[0].x) < 100
    assert [len(t.x) for t in fig.data if t.name == "origin"] == [1, 1]
    np.testing.assert_allclose([fig.layout.xaxis.range, fig.layout.yaxis2.range], [(-1.575, 1.575)] * 2)
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(fig._repr_mimebundle_()["image/png"]))).convert("RGB"))
    assert png.shape[:2] == (fig.layout.height, 900)
    whole = plots.plane_projections(z, [(0, 1), (2, 3)], {"origin": (np.zeros(6), "gold")})
    assert [len(t.x) for t in whole.data] == [400, 1, 400, 1] and whole.layout.xaxis.range is None


def _clip_triplets(n: int, seed: int = 0) -> np.ndarray:
    """n consecutive triplets cut from one smooth walk, as in the offline stand-in: triplet k's frame 3 lies
    beside triplet k + 1's frame 1. (n, 3, 2)"""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(3 * n, 2)), axis=0).reshape(n, 3, 2)


def _trajectory_parts(fig):
    """{label: overview axes} and {label: {row: close-up axes}}, from the axes' labels."""
    from collections import defaultdict

    overviews, close_ups = {}, defaultdict(dict)
    for ax in fig.axes:
        label, _, row = ax.get_label().partition(" · triplet ")
        if row:
            close_ups[label][int(row)] = ax
        else:
            overviews[label] = ax
    return overviews, close_ups


def _arrow_rows(ax) -> list[int]:
    """The triplet of each arrow in ``ax``, checking that each triplet has exactly the arrows 1->2 and 2->3."""
    from collections import Counter

    from matplotlib.patches import FancyArrowPatch

    gids = [a.get_gid() for a in ax.get_children() if isinstance(a, FancyArrowPatch)]
    rows = Counter(int(g.split(":")[0].removeprefix("triplet ")) for g in gids)
    assert sorted(gids) == sorted(f"triplet {r}: {k}->{k + 1}" for r in rows for k in (1, 2))
    return sorted(rows)


def test_trajectories_one_panel_per_label_at_most_max_paths_each():
    coords = _clip_triplets(60)
    levels = np.array(["easy", "medium"] * 30)
    levels[[5, 20, 41]] = "hard"  # a label with fewer triplets than max_paths: all of them drawn
    fig = plots.latent_trajectories(coords, levels, max_paths=5, title="triplets by difficulty")
    overviews, close_ups = _trajectory_parts(fig)
    assert list(overviews) == ["easy", "medium", "hard"]  # first seen order
    for label, ax in overviews.items():
        members = np.flatnonzero(levels == label)
        rows = _arrow_rows(ax)
        assert len(rows) == min(5, len(members)) and set(rows) <= set(members)
        assert sorted(close_ups[label]) == rows and all(_arrow_rows(z) == [r] for r, z in close_ups[label].items())
        assert ax.get_title() == f"{label}: {len(rows)} of {len(members)} triplets"
        assert len(ax.collections[0].get_offsets()) == 3 * len(coords)  # every frame, as the background
        for row, zoom in close_ups[label].items():
            ring, *digits = [c for c in zoom.collections[2:] if len(c.get_offsets()) in (1, 3)]
            np.testing.assert_allclose(ring.get_offsets(), coords[row])  # frames 1, 2, 3 in order ...
            np.testing.assert_allclose([d.get_offsets()[0] for d in digits], coords[row])  # ... numbered 1, 2, 3
    assert _arrow_rows(overviews["hard"]) == [5, 20, 41]
    plt.close(fig)


def test_trajectories_pick_spread_out_triplets_seeded_or_as_given():
    rng = np.random.default_rng(3)
    blobs = np.repeat(np.array([[0, 0], [50, 0], [0, 50], [50, 50]]), 10, axis=0)  # four far-apart groups of 10
    coords = blobs[:, None] + rng.normal(size=(40, 3, 2))
    fig = plots.latent_trajectories(coords, max_paths=4, seed=1)
    rows = _arrow_rows(_trajectory_parts(fig)[0]["all"])
    assert sorted(r // 10 for r in rows) == [0, 1, 2, 3]  # one triplet from each group, not four neighbours
    again = plots.latent_trajectories(coords, max_paths=4, seed=1)
    assert _arrow_rows(_trajectory_parts(again)[0]["all"]) == rows
    split = np.where(np.arange(40) < 20, "train", "test")
    given = plots.latent_trajectories(
        coords, split, rows=[3, 25, 31], panels=["test"], names=[f"t{i}" for i in range(40)]
    )
    overviews, close_ups = _trajectory_parts(given)
    assert list(overviews) == ["test"] and _arrow_rows(overviews["test"]) == [25, 31]
    assert close_ups["test"][31].get_title() == "t31"
    for f in (fig, again, given):
        plt.close(f)


def test_trajectories_keep_the_notebook_call_and_render():
    coords = _clip_triplets(30)
    split = np.where(np.arange(30) < 16, "train", "test")
    fig = plots.latent_trajectories(coords, split, title="each triplet frame1 -> frame2 -> frame3")
    assert isinstance(fig, plt.Figure) and fig.get_suptitle() == "each triplet frame1 -> frame2 -> frame3"
    png = _inline_png(fig)
    assert png.shape[0] > 500 and png.shape[1] > 900
    single = plots.latent_trajectories(coords)
    assert list(_trajectory_parts(single)[0]) == ["all"]
    plt.close(single)


@pytest.mark.parametrize(
    "coords, kwargs, fix",
    [
        (np.zeros((5, 2, 2)), {}, "give (n, 3, 2)"),
        (np.zeros((5, 3, 3)), {}, "give (n, 3, 2)"),
        (np.zeros((3, 2)), {}, "give (n, 3, 2)"),
        (np.full((5, 3, 2), np.nan), {}, "NaN"),
        (np.zeros((5, 3, 2)), {"labels": ["a"] * 4}, "one label per triplet"),
        (np.zeros((5, 3, 2)), {"max_paths": 0}, "max_paths=0"),
        (np.zeros((5, 3, 2)), {"rows": [1, 5]}, "indices of triplets in 0..4"),
        (np.zeros((5, 3, 2)), {"labels": ["a"] * 5, "panels": ["b"]}, "choose labels among ['a']"),
        (np.zeros((5, 3, 2)), {"names": ["x"]}, "one per triplet"),
    ],
)
def test_trajectories_refuse_bad_input_saying_what_to_give(coords, kwargs, fix):
    from latentlab.errors import ParameterError

    with pytest.raises(ParameterError) as err:
        plots.latent_trajectories(coords, **kwargs)
    assert fix in str(err.value)


def test_training_curves_start_where_asked():
    history = {"loss": [4.0, 2.0, 1.0]}
    fig = plots.training_curves({"run": history}, keys=("loss",))
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [1, 2, 3])
    plt.close(fig)
    probed = plots.training_curves({"probe": history}, keys=("loss",), first_epoch=0)  # a value before training
    np.testing.assert_array_equal(probed.axes[0].lines[0].get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(probed.axes[0].lines[0].get_ydata(), history["loss"])
    probed.canvas.draw()
    ticks = probed.axes[0].get_xticks()
    assert np.array_equal(ticks, np.round(ticks)), "no epoch 0.5"
    plt.close(probed)
