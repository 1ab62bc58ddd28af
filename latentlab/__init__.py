"""latentlab: helpers behind the notebooks on autoencoder latent spaces.

Subpackages follow the papers: :mod:`latentlab.data` (datasets and their offline sources),
:mod:`latentlab.models` (builders and training), :mod:`latentlab.latent` (statistics, samplers,
paths), :mod:`latentlab.metrics`, :mod:`latentlab.plots`, :mod:`latentlab.widgets`,
:mod:`latentlab.config` (profiles, paths, seeds) and :mod:`latentlab.report` (metrics files).
"""

__version__ = "0.1.0"
