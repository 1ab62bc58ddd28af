"""The code's own axes (MNIST paper, 3.3.1, Fig. 5): each code unit's basis vector e_i, scaled to the unit's
typical activation, and the units that never fire.

Decoded at length 1, the basis vectors of a ReLU code look alike: 1 is small next to the values the units take,
and a unit that never fires was never seen active by the decoder. Scaled to what each unit typically holds, each
e_i shows what that unit alone contributes."""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike

from latentlab.errors import ParameterError


@dataclasses.dataclass(frozen=True)
class UnitBasis:
    """``codes`` (d, d): row i is e_i times ``scales[i]``; ``dead`` (d,): units that are 0 for every code."""

    codes: np.ndarray
    scales: np.ndarray
    dead: np.ndarray

    @property
    def live(self) -> np.ndarray:
        """Indices of the units that fire for at least one code."""
        return np.flatnonzero(~self.dead)


def unit_basis(z: ArrayLike) -> UnitBasis:
    """The basis vectors of codes ``z`` (n, d), each scaled to its unit's typical activation: the unit's mean
    magnitude over the codes where it is not 0. A dead unit (0 for every code) gets the live units' median scale, so its
    decoded image shows, at a comparable size, a direction the decoder never saw used."""
    z = np.asarray(z, np.float64)
    if z.ndim != 2 or len(z) < 1 or z.shape[1] < 1:
        raise ParameterError(f"codes have shape {z.shape}; give codes (n, d) with one row per item.")
    if not np.isfinite(z).all():
        raise ParameterError("codes contain NaN or infinite values; check the encoder's output.")
    active = z != 0
    dead = ~active.any(0)
    if dead.all():
        raise ParameterError("every code unit is 0 for every code: the encoder has not learned anything to show.")
    scales = np.zeros(z.shape[1])
    scales[~dead] = np.abs(z[:, ~dead]).sum(0) / active[:, ~dead].sum(0)
    scales[dead] = np.median(scales[~dead])
    return UnitBasis(np.diag(scales).astype(np.float32), scales, dead)
