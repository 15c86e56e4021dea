"""`GaussianSample`: the reparameterisation trick, seeded."""

import keras
from keras import ops

# As `mmzoo.losses.infomax.LOGVAR_RANGE`: exp(0.5 * 30) ~ 3.3e6 stays finite.
LOGVAR_RANGE = (-30.0, 30.0)


@keras.saving.register_keras_serializable(package="mmzoo")
class GaussianSample(keras.layers.Layer):
    """Draw z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) (reparameterisation).

    In training (`training=True`) a sample is drawn with the layer's
    `keras.random.SeedGenerator`, so a seeded layer gives reproducible draws and
    gradients flow to `mu` and `logvar`. At inference the mean `mu` is returned,
    unless `sample_at_inference=True` or the call asks for `sample=True`.
    The standard deviation is computed in float32, from the log-variance
    clipped to [-30, 30] (the range `gaussian_log_likelihood` uses) so that a
    diverging encoder (log-variance beyond ~177) gives a finite sample, not
    inf/NaN; the clip has zero gradient outside that range.

    Args:
        seed: int, optional. Seed of the layer's `SeedGenerator`.
        sample_at_inference: bool. Sample also when `training` is false.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        mu: (batch, ..., latent) means.
        logvar: log-variances, same shape.
        training: bool. Sample when true.
        sample: bool, optional. Overrides the choice made by `training`.

    Returns:
        z, same shape as `mu`, in the layer's compute dtype.

    Example:

    >>> import numpy as np
    >>> sampler = GaussianSample(seed=1)
    >>> z = sampler(np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32"))
    >>> np.asarray(z).tolist()  # the mean at inference
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]

    References:
        Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    """

    def __init__(self, seed=None, sample_at_inference=False, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"`seed` must be an int or None. Received seed={seed!r}")
        self.seed = seed
        self.sample_at_inference = bool(sample_at_inference)
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")

    def call(self, mu, logvar, training=None, sample=None):
        if tuple(mu.shape[1:]) != tuple(logvar.shape[1:]):
            raise ValueError(
                "`mu` and `logvar` must have the same shape. Received "
                f"mu.shape={tuple(mu.shape)}, logvar.shape={tuple(logvar.shape)}"
            )
        if sample is None:
            sample = bool(training) or self.sample_at_inference
        if not sample:
            return ops.cast(mu, self.compute_dtype)
        mu32 = ops.cast(mu, "float32")
        logvar32 = ops.clip(ops.cast(logvar, "float32"), *LOGVAR_RANGE)
        std = ops.exp(0.5 * logvar32)
        eps = _replica_noise(ops.shape(mu32), self.seed_generator)
        return ops.cast(mu32 + std * eps, self.compute_dtype)

    def compute_output_shape(self, mu_shape, logvar_shape=None):
        return tuple(mu_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"seed": self.seed, "sample_at_inference": self.sample_at_inference}
        )
        return config


def _replica_noise(shape, seed_generator):
    """Standard normal noise of `shape`; under a `tf.distribute` strategy with
    N replicas, this replica's rows of one draw for the global batch.

    Every replica holds the same generator state, so each draws the noise of
    the whole global batch (N times its own rows) and keeps the rows of its
    share: with the global batch split evenly, training samples the same noise
    as one device on that global batch.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        if replicas > 1:
            rows = shape[0]
            start = ctx.replica_id_in_sync_group * rows
            full = keras.random.normal(
                (rows * replicas, *shape[1:]), seed=seed_generator
            )
            return full[start : start + rows]
    return keras.random.normal(shape, seed=seed_generator)
