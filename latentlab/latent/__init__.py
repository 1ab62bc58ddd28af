"""Latent-space analysis: samplers, paths and projections over codes (n, d)."""

from latentlab.latent.basis import UnitBasis, unit_basis
from latentlab.latent.paths import convex_combinations, pairwise_paths
from latentlab.latent.projection import PCA, components_for_variance, pca
from latentlab.latent.samplers import ClassGaussian, ClassGMM, sample_per_class

__all__ = [
    "PCA",
    "ClassGMM",
    "ClassGaussian",
    "UnitBasis",
    "components_for_variance",
    "convex_combinations",
    "pairwise_paths",
    "pca",
    "sample_per_class",
    "unit_basis",
]
