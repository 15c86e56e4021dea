"""ELBO terms of a (multimodal) VAE as pure `keras.ops` functions.

Every function returns one value per example (shape `(batch,)`), in float32
whatever the input dtype, so it can be weighted, masked (missing modalities) and
averaged by the caller. Reconstruction terms are negative log-likelihoods:
lower is better, and `-ELBO = sum_m weight_m * recon_m + kl_weight * KL`.

References:
    Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    Wu and Goodman, "Multimodal Generative Models for Scalable Weakly-Supervised
    Learning", NeurIPS 2018 (per-modality weights lambda_i, KL annealing).
"""

from keras import ops


def _f32(x):
    return ops.cast(x, "float32")


def _sum_per_example(x):
    rank = len(x.shape)
    return ops.sum(x, axis=tuple(range(1, rank))) if rank > 1 else x


def kl_standard_normal(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over the latent dimensions.

    KL = -0.5 * sum(1 + logvar - mu^2 - exp(logvar)).

    Computed in float32. Above logvar = 60 (a variance of 1e26) exp is
    continued by its tangent, so a diverging encoder gets a finite KL and a
    finite gradient that still pulls logvar down, where exp would overflow
    to inf (logvar > ~88.7) and make the loss NaN.

    Args:
        mu: (batch, latent) means.
        logvar: (batch, latent) log-variances.

    Returns:
        (batch,) float32.
    """
    mu, logvar = _f32(mu), _f32(logvar)
    return -0.5 * ops.sum(1.0 + logvar - ops.square(mu) - _exp(logvar), axis=-1)


# Above this log-variance exp is continued linearly (see `_exp`): exact up to a
# variance of 1e26, and the tangent stays far below float32's 3.4e38 for any
# log-variance below ~1e12.
_EXP_LINEAR_FROM = 60.0


def _exp(x):
    """exp(x), continued by its tangent above 60: exp(60) * (1 + x - 60).

    Exact for x <= 60; above, finite where exp overflows
    float32 (x > ~88.7) and still increasing, so the KL keeps pushing a
    diverging log-variance down (a clip would give it zero gradient).
    """
    top = ops.minimum(x, _EXP_LINEAR_FROM)
    return ops.exp(top) * (1.0 + ops.maximum(x - _EXP_LINEAR_FROM, 0.0))


def bernoulli_reconstruction(x, logits):
    """Bernoulli negative log-likelihood of pixels in [0, 1] given logits.

    Binary cross-entropy with logits, in the stable form
    `max(l, 0) - l * x + log(1 + exp(-|l|))`, summed over every non-batch axis.

    Args:
        x: (batch, ...) targets in [0, 1].
        logits: (batch, ...) decoder logits, same shape.

    Returns:
        (batch,) float32.
    """
    x, logits = _f32(x), _f32(logits)
    bce = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
    return _sum_per_example(bce)


def gaussian_reconstruction(x, mean, variance=1.0):
    """Gaussian negative log-likelihood up to its constant: squared error.

    `0.5 * sum((x - mean)^2) / variance`, summed over every non-batch axis
    (the constant `0.5 * D * log(2 pi variance)` is left out).

    Args:
        x: (batch, ...) targets.
        mean: (batch, ...) decoder means, same shape.
        variance: float. The fixed observation variance.

    Returns:
        (batch,) float32.
    """
    if not variance > 0:
        raise ValueError(f"`variance` must be positive. Received variance={variance!r}")
    return _sum_per_example(0.5 * ops.square(_f32(x) - _f32(mean)) / variance)


def categorical_reconstruction(y, logits):
    """Categorical negative log-likelihood (cross-entropy) of labels given logits.

    Args:
        y: (batch, num_classes) one-hot (or soft) labels, or (batch,) integer
            labels.
        logits: (batch, num_classes) decoder logits.

    Returns:
        (batch,) float32.
    """
    logits = _f32(logits)
    log_p = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    if len(y.shape) == len(logits.shape) - 1:
        y = ops.one_hot(ops.cast(y, "int32"), logits.shape[-1])
    return -ops.sum(_f32(y) * log_p, axis=-1)


RECONSTRUCTIONS = {
    "bernoulli": bernoulli_reconstruction,
    "gaussian": gaussian_reconstruction,
    "categorical": categorical_reconstruction,
}


def negative_elbo(reconstructions, kl, weights=None, kl_weight=1.0, mask=None):
    """`sum_m weight_m * mask_m * recon_m + kl_weight * kl`, per example.

    Args:
        reconstructions: dict modality -> (batch,) negative log-likelihoods.
        kl: (batch,) KL of the posterior to the prior.
        weights: dict modality -> float (default 1 for each).
        kl_weight: float or scalar tensor (beta; annealed from 0 to 1).
        mask: dict modality -> (batch,) 0/1, optional: a missing modality adds
            no reconstruction term.

    Returns:
        (batch,) float32.
    """
    total = _f32(kl_weight) * _f32(kl)
    for name, value in reconstructions.items():
        term = _f32(value) * float((weights or {}).get(name, 1.0))
        if mask is not None and name in mask:
            term = ops.where(ops.cast(mask[name], "bool"), term, 0.0)
        total = total + term
    return total
