"""Numbers for what papers show by eye: reconstruction errors, nearest matches, and the quality,
diversity and novelty of generated images. Plain numpy over flat images (n, d) in [0, 1]."""

from __future__ import annotations

import numpy as np

from latentlab.batching import batch_slices
from latentlab.errors import ParameterError

EPS = 1e-7


def _flat(x) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x.reshape(len(x), -1)


def reconstruction_errors(x, x_hat) -> dict[str, float]:
    """Mean over images of the paper's three losses: ``mse`` (E1), ``bce`` (E2 / d, as Keras
    reports it) and ``euclidean`` (E3 = ||x_hat - x||^2)."""
    x, x_hat = _flat(x), _flat(x_hat)
    if x.shape != x_hat.shape:
        raise ParameterError(f"Images and reconstructions differ in shape: {x.shape} vs {x_hat.shape}.")
    sq = np.square(x_hat - x)
    p = np.clip(x_hat, EPS, 1 - EPS)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).mean(1)
    return {"mse": float(sq.mean()), "bce": float(bce.mean()), "euclidean": float(sq.sum(1).mean())}


def pairwise_bce(targets, candidates, chunk: int = 4096) -> np.ndarray:
    """Binary cross-entropy (mean over pixels) of each candidate (m, d) as a prediction of each
    target (n, d): an (n, m) matrix, computed by matrix products in chunks."""
    t = _flat(targets)
    out = np.empty((len(t), len(candidates)), np.float32)
    for s in batch_slices(len(candidates), chunk):
        c = np.clip(_flat(candidates[s]), EPS, 1 - EPS)
        out[:, s] = -(t @ np.log(c).T + (1 - t) @ np.log(1 - c).T) / t.shape[1]
    return out


def nearest_distances(queries, references, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query (n, d) to its nearest reference (m, d), and that
    reference's index; exact, by chunked matrix products."""
    q, r = _flat(queries).astype(np.float64), _flat(references)
    r_sq = np.einsum("ij,ij->i", r, r, dtype=np.float64)
    best = np.full(len(q), np.inf)
    arg = np.zeros(len(q), np.int64)
    for s in batch_slices(len(r), chunk):
        d2 = r_sq[s][None, :] - 2 * q @ r[s].astype(np.float64).T
        i = d2.argmin(1)
        v = d2[np.arange(len(q)), i]
        better = v < best
        best[better], arg[better] = v[better], i[better] + s.start
    best = np.sqrt(np.clip(best + np.einsum("ij,ij->i", q, q), 0, None))
    return best, arg


def mean_pairwise_distance(x) -> float:
    """Mean Euclidean distance between distinct images of a set: its diversity."""
    x = _flat(x).astype(np.float64)
    if len(x) < 2:
        raise ParameterError("Diversity needs at least two images.")
    sq = np.einsum("ij,ij->i", x, x)
    d = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0, None))
    return float(d.sum() / (len(x) * (len(x) - 1)))


def generation_scores(images, intended, predicted, train_images) -> dict[str, float]:
    """How good a generator of labelled images is.

    ``accuracy``: fraction whose classifier prediction is the intended label;
    ``diversity``: mean pairwise distance within each intended class, averaged over classes;
    ``novelty``: mean distance to the nearest training image (0 = a copy of the training set).
    Images (n, 28, 28) or (n, 784) in [0, 1]; ``intended`` and ``predicted`` labels (n,).
    """
    intended, predicted = np.asarray(intended), np.asarray(predicted)
    classes = np.unique(intended)
    diversity = np.mean([mean_pairwise_distance(_flat(images)[intended == c]) for c in classes])
    novelty, _ = nearest_distances(images, train_images)
    return {
        "accuracy": float((intended == predicted).mean()),
        "diversity": float(diversity),
        "novelty": float(novelty.mean()),
    }


def _image_batch(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.ndim not in (3, 4):
        raise ParameterError(f"Expected two batches of one shape (n, H, W[, C]); got {x.shape} and {y.shape}.")
    return (x, y) if x.ndim == 4 else (x[..., None], y[..., None])


def mse_per_image(x, y) -> np.ndarray:
    """Mean squared error of each image pair: (n,) from two (n, H, W[, C]) batches."""
    x, y = _image_batch(x, y)
    return np.square(x.astype(np.float64) - y).reshape(len(x), -1).mean(1)


def psnr_per_image(x, y, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio in dB, 10 log10(data_range^2 / MSE), of each pair: (n,)
    (``inf`` for identical images), as ``skimage.metrics.peak_signal_noise_ratio``."""
    mse = mse_per_image(x, y)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range**2 / mse)


def _quality_kernel():
    """Compile (once, cached on disk) the fused kernel: for each image channel, in one pass of running
    window sums, the mean SSIM over valid windows and the sum of squared differences."""
    import numba

    @numba.njit(parallel=True, cache=True, fastmath={"contract", "reassoc"})
    def kernel(x, y, w, c1, c2, cov_norm, ssim, sse):
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


_KERNEL = []


def _quality(x, y, data_range: float, win_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean SSIM, MSE) per image of two batches, both from one pass of the fused kernel."""
    x, y = _image_batch(x, y)
    if win_size % 2 == 0 or min(x.shape[1:3]) < win_size:
        raise ParameterError(f"win_size={win_size} must be odd and at most the image side {x.shape[1:3]}.")
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


def ssim_per_image(x, y, data_range: float = 1.0, win_size: int = 7) -> np.ndarray:
    """Structural similarity of each pair: (n,) from (n, H, W[, C]) batches, equal to
    ``skimage.metrics.structural_similarity(x[i], y[i], win_size=win_size, data_range=data_range,
    channel_axis=-1)`` (uniform window, sample covariance, K1=0.01, K2=0.03, mean over channels of
    the SSIM map without its (win_size-1)/2 border). One fused pass of running window sums per
    image channel (numba, parallel over image channels), sums in float64."""
    return _quality(x, y, data_range, win_size)[0]


def image_quality(x, y, data_range: float = 1.0, win_size: int = 7) -> dict[str, np.ndarray]:
    """Per-image ``mse``, ``psnr`` (dB) and ``ssim`` (each (n,)) of reconstructions ``y`` of images
    ``x``, (n, H, W[, C]) in the range ``data_range``; one pass over the pixels for all three."""
    ssim, mse = _quality(x, y, data_range, win_size)
    with np.errstate(divide="ignore"):
        return {"mse": mse, "psnr": 10 * np.log10(data_range**2 / mse), "ssim": ssim}


def across_image_variance(x) -> float:
    """Mean over pixel positions of the variance across the images of a batch (n, ...): how much the
    images differ from one another (0 when every image is the same, e.g. one 'average' output)."""
    return float(_flat(x).astype(np.float64).var(0).mean())


def _unit_images(x) -> np.ndarray:
    x = np.asarray(x)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def interpolation_mse(frames, dataset):
    """*interpolationMSE* (Surfing the manifold, 5.1.1): the mean over interpolated frames (n, ...) of
    each frame's MSE to its nearest image of ``dataset`` (m, ...); uint8 images count as [0, 1].
    Frames of k interpolations at once, (k, n, ...), give their k scores (k,)."""
    frames, dataset = _unit_images(frames), _unit_images(dataset)
    several = frames.ndim == dataset.ndim + 1
    flat = frames.reshape(-1, *dataset.shape[1:]) if several else frames
    dist, _ = nearest_distances(flat, dataset)
    per_frame = np.square(dist) / _flat(dataset).shape[1]
    return per_frame.reshape(frames.shape[:2]).mean(1) if several else float(per_frame.mean())


def ground_truth_error(frames, truth) -> dict[str, float]:
    """How far an interpolation (n, H, W, C) is from ground-truth interpolations (Surfing the manifold,
    6.2.2): the mean over frames of the MSE of frame t to truth frame t, for each valid path in
    ``truth`` (``{name: (n, H, W, C)}``, or one array), and ``best``: the minimum over the paths."""
    frames = _unit_images(frames)
    paths = truth if isinstance(truth, dict) else {"truth": truth}
    if not paths:
        raise ParameterError("ground_truth_error needs at least one ground-truth path.")
    scores = {name: float(mse_per_image(frames, _unit_images(path)).mean()) for name, path in paths.items()}
    scores["best"] = min(scores.values())
    return scores


def path_smoothness(frames) -> float:
    """Spread of the distances between consecutive frames (n, ...), n >= 3: their coefficient of
    variation std / mean (0 = an evenly paced animation; large = jumps between near-still stretches)."""
    f = _flat(_unit_images(frames)).astype(np.float64)
    if len(f) < 3:
        raise ParameterError(f"path_smoothness needs at least 3 frames, got {len(f)}.")
    steps = np.linalg.norm(np.diff(f, axis=0), axis=1)
    return float(steps.std() / steps.mean()) if steps.mean() > 0 else 0.0


def detail_energy(images) -> np.ndarray:
    """Fine detail of each image (n, H, W[, C]) (uint8 counts as [0, 1]): the mean squared response of
    the 3x3 Laplacian (4 x centre - its 4 neighbours) over interior pixels and channels, (n,).
    0 for a flat image; blurring lowers it, so a blurry reconstruction or a cross-dissolve of
    misaligned images scores below the real images it is made of."""
    x = _unit_images(images).astype(np.float64)
    if x.ndim not in (3, 4) or min(x.shape[1:3]) < 3:
        raise ParameterError(f"detail_energy needs images (n, H, W[, C]) of at least 3x3 pixels; got {x.shape}.")
    x = x if x.ndim == 4 else x[..., None]
    lap = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    return np.square(lap).reshape(len(x), -1).mean(1)
