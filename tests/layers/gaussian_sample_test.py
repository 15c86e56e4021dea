import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.layers import GaussianSample
from mmzoo.testing import run_layer_test


def _inputs(batch=4, latent=3, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(batch, latent)).astype("float32"),
        rng.normal(size=(batch, latent)).astype("float32"),
    )


def test_harness_returns_the_mean_at_inference():
    mu, logvar = _inputs()
    run_layer_test(
        GaussianSample,
        {"seed": 3},
        input_data=mu,
        call_kwargs={"logvar": logvar},
        expected_output_shape=(4, 3),
        expected_output=mu,
        expected_num_trainable_weights=0,
    )


def test_sample_statistics():
    n = 20000
    mu = np.full((n, 2), [1.0, -2.0], "float32")
    logvar = np.full((n, 2), [np.log(4.0), np.log(0.25)], "float32")
    z = np.asarray(GaussianSample(seed=1)(mu, logvar, training=True))
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [2.0, 0.5], rtol=0.03)


def test_seeded_and_sampling_switches():
    mu, logvar = _inputs()
    a = GaussianSample(seed=7)(mu, logvar, training=True)
    b = GaussianSample(seed=7)(mu, logvar, training=True)
    np.testing.assert_array_equal(a, b)
    layer = GaussianSample(seed=7)
    first = layer(mu, logvar, training=True)
    second = layer(mu, logvar, training=True)
    assert not np.allclose(first, second)  # the generator advances
    np.testing.assert_array_equal(layer(mu, logvar), mu)
    assert not np.allclose(layer(mu, logvar, sample=True), mu)
    np.testing.assert_array_equal(layer(mu, logvar, training=True, sample=False), mu)
    always = GaussianSample(seed=7, sample_at_inference=True)
    assert not np.allclose(always(mu, logvar), mu)


def test_gradients_reach_mu_and_logvar_and_are_finite_at_50():
    mu, logvar = _inputs()
    logvar[0] = 50.0
    logvar[1] = -50.0
    mu_t, logvar_t = tf.Variable(mu), tf.Variable(logvar)
    with tf.GradientTape() as tape:
        z = GaussianSample(seed=0)(mu_t, logvar_t, training=True)
        loss = tf.reduce_sum(z)
    grads = tape.gradient(loss, [mu_t, logvar_t])
    np.testing.assert_array_equal(grads[0], np.ones_like(mu))
    assert np.all(np.isfinite(grads[1])) and np.any(grads[1] != 0)


def test_mixed_precision_sample():
    mu, logvar = _inputs()
    z = GaussianSample(seed=0, dtype="mixed_float16")(mu, logvar, training=True)
    assert keras.backend.standardize_dtype(z.dtype) == "float16"
    assert np.all(np.isfinite(np.asarray(z, "float32")))


def test_bad_inputs():
    mu, logvar = _inputs()
    with pytest.raises(ValueError, match="logvar.shape"):
        GaussianSample()(mu, logvar[:, :2])
    with pytest.raises(ValueError, match="seed"):
        GaussianSample(seed="x")
