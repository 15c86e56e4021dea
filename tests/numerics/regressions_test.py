"""The falsifying examples the property tests found, pinned as plain tests."""

import numpy as np
import pytest
import tensorflow as tf

from mmzoo.layers import GaussianSample
from mmzoo.losses import kl_standard_normal


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_gaussian_sample_huge_logvar_is_finite(policy):
    # Was: z = -inf (exp(0.5 * 1e4) overflows float32), NaN gradients.
    mu = tf.constant([[0.12573022]])
    logvar = tf.constant([[1e4]])
    layer = GaussianSample(seed=3, dtype=policy)
    with tf.GradientTape() as tape:
        tape.watch([mu, logvar])
        z = tf.cast(layer(mu, logvar, training=True), "float32")
        total = tf.reduce_sum(z)
    grads = tape.gradient(total, [mu, logvar])
    assert np.all(np.isfinite(z.numpy()))
    for g in grads:
        assert np.all(np.isfinite(g.numpy()))


def test_kl_standard_normal_huge_logvar_is_finite_and_pulls_back():
    # Was: KL = inf (exp(1e4) overflows float32), NaN gradients.
    mu = tf.constant([[0.5, -1e4]])
    logvar = tf.constant([[1e4, -1e4]])
    with tf.GradientTape() as tape:
        tape.watch([mu, logvar])
        kl = kl_standard_normal(mu, logvar)
    d_mu, d_logvar = tape.gradient(kl, [mu, logvar])
    assert np.all(np.isfinite(kl.numpy())) and kl.numpy()[0] > 0
    assert np.all(np.isfinite(d_mu.numpy())) and np.all(np.isfinite(d_logvar.numpy()))
    assert d_logvar.numpy()[0, 0] > 0  # minimising the KL lowers the log-variance


def test_kl_standard_normal_unchanged_below_the_continuation():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(4, 3)).astype("float32")
    logvar = rng.uniform(-40.0, 60.0, size=(4, 3)).astype("float32")
    expected = -0.5 * np.sum(
        1.0 + logvar - mu.astype("float64") ** 2 - np.exp(logvar.astype("float64")),
        axis=-1,
    )
    np.testing.assert_allclose(kl_standard_normal(mu, logvar), expected, rtol=1e-5)
