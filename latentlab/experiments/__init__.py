"""Experiment runners: where data, models and analyses meet, over many settings or pairs.

:mod:`~latentlab.experiments.gmm_sweep` (K of the class mixtures, notebook 01),
:mod:`~latentlab.experiments.judging` (generated digits scored by a classifier: accuracy, diversity, novelty,
near-copies; notebook 01),
:mod:`~latentlab.experiments.triplet_passes` (a VAE over every ATD-12K triplet, a batch at a time, notebook 03),
:mod:`~latentlab.experiments.surfing` (linear against surfing interpolation over pairs, notebook 04),
:mod:`~latentlab.experiments.grid_search` (the denoising autoencoder's grid, notebook 04) and
:mod:`~latentlab.experiments.perceptual` (the perceptual-loss network, trained on the real MPI3D images when the
file is there, else on renders; notebook 04).
"""
