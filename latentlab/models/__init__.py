"""Model builders, losses and resumable training."""

from latentlab.models.autoencoder_kl import AutoencoderKL, AutoencoderKLConfig
from latentlab.models.classifier import build_digit_classifier
from latentlab.models.dense import ARCHITECTURES, build_dense_autoencoder
from latentlab.models.latent_predictor import build_middle_latent_predictor
from latentlab.models.losses import LOSSES, get_loss
from latentlab.models.training import fit

__all__ = [
    "ARCHITECTURES",
    "LOSSES",
    "AutoencoderKL",
    "AutoencoderKLConfig",
    "build_dense_autoencoder",
    "build_digit_classifier",
    "build_middle_latent_predictor",
    "fit",
    "get_loss",
]
