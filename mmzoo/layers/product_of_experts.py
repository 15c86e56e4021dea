"""`ProductOfExperts`: the joint Gaussian posterior of the MVAE."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mmzoo")
class ProductOfExperts(keras.layers.Layer):
    """Product of diagonal Gaussian experts, with an optional N(0, I) prior expert.

    Each expert i is a diagonal Gaussian N(mu_i, exp(logvar_i)). Their product is
    again Gaussian, with precision the sum of the precisions T_i = exp(-logvar_i)
    and mean the precision-weighted mean:

        T = T_prior + sum_i m_i T_i,         var = 1 / T
        mu = (sum_i m_i T_i mu_i) / T        (the prior's mean is 0)

    where m_i in {0, 1} is the expert's mask (1 = present). The sums are computed
    in log space (`log T = logsumexp(0, -logvar_i)`, weights `T_i / T` as a
    softmax), in float32, so the result is finite for log-variances far beyond
    +-50. A masked expert is removed before any arithmetic (`where`, not a
    multiplication): its values, even NaN or Inf, never reach the result, which
    is the same as with the expert absent. With every expert masked the result is
    the prior N(0, I) (or, without a prior expert, mean 0 and log-variance
    +inf, which is why the prior expert is on by default).

    The paper (Wu and Goodman 2018, section 2) writes the joint posterior as
    p(z) times the product of the unimodal experts, i.e. the prior is one of the
    experts; the authors' code (`ProductOfExperts` with `prior_expert`) does the
    same. Both are followed here (`use_prior_expert=True`).

    Args:
        use_prior_expert: bool. Include the N(0, I) prior expert.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        mu: (batch, num_experts, latent) means.
        logvar: (batch, num_experts, latent) log-variances.
        mask: optional (batch, num_experts) of 0/1 or booleans; 1 = present.

    Returns:
        `(mu, logvar)` of the product, each (batch, latent), always float32.

    Example:

    >>> import numpy as np
    >>> poe = ProductOfExperts()
    >>> mu, logvar = poe(np.ones((2, 3, 4), "float32"), np.zeros((2, 3, 4), "float32"))
    >>> float(mu[0, 0]), float(logvar[0, 0])  # 3 experts at 1 + prior at 0
    (0.75, -1.3862943649291992)

    References:
        Wu and Goodman, "Multimodal Generative Models for Scalable
        Weakly-Supervised Learning", NeurIPS 2018 (arXiv:1802.05335).
        Hinton, "Training Products of Experts by Minimizing Contrastive
        Divergence", Neural Computation 2002.
    """

    def __init__(self, use_prior_expert=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(use_prior_expert, bool):
            raise ValueError(
                "`use_prior_expert` must be a bool. "
                f"Received use_prior_expert={use_prior_expert!r}"
            )
        self.use_prior_expert = use_prior_expert
        # `mask` is an expert mask consumed here, not a Keras mask to propagate:
        # accept it without a warning and attach no mask to the outputs.
        self.supports_masking = True

    def call(self, mu, logvar, mask=None):
        _check_shapes(mu, logvar, mask)
        mu = ops.cast(mu, "float32")
        logvar = ops.cast(logvar, "float32")
        log_precision = -logvar
        if mask is not None:
            present = ops.expand_dims(ops.cast(mask, "bool"), -1)
            log_precision = ops.where(present, log_precision, float("-inf"))
            mu = ops.where(present, mu, 0.0)
        if self.use_prior_expert:
            prior = ops.zeros_like(log_precision[:, :1])
            log_precision = ops.concatenate([prior, log_precision], axis=1)
            mu = ops.concatenate([ops.zeros_like(mu[:, :1]), mu], axis=1)
        log_total = ops.logsumexp(log_precision, axis=1)
        weights = ops.exp(log_precision - ops.expand_dims(log_total, 1))
        if mask is not None and not self.use_prior_expert:
            # exp(-inf - -inf) is NaN where every expert is masked: weight 0.
            weights = ops.where(ops.isnan(weights), 0.0, weights)
        joint_mu = ops.sum(weights * mu, axis=1)
        return joint_mu, -log_total

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def compute_output_shape(self, mu_shape, logvar_shape=None, mask_shape=None):
        shape = (mu_shape[0], mu_shape[2])
        return shape, shape

    def compute_output_spec(self, mu, logvar, mask=None):
        _check_shapes(mu, logvar, mask)
        shape = (mu.shape[0], mu.shape[2])
        return (
            keras.KerasTensor(shape, dtype="float32"),
            keras.KerasTensor(shape, dtype="float32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"use_prior_expert": self.use_prior_expert})
        return config


def _check_shapes(mu, logvar, mask):
    if len(mu.shape) != 3:
        raise ValueError(
            "ProductOfExperts expects `mu` of shape (batch, num_experts, latent). "
            f"Received mu.shape={tuple(mu.shape)}"
        )
    if tuple(logvar.shape[1:]) != tuple(mu.shape[1:]):
        raise ValueError(
            "`logvar` must have the shape of `mu`. Received "
            f"logvar.shape={tuple(logvar.shape)}, mu.shape={tuple(mu.shape)}"
        )
    for name, value in (("mu", mu), ("logvar", logvar)):
        if "float" not in keras.backend.standardize_dtype(value.dtype):
            raise ValueError(
                f"`{name}` must be floating point. Received dtype={value.dtype}"
            )
    if mask is not None and (len(mask.shape) != 2 or mask.shape[1] != mu.shape[1]):
        raise ValueError(
            "`mask` must have shape (batch, num_experts) = (batch, "
            f"{mu.shape[1]}). Received mask.shape={tuple(mask.shape)}"
        )
