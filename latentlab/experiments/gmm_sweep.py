"""Choosing the number of mixture components K (MNIST paper, 3.2): one :class:`ClassGMM` per K, scored."""

from __future__ import annotations

from latentlab.latent.samplers import ClassGMM


def gmm_sweep(z_train, y_train, z_test, y_test, ks, fitted=None, **gmm_kwargs) -> dict[str, list[float]]:
    """Fit :class:`ClassGMM` for each K in ``ks``; BIC on the training codes and mean held-out
    log-likelihood on the test codes, the two usual ways of choosing K. ``fitted`` ({K: ClassGMM}
    already fitted on ``z_train``) saves refitting a K the caller has."""
    fitted = dict(fitted or {})
    out = {"k": [], "bic": [], "test_loglik": []}
    for k in ks:
        gmm = fitted.get(k) or ClassGMM(k, **gmm_kwargs).fit(z_train, y_train)
        out["k"].append(int(k))
        out["bic"].append(gmm.bic(z_train, y_train))
        out["test_loglik"].append(gmm.score(z_test, y_test))
    return out
