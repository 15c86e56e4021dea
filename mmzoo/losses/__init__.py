"""Losses for multimodal learning (pure `keras.ops` functions and Loss wrappers)."""

from mmzoo.losses.elbo import (
    bernoulli_reconstruction,
    categorical_reconstruction,
    gaussian_reconstruction,
    kl_standard_normal,
    negative_elbo,
)
from mmzoo.losses.entropy import (
    MixtureEntropyEstimator,
    gaussian_entropy,
    mixture_entropy,
    weighted_mixture_entropy,
)
from mmzoo.losses.infomax import (
    CPCPredictor,
    GaussianPredictor,
    barber_agakov_bound,
    gaussian_log_likelihood,
    info_nce,
)

__all__ = [
    "CPCPredictor",
    "GaussianPredictor",
    "MixtureEntropyEstimator",
    "barber_agakov_bound",
    "bernoulli_reconstruction",
    "categorical_reconstruction",
    "gaussian_entropy",
    "gaussian_log_likelihood",
    "gaussian_reconstruction",
    "info_nce",
    "kl_standard_normal",
    "mixture_entropy",
    "negative_elbo",
    "weighted_mixture_entropy",
]
