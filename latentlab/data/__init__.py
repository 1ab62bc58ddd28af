"""Datasets: one module per dataset, plus :mod:`latentlab.data.sources` for where files come from."""

from latentlab.data.mnist import load_mnist, to_vectors
from latentlab.data.sources import DataSource

__all__ = ["DataSource", "load_mnist", "to_vectors"]
