"""Losses for multimodal learning (pure `keras.ops` functions and Loss wrappers)."""

from mmzoo.losses.elbo import (
    bernoulli_reconstruction,
    categorical_reconstruction,
    gaussian_reconstruction,
    kl_standard_normal,
    negative_elbo,
)

__all__ = [
    "bernoulli_reconstruction",
    "categorical_reconstruction",
    "gaussian_reconstruction",
    "kl_standard_normal",
    "negative_elbo",
]
