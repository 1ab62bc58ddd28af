"""Numbers for what papers show by eye: reconstruction errors, nearest matches, and the quality,
diversity and novelty of generated images. Plain numpy over flat images (n, d) in [0, 1].

Every function checks its inputs at the door: shapes, non-finite values, and value ranges (images in
[0, 1], or uint8 with an explicit ``data_range``), and raises :class:`~latentlab.errors.ParameterError`
saying what to change, rather than return a number that is silently wrong."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from latentlab.batching import batch_slices
from latentlab.errors import ParameterError

EPS = 1e-7
#: How far outside [0, 1] float images may stray (float32 rounding of sigmoid outputs) and still count as [0, 1].
UNIT_SLACK = 1e-4
#: Most bytes a float64 chunk of queries or of references takes in :func:`nearest_distances`: 341 rows of 64 x 64 x 3
#: faces (2 x 32 MB), where 2,048 rows took 2 x 201 MB, at about the same speed (2,040 faces against 5,000: 2.7-3.4 s
#: from 2,048 rows a chunk down to 256).
CHUNK_BYTES = 32 * 2**20


def _numeric(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as a numeric array, or :class:`ParameterError` for strings, objects and complex numbers."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:  # ragged lists
        raise ParameterError(f"{name} is not an array of numbers ({err}); give a numpy array (n, ...).") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ParameterError(f"{name} has dtype {arr.dtype}; give numbers (uint8 0-255 or floats in [0, 1]).")
    if arr.ndim == 0:
        raise ParameterError(f"{name} is a single number; give a batch (n, ...).")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = int(_rows(~np.isfinite(arr)).any(1).sum())
        raise ParameterError(
            f"{name} contains NaN or infinite values (in {bad} of {len(arr)} items); find where they come from "
            "(a diverged model, a division by zero) or drop those items."
        )
    return arr


def _finite(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as float32 (n, ...) after :func:`_numeric`; a float32 array is used as it is, not copied."""
    return _numeric(x, name).astype(np.float32, copy=False)


def _rows(x: np.ndarray) -> np.ndarray:
    """(n, ...) -> (n, d), also for n = 0."""
    return x.reshape(len(x), int(np.prod(x.shape[1:])))


def _flat(x: ArrayLike, name: str = "images") -> np.ndarray:
    return _rows(_finite(x, name))


def _unit_images(x: ArrayLike, name: str = "images", check_range: bool = True) -> np.ndarray:
    """Images as float32: uint8 (and other integers 0-255) divided by 255; floats kept, and with
    ``check_range`` required to lie in [0, 1]."""
    x = _numeric(x, name)
    if np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ParameterError(
                f"{name} are integers in {x.min()}..{x.max()}; integer images must be 0-255 (uint8). "
                "Give uint8 images or floats in [0, 1]."
            )
        return x.astype(np.float32) / 255.0
    x = x.astype(np.float32)
    if check_range and x.size and (x.min() < -UNIT_SLACK or x.max() > 1 + UNIT_SLACK):
        raise ParameterError(
            f"{name} lie in [{x.min():.4g}, {x.max():.4g}], not [0, 1]: divide 0-255 images by 255 (or give them "
            "as uint8), and map [-1, 1] images with (x + 1) / 2."
        )
    return x


def _same_width(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.shape[1:] != b.shape[1:]:
        raise ParameterError(f"{what} have {a.shape[1:]} values each vs {b.shape[1:]}: give images of one size.")


def _not_empty(x: np.ndarray, name: str) -> None:
    if len(x) == 0:
        raise ParameterError(f"{name} is empty; give at least one item.")


def reconstruction_errors(x: ArrayLike, x_hat: ArrayLike) -> dict[str, float]:
    """Mean over images of the paper's three losses: ``mse`` (E1), ``bce`` (E2 / d, as Keras
    reports it) and ``euclidean`` (E3 = ||x_hat - x||^2). Images and reconstructions in [0, 1]
    (uint8 counts as [0, 1])."""
    x, x_hat = _unit_images(x, "images"), _unit_images(x_hat, "reconstructions")
    x, x_hat = _rows(x), _rows(x_hat)
    if x.shape != x_hat.shape:
        raise ParameterError(f"Images and reconstructions differ in shape: {x.shape} vs {x_hat.shape}.")
    _not_empty(x, "images")
    sq = np.square(x_hat - x)
    p = np.clip(x_hat, EPS, 1 - EPS)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).mean(1)
    return {"mse": float(sq.mean()), "bce": float(bce.mean()), "euclidean": float(sq.sum(1).mean())}


def pairwise_bce(targets: ArrayLike, candidates: ArrayLike, chunk: int = 4096) -> np.ndarray:
    """Binary cross-entropy (mean over pixels) of each candidate (m, d) as a prediction of each
    target (n, d), both in [0, 1]: an (n, m) matrix, computed by matrix products in chunks."""
    t = _unit_images(targets, "targets")
    c_all = _unit_images(candidates, "candidates")
    t, c_all = _rows(t), _rows(c_all)
    _same_width(t, c_all, "targets and candidates")
    out = np.empty((len(t), len(c_all)), np.float32)
    for s in batch_slices(len(c_all), chunk):
        c = np.clip(c_all[s], EPS, 1 - EPS)
        out[:, s] = -(t @ np.log(c).T + (1 - t) @ np.log(1 - c).T) / max(t.shape[1], 1)
    return out


def nearest_distances(queries: ArrayLike, references: ArrayLike, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query (n, d) to its nearest reference (m, d), and that
    reference's index; exact, by matrix products of ``chunk`` queries by ``chunk`` references at a time (fewer
    where a chunk's float64 copy would pass :data:`CHUNK_BYTES`: wide images), so memory holds a chunk of each
    beside the inputs, however many there are; float32 inputs are not copied, nor are references of another dtype
    (uint8 images, a memory map of them: read a chunk at a time). Non-finite values are refused: one NaN reference
    would make every distance NaN or inf."""
    q_all, r = _flat(queries, "queries"), _rows(_numeric(references, "references"))
    _same_width(q_all, r, "queries and references")
    _not_empty(r, "references")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ParameterError(f"chunk={chunk!r}: give a whole number of rows, at least 1.")
    chunk = max(1, min(int(chunk), CHUNK_BYTES // (8 * max(r.shape[1], 1))))
    r_sq = np.einsum("ij,ij->i", r, r, dtype=np.float64)
    best = np.full(len(q_all), np.inf)
    arg = np.zeros(len(q_all), np.int64)
    for qs in batch_slices(len(q_all), chunk):
        q = q_all[qs].astype(np.float64)
        rows = np.arange(len(q))
        for s in batch_slices(len(r), chunk):
            d2 = r_sq[s][None, :] - 2 * q @ r[s].astype(np.float64).T
            i = d2.argmin(1)
            v = d2[rows, i]
            better = v < best[qs]
            best[qs][better], arg[qs][better] = v[better], i[better] + s.start
        best[qs] = np.sqrt(np.clip(best[qs] + np.einsum("ij,ij->i", q, q), 0, None))
    return best, arg


def mean_pairwise_distance(x: ArrayLike) -> float:
    """Mean Euclidean distance between distinct images of a set: its diversity."""
    x = _flat(x).astype(np.float64)
    if len(x) < 2:
        raise ParameterError(f"Diversity needs at least two images, got {len(x)}.")
    sq = np.einsum("ij,ij->i", x, x)
    d = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0, None))
    return float(d.sum() / (len(x) * (len(x) - 1)))


def generation_scores(
    images: ArrayLike,
    intended: ArrayLike,
    predicted: ArrayLike,
    train_images: ArrayLike,
    copy_distance: float | None = None,
) -> dict[str, float]:
    """How good a generator of labelled images is.

    ``accuracy``: fraction whose classifier prediction is the intended label;
    ``diversity``: mean pairwise distance within each intended class, averaged over classes;
    ``novelty``: mean distance to the nearest training image (0 = a copy of the training set);
    with ``copy_distance``, also ``near_copies``: the fraction nearer than that to a training image.
    Images (n, 28, 28) or (n, 784) in [0, 1]; ``intended`` and ``predicted`` labels (n,).
    """
    flat = _flat(images)
    intended, predicted = np.asarray(intended), np.asarray(predicted)
    if intended.shape != (len(flat),) or predicted.shape != (len(flat),):
        raise ParameterError(
            f"{len(flat)} images but intended labels {intended.shape} and predicted labels {predicted.shape}: "
            "give one intended and one predicted label per image."
        )
    _not_empty(flat, "images")
    classes, counts = np.unique(intended, return_counts=True)
    if counts.min() < 2:
        lonely = classes[counts < 2].tolist()
        raise ParameterError(
            f"classes {lonely} have a single generated image: diversity needs at least two per class; "
            "generate more images of each class."
        )
    diversity = np.mean([mean_pairwise_distance(flat[intended == c]) for c in classes])
    novelty, _ = nearest_distances(flat, train_images)
    scores = {
        "accuracy": float((intended == predicted).mean()),
        "diversity": float(diversity),
        "novelty": float(novelty.mean()),
    }
    if copy_distance is not None:
        scores["near_copies"] = float((novelty < copy_distance).mean())
    return scores


def _image_batch(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = _numeric(x, "images"), _numeric(y, "reconstructions")
    if x.shape != y.shape or x.ndim not in (3, 4):
        raise ParameterError(f"Expected two batches of one shape (n, H, W[, C]); got {x.shape} and {y.shape}.")
    _not_empty(x, "images")
    return (x, y) if x.ndim == 4 else (x[..., None], y[..., None])


def mse_per_image(x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Mean squared error of each image pair: (n,) from two (n, H, W[, C]) batches."""
    x, y = _image_batch(x, y)
    return np.square(x.astype(np.float64) - y).reshape(len(x), -1).mean(1)


def _data_range(x: np.ndarray, y: np.ndarray, data_range: float | None) -> float:
    """The range the PSNR and SSIM formulas use: ``data_range`` when given (a finite number > 0 that the
    values' spread does not exceed), else 1 for images in [0, 1]. uint8 images need ``data_range=255``."""
    if data_range is None:
        for name, a in (("images", x), ("reconstructions", y)):
            if np.issubdtype(a.dtype, np.integer):
                raise ParameterError(
                    f"{name} are {a.dtype} (0-255): give data_range=255 for uint8 images, or scale them to [0, 1] "
                    "(x / 255)."
                )
            if a.min() < -UNIT_SLACK or a.max() > 1 + UNIT_SLACK:
                raise ParameterError(
                    f"{name} lie in [{a.min():.4g}, {a.max():.4g}], not [0, 1]: scale them to [0, 1], or give "
                    "data_range (the difference between the largest and smallest possible value, e.g. 255 or 2)."
                )
        return 1.0
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float, np.integer, np.floating)):
        raise ParameterError(f"data_range={data_range!r}: give a number > 0 (1.0 for [0, 1], 255 for uint8).")
    if not np.isfinite(data_range) or data_range <= 0:
        raise ParameterError(f"data_range={data_range}: give a finite number > 0 (1.0 for [0, 1], 255 for uint8).")
    for name, a in (("images", x), ("reconstructions", y)):
        spread = float(a.max()) - float(a.min())
        if spread > data_range * (1 + 1e-6) + UNIT_SLACK:
            raise ParameterError(
                f"{name} span {spread:.4g} > data_range={data_range:g}: give data_range=255 for uint8 images, "
                "or scale the images to [0, 1] and leave data_range out."
            )
    return float(data_range)


def psnr_per_image(x: ArrayLike, y: ArrayLike, data_range: float | None = None) -> np.ndarray:
    """Peak signal-to-noise ratio in dB, 10 log10(data_range^2 / MSE), of each pair: (n,)
    (``inf`` for identical images), as ``skimage.metrics.peak_signal_noise_ratio``. Images in [0, 1]
    (``data_range`` 1), or any range with ``data_range`` given (255 for uint8)."""
    xb, yb = _image_batch(x, y)
    data_range = _data_range(xb, yb, data_range)
    mse = mse_per_image(xb, yb)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range**2 / mse)


def _quality_kernel() -> Callable[..., None]:
    """Compile (once, cached on disk) the fused kernel: for each image channel, in one pass of running
    window sums, the mean SSIM over valid windows and the sum of squared differences."""
    import numba

    @numba.njit(parallel=True, cache=True, fastmath={"contract", "reassoc"})
    def kernel(
        x: np.ndarray,
        y: np.ndarray,
        w: int,
        c1: float,
        c2: float,
        cov_norm: float,
        ssim: np.ndarray,
        sse: np.ndarray,
    ) -> None:
        n, h, wd, ch = x.shape
        inv = 1.0 / (w * w)
        for job in numba.prange(n * ch):
            i, c = job // ch, job % ch
            cols = np.zeros((5, wd))
            total, sq = 0.0, 0.0
            for r in range(h):
                for j in range(wd):
                    a, b = np.float64(x[i, r, j, c]), np.float64(y[i, r, j, c])
                    sq += (a - b) * (a - b)
                    cols[0, j] += a
                    cols[1, j] += b
                    cols[2, j] += a * a
                    cols[3, j] += b * b
                    cols[4, j] += a * b
                if r >= w:
                    for j in range(wd):
                        a, b = np.float64(x[i, r - w, j, c]), np.float64(y[i, r - w, j, c])
                        cols[0, j] -= a
                        cols[1, j] -= b
                        cols[2, j] -= a * a
                        cols[3, j] -= b * b
                        cols[4, j] -= a * b
                if r < w - 1:
                    continue
                sx = sy = sxx = syy = sxy = 0.0
                for j in range(w - 1):
                    sx += cols[0, j]
                    sy += cols[1, j]
                    sxx += cols[2, j]
                    syy += cols[3, j]
                    sxy += cols[4, j]
                for j in range(w - 1, wd):
                    sx += cols[0, j]
                    sy += cols[1, j]
                    sxx += cols[2, j]
                    syy += cols[3, j]
                    sxy += cols[4, j]
                    ux, uy = sx * inv, sy * inv
                    vx = cov_norm * (sxx * inv - ux * ux)
                    vy = cov_norm * (syy * inv - uy * uy)
                    vxy = cov_norm * (sxy * inv - ux * uy)
                    total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
                    k = j - w + 1
                    sx -= cols[0, k]
                    sy -= cols[1, k]
                    sxx -= cols[2, k]
                    syy -= cols[3, k]
                    sxy -= cols[4, k]
            ssim[i, c] = total / ((h - w + 1) * (wd - w + 1))
            sse[i, c] = sq

    return kernel


_KERNEL: list[Callable[..., None]] = []


def _win_size(win_size: int, shape: tuple[int, ...]) -> int:
    if isinstance(win_size, bool) or not isinstance(win_size, (int, np.integer)):
        raise ParameterError(f"win_size={win_size!r}: give an odd whole number >= 3, e.g. 7.")
    if win_size < 3 or win_size % 2 == 0 or min(shape) < win_size:
        raise ParameterError(
            f"win_size={win_size} must be odd, at least 3 and at most the image side {shape}; 7 is the usual choice."
        )
    return int(win_size)


def _quality(x: ArrayLike, y: ArrayLike, data_range: float | None, win_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean SSIM, MSE) per image of two batches, both from one pass of the fused kernel."""
    x, y = _image_batch(x, y)
    win_size = _win_size(win_size, x.shape[1:3])
    data_range = _data_range(x, y, data_range)
    if not _KERNEL:
        _KERNEL.append(_quality_kernel())
    ssim, sse = np.empty((len(x), x.shape[-1])), np.empty((len(x), x.shape[-1]))
    _KERNEL[0](
        np.ascontiguousarray(x, np.float32),
        np.ascontiguousarray(y, np.float32),
        win_size,
        (0.01 * data_range) ** 2,
        (0.03 * data_range) ** 2,
        win_size**2 / (win_size**2 - 1),
        ssim,
        sse,
    )
    return ssim.mean(1), sse.sum(1) / np.prod(x.shape[1:])


def ssim_per_image(x: ArrayLike, y: ArrayLike, data_range: float | None = None, win_size: int = 7) -> np.ndarray:
    """Structural similarity of each pair: (n,) from (n, H, W[, C]) batches, equal to
    ``skimage.metrics.structural_similarity(x[i], y[i], win_size=win_size, data_range=data_range,
    channel_axis=-1)`` (uniform window, sample covariance, K1=0.01, K2=0.03, mean over channels of
    the SSIM map without its (win_size-1)/2 border). Images in [0, 1], or ``data_range`` given (255
    for uint8). One fused pass of running window sums per image channel (numba, parallel over image
    channels), sums in float64."""
    return _quality(x, y, data_range, win_size)[0]


def image_quality(
    x: ArrayLike, y: ArrayLike, data_range: float | None = None, win_size: int = 7
) -> dict[str, np.ndarray]:
    """Per-image ``mse``, ``psnr`` (dB) and ``ssim`` (each (n,)) of reconstructions ``y`` of images
    ``x``, (n, H, W[, C]) in [0, 1] or in a range of width ``data_range``; one pass over the pixels for all three."""
    xb, yb = _image_batch(x, y)
    rng = _data_range(xb, yb, data_range)
    ssim, mse = _quality(xb, yb, rng, win_size)
    with np.errstate(divide="ignore"):
        return {"mse": mse, "psnr": 10 * np.log10(rng**2 / mse), "ssim": ssim}


def across_image_variance(x: ArrayLike) -> float:
    """Mean over pixel positions of the variance across the images of a batch (n, ...): how much the
    images differ from one another (0 when every image is the same, e.g. one 'average' output). Computed in float64
    by :class:`AcrossImageVariance`, about 8 MB of the batch at a time."""
    x = _rows(_numeric(x, "images"))  # no copy: the whole batch in float64 was 2x its float32 size, twice
    _not_empty(x, "images")
    spread = AcrossImageVariance()
    for s in batch_slices(len(x), max(1, (1 << 20) // max(x.shape[1], 1))):
        spread._merge(x[s])  # checked above, once
    return spread.value()


class AcrossImageVariance:
    """:func:`across_image_variance` of images that come a batch at a time: :meth:`add` each batch (k, ...), then
    :meth:`value`. Holds each pixel position's count, mean and sum of squared deviations in float64 (three numbers a
    position, whatever the number of images), merged batch by batch (Chan, Golub and LeVeque's pairwise update)."""

    def __init__(self) -> None:
        self.count = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def add(self, batch: ArrayLike) -> None:
        """Take in a batch of images (k, ...), all of one shape (uint8 counts as 0-255)."""
        self._merge(_rows(_numeric(batch, "images")))

    def _merge(self, rows: np.ndarray) -> None:
        """Merge a checked batch (k, d) of numbers."""
        b = rows.astype(np.float32).astype(np.float64)
        if not len(b):
            return
        if self._mean is not None and b.shape[1] != self._mean.shape[0]:
            raise ParameterError(
                f"a batch of {b.shape[1]} values per image after images of {self._mean.shape[0]}: give images of one "
                "shape."
            )
        mean = b.mean(0)
        b -= mean
        m2 = np.einsum("ij,ij->j", b, b)
        if self._mean is None:
            self.count, self._mean, self._m2 = len(b), mean, m2
            return
        total = self.count + len(b)
        delta = mean - self._mean
        self._mean += delta * (len(b) / total)
        self._m2 += m2 + delta**2 * (self.count * len(b) / total)
        self.count = total

    def value(self) -> float:
        """The mean over pixel positions of the variance across every image added so far."""
        if self._m2 is None:
            raise ParameterError("no images were added; add at least one batch before asking for the variance.")
        return float((self._m2 / self.count).mean())


def interpolation_mse(frames: ArrayLike, dataset: ArrayLike) -> float | np.ndarray:
    """*interpolationMSE* (Surfing the manifold, 5.1.1): the mean over interpolated frames (n, ...) of
    each frame's MSE to its nearest image of ``dataset`` (m, ...); images in [0, 1] (uint8 counts as [0, 1]).
    Frames of k interpolations at once, (k, n, ...), give their k scores (k,)."""
    frames, dataset = _unit_images(frames, "frames"), _unit_images(dataset, "dataset")
    several = frames.ndim == dataset.ndim + 1
    item = frames.shape[2:] if several else frames.shape[1:]
    if item != dataset.shape[1:]:
        raise ParameterError(
            f"frames {frames.shape} do not match the dataset's images {dataset.shape[1:]}: give frames (n, ...) "
            "or (k, n, ...) of the dataset's image shape."
        )
    flat = frames.reshape(-1, *dataset.shape[1:]) if several else frames
    _not_empty(flat, "frames")
    dist, _ = nearest_distances(flat, dataset)
    per_frame = np.square(dist) / max(int(np.prod(dataset.shape[1:])), 1)
    return per_frame.reshape(frames.shape[:2]).mean(1) if several else float(per_frame.mean())


def ground_truth_error(frames: ArrayLike, truth: ArrayLike | dict[str, ArrayLike]) -> dict[str, float]:
    """How far an interpolation (n, H, W, C) is from ground-truth interpolations (Surfing the manifold,
    6.2.2): the mean over frames of the MSE of frame t to truth frame t, for each valid path in
    ``truth`` (``{name: (n, H, W, C)}``, or one array), and ``best``: the minimum over the paths.
    uint8 images count as [0, 1]."""
    frames = _unit_images(frames, "frames", check_range=False)
    paths = truth if isinstance(truth, dict) else {"truth": truth}
    if not paths:
        raise ParameterError("ground_truth_error needs at least one ground-truth path.")
    scores = {
        name: float(mse_per_image(frames, _unit_images(path, f"truth path {name!r}", check_range=False)).mean())
        for name, path in paths.items()
    }
    scores["best"] = min(scores.values())
    return scores


def path_smoothness(frames: ArrayLike) -> float:
    """Spread of the distances between consecutive frames (n, ...), n >= 3: their coefficient of
    variation std / mean (0 = an evenly paced animation; large = jumps between near-still stretches)."""
    f = _unit_images(frames, "frames", check_range=False)
    f = _rows(f).astype(np.float64)
    if len(f) < 3:
        raise ParameterError(f"path_smoothness needs at least 3 frames, got {len(f)}.")
    steps = np.linalg.norm(np.diff(f, axis=0), axis=1)
    return float(steps.std() / steps.mean()) if steps.mean() > 0 else 0.0


def detail_energy(images: ArrayLike) -> np.ndarray:
    """Fine detail of each image (n, H, W[, C]) (uint8 counts as [0, 1]): the mean squared response of
    the 3x3 Laplacian (4 x centre - its 4 neighbours) over interior pixels and channels, (n,).
    0 for a flat image; blurring lowers it, so a blurry reconstruction or a cross-dissolve of
    misaligned images scores below the real images it is made of. Computed 256 images at a time: memory holds a
    float64 chunk, not a float64 copy of them all."""
    images = _numeric(images, "images")
    if images.ndim not in (3, 4) or min(images.shape[1:3]) < 3:
        raise ParameterError(f"detail_energy needs images (n, H, W[, C]) of at least 3x3 pixels; got {images.shape}.")
    out = np.empty(len(images))
    for part in batch_slices(len(images), 256):
        x = _unit_images(images[part], check_range=False).astype(np.float64)
        x = x if x.ndim == 4 else x[..., None]
        lap = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
        out[part] = np.square(lap).reshape(len(x), -1).mean(1)
    return out
