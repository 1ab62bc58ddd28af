"""Choosing the number of mixture components K (MNIST paper, 3.2): one :class:`ClassGMM` per K, scored by the
two usual criteria (BIC, held-out likelihood) and by what matters for generating: its samples, judged."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from tqdm.auto import tqdm

from latentlab.errors import ParameterError
from latentlab.experiments.judging import Images, judge_sampler
from latentlab.latent.samplers import ClassGMM


def fit_per_k(
    z_train: ArrayLike,
    y_train: ArrayLike,
    ks: Iterable[int],
    fitted: Mapping[int, ClassGMM] | None = None,
    progress: bool = True,
    **gmm_kwargs: Any,
) -> dict[int, ClassGMM]:
    """``{K: ClassGMM(K, **gmm_kwargs)}`` fitted on the training codes for each K in ``ks``. ``fitted`` ({K:
    ClassGMM} already fitted on ``z_train``) saves refitting a K the caller has. A bar counts the fits (large K
    takes minutes)."""
    ks = list(ks)
    if not ks:
        raise ParameterError("ks is empty: give the numbers of components to compare, e.g. (1, 5, 25).")
    fitted = dict(fitted or {})
    for k, gmm in fitted.items():
        if not isinstance(gmm, ClassGMM) or gmm.n_components != k:
            raise ParameterError(f"fitted[{k!r}] is not a ClassGMM with {k} components; pass {{K: ClassGMM(K)}}.")
    models = {}
    with tqdm(ks, desc="class mixtures per K", unit="K", disable=not progress) as bar:
        for k in bar:
            bar.set_postfix_str(f"K={k}")
            models[int(k)] = fitted.get(k) or ClassGMM(k, **gmm_kwargs).fit(z_train, y_train)
    return models


def gmm_sweep(
    z_train: ArrayLike,
    y_train: ArrayLike,
    z_test: ArrayLike,
    y_test: ArrayLike,
    ks: Iterable[int],
    fitted: Mapping[int, ClassGMM] | None = None,
    **gmm_kwargs: Any,
) -> dict[str, list[float]]:
    """BIC on the training codes and mean held-out log-likelihood on the test codes of a :class:`ClassGMM` for
    each K in ``ks``, the two usual ways of choosing K (models from :func:`fit_per_k`; ``fitted`` and
    ``gmm_kwargs`` as there)."""
    models = fit_per_k(z_train, y_train, ks, fitted, progress=False, **gmm_kwargs)
    return {
        "k": list(models),
        "bic": [gmm.bic(z_train, y_train) for gmm in models.values()],
        "test_loglik": [gmm.score(z_test, y_test) for gmm in models.values()],
    }


def judge_per_k(
    models: Mapping[int, ClassGMM],
    n_per_class: int,
    decode: Images,
    classify: Images,
    train_images: ArrayLike,
    rng: np.random.Generator,
    near: float | None = None,
) -> dict[str, list[float]]:
    """The samples of each K's mixture (``models`` from :func:`fit_per_k`), judged: ``n_per_class`` codes of every
    class decoded and scored by :func:`~latentlab.experiments.judging.judge_sampler` (accuracy, diversity,
    novelty; near-copies with ``near``). Returns one list per score, in the order of ``models``, with ``k``."""
    if not models:
        raise ParameterError("models is empty: fit some first with fit_per_k.")
    out: dict[str, list[float]] = {"k": []}
    for k, gmm in models.items():
        scores, _, _ = judge_sampler(gmm, n_per_class, decode, classify, train_images, rng, near)
        out["k"].append(int(k))
        for name, value in scores.items():
            out.setdefault(name, []).append(value)
    return out
