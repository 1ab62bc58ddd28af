"""Differentiable image transformations of the interpolation paper (Ganin, section 4.1), in keras.ops.

Images are (n, h, w, c) floats in [0, 1]. Each function is differentiable in every argument, so a
transformer network that predicts their parameters can be trained by backpropagation.
"""

from __future__ import annotations

from typing import Any

from keras import ops

Tensor = Any  # a backend tensor (or anything keras.ops converts to one)


def warp(images: Tensor, flow: Tensor, padding: str = "zeros") -> Tensor:
    """Bilinear warping, paper eq. (2): ``O(x, y) = I{x + F(x, y, 1), y + F(x, y, 2)}``.

    ``images`` (n, h, w, c), ``flow`` (n, h, w, 2) in pixels (channel 0: x / width offset, channel 1:
    y / height offset). A zero flow is the identity; a constant flow (dx, dy) moves the content by
    (-dx, -dy). Positions outside the image read 0 (``padding="zeros"``) or the nearest border pixel
    (``"border"``). Returns (n, h, w, c).
    """
    h, w, c = images.shape[1], images.shape[2], images.shape[3]
    images = ops.convert_to_tensor(images)
    flow = ops.cast(flow, images.dtype)
    gx = ops.cast(ops.arange(w), images.dtype)[None, None, :]
    gy = ops.cast(ops.arange(h), images.dtype)[None, :, None]
    x = gx + flow[..., 0]
    y = gy + flow[..., 1]
    if padding == "border":
        x = ops.clip(x, 0.0, w - 1.0)
        y = ops.clip(y, 0.0, h - 1.0)
    x0, y0 = ops.floor(x), ops.floor(y)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    flat = ops.reshape(images, (-1, h * w, c))

    def read(yi: Tensor, xi: Tensor) -> Tensor:
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
        idx = ops.cast(ops.clip(yi, 0, h - 1) * w + ops.clip(xi, 0, w - 1), "int32")
        idx = ops.clip(idx, 0, h * w - 1)  # a NaN position must give NaN, not an out-of-range read
        idx = ops.tile(ops.reshape(idx, (-1, h * w, 1)), (1, 1, c))
        values = ops.reshape(ops.take_along_axis(flat, idx, axis=1), (-1, h, w, c))
        return values * ops.cast(inside, images.dtype)[..., None]

    top = (1.0 - wx) * read(y0, x0) + wx * read(y0, x0 + 1.0)
    bottom = (1.0 - wx) * read(y0 + 1.0, x0) + wx * read(y0 + 1.0, x0 + 1.0)
    return (1.0 - wy) * top + wy * bottom


def recolor(images: Tensor, alpha: Tensor, A: Tensor, b: Tensor) -> Tensor:
    """Affine recolouring, paper eq. (3): ``O = alpha I + (1 - alpha) (A I + b)`` per pixel.

    ``images`` (n, h, w, c), ``alpha`` (n, h, w, 1) in [0, 1] (1 keeps the pixel), ``A`` (n, c, c),
    ``b`` (n, c). With ``A = I`` and ``b = 0`` it is the identity whatever the mask. Returns (n, h, w, c).
    """
    images = ops.convert_to_tensor(images)
    recoloured = ops.einsum("nij,nhwj->nhwi", A, images) + b[:, None, None, :]
    return alpha * images + (1.0 - alpha) * recoloured


def blend(images: Tensor, alpha: Tensor, direct: Tensor) -> Tensor:
    """Blending with direct synthesis, paper eq. (4): ``O = alpha I + (1 - alpha) D``.

    ``images`` and ``direct`` (n, h, w, c), ``alpha`` (n, h, w, 1) in [0, 1]. Returns (n, h, w, c).
    """
    return alpha * images + (1.0 - alpha) * direct
