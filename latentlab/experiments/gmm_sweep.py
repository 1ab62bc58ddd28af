"""Choosing the number of mixture components K (MNIST paper, 3.2): one :class:`ClassGMM` per K, scored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from numpy.typing import ArrayLike

from latentlab.errors import ParameterError
from latentlab.latent.samplers import ClassGMM


def gmm_sweep(
    z_train: ArrayLike,
    y_train: ArrayLike,
    z_test: ArrayLike,
    y_test: ArrayLike,
    ks: Iterable[int],
    fitted: Mapping[int, ClassGMM] | None = None,
    **gmm_kwargs: Any,
) -> dict[str, list[float]]:
    """Fit :class:`ClassGMM` for each K in ``ks``; BIC on the training codes and mean held-out
    log-likelihood on the test codes, the two usual ways of choosing K. ``fitted`` ({K: ClassGMM}
    already fitted on ``z_train``) saves refitting a K the caller has."""
    ks = list(ks)
    if not ks:
        raise ParameterError("ks is empty: give the numbers of components to compare, e.g. (1, 5, 25).")
    fitted = dict(fitted or {})
    for k, gmm in fitted.items():
        if not isinstance(gmm, ClassGMM) or gmm.n_components != k:
            raise ParameterError(f"fitted[{k!r}] is not a ClassGMM with {k} components; pass {{K: ClassGMM(K)}}.")
    out = {"k": [], "bic": [], "test_loglik": []}
    for k in ks:
        gmm = fitted.get(k) or ClassGMM(k, **gmm_kwargs).fit(z_train, y_train)
        out["k"].append(int(k))
        out["bic"].append(gmm.bic(z_train, y_train))
        out["test_loglik"].append(gmm.score(z_test, y_test))
    return out
