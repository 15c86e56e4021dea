import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.losses import (
    bernoulli_reconstruction,
    categorical_reconstruction,
    gaussian_reconstruction,
    kl_standard_normal,
    negative_elbo,
)


def test_kl_by_hand():
    # KL(N(1, e^1) || N(0, 1)) = 0.5 * (e + 1 - 1 - 1) per dim; N(0, 1): 0.
    mu = np.array([[1.0, 0.0]], "float32")
    logvar = np.array([[1.0, 0.0]], "float32")
    np.testing.assert_allclose(
        kl_standard_normal(mu, logvar), [0.5 * (np.e + 1.0 - 1.0 - 1.0)], rtol=1e-6
    )


def test_bernoulli_by_hand():
    x = np.array([[[1.0, 0.0], [0.5, 1.0]]], "float32")  # (1, 2, 2): summed
    logits = np.array([[[2.0, -1.0], [0.0, -3.0]]], "float32")
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    expected = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p))
    np.testing.assert_allclose(
        bernoulli_reconstruction(x, logits), [expected], rtol=1e-6
    )


def test_gaussian_and_categorical_by_hand():
    x = np.array([[1.0, 2.0], [0.0, 0.0]], "float32")
    mean = np.array([[0.0, 4.0], [0.0, 0.0]], "float32")
    np.testing.assert_allclose(gaussian_reconstruction(x, mean), [2.5, 0.0])
    np.testing.assert_allclose(gaussian_reconstruction(x, mean, 0.5), [5.0, 0.0])
    logits = np.array([[0.0, np.log(3.0)]], "float32")  # p = (1/4, 3/4)
    np.testing.assert_allclose(
        categorical_reconstruction(np.array([[0.0, 1.0]], "float32"), logits),
        [-np.log(0.75)],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        categorical_reconstruction(np.array([0]), logits), [-np.log(0.25)], rtol=1e-6
    )
    with pytest.raises(ValueError, match="variance"):
        gaussian_reconstruction(x, mean, 0.0)


def test_negative_elbo_weights_and_mask():
    recon = {"a": np.array([1.0, 2.0]), "b": np.array([10.0, 20.0])}
    kl = np.array([3.0, 4.0])
    out = negative_elbo(recon, kl, weights={"b": 0.5}, kl_weight=0.1)
    np.testing.assert_allclose(out, [1 + 5 + 0.3, 2 + 10 + 0.4], rtol=1e-6)
    mask = {"b": np.array([1.0, 0.0])}
    out = negative_elbo(recon, kl, weights={"b": 0.5}, kl_weight=0.1, mask=mask)
    np.testing.assert_allclose(out, [1 + 5 + 0.3, 2 + 0.4], rtol=1e-6)
    # A masked term is dropped even when it is not finite.
    recon["b"] = np.array([10.0, np.inf])
    out = negative_elbo(recon, kl, mask=mask)
    np.testing.assert_allclose(out, [14.0, 6.0])


@pytest.mark.parametrize("value", [50.0, -50.0])
def test_finite_at_extreme_log_variances(value):
    mu = np.zeros((2, 3), "float32")
    logvar = np.full((2, 3), value, "float32")
    kl = np.asarray(kl_standard_normal(mu, logvar))
    assert np.all(np.isfinite(kl))
    expected = -0.5 * 3 * (1 + value - np.exp(np.float64(value)))
    np.testing.assert_allclose(kl, [expected] * 2, rtol=1e-5)
    logits = np.full((2, 4), 50 * np.sign(value), "float32")
    assert np.all(np.isfinite(bernoulli_reconstruction(np.ones((2, 4)), logits)))
    assert np.all(np.isfinite(categorical_reconstruction(np.array([0, 1]), logits)))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_mixed_precision_inputs_give_finite_float32(dtype):
    rng = np.random.default_rng(0)
    mu = tf.constant(rng.normal(size=(4, 8)), dtype)
    logvar = tf.constant(np.full((4, 8), 10.0), dtype)  # exp(10) overflows fp16
    logits = tf.constant(rng.normal(size=(4, 6, 6)) * 20, dtype)
    x = tf.constant(rng.uniform(size=(4, 6, 6)), dtype)
    for value in (
        kl_standard_normal(mu, logvar),
        bernoulli_reconstruction(x, logits),
        gaussian_reconstruction(x, logits),
        categorical_reconstruction(tf.constant([0, 1, 2, 3]), logits[:, 0]),
    ):
        assert keras.backend.standardize_dtype(value.dtype) == "float32"
        assert np.all(np.isfinite(value.numpy()))
    np.testing.assert_allclose(
        kl_standard_normal(mu, logvar),
        kl_standard_normal(tf.cast(mu, "float32"), tf.cast(logvar, "float32")),
    )


def test_compiled_equals_eager():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(3, 4)).astype("float32")
    logvar = rng.normal(size=(3, 4)).astype("float32")
    x = rng.uniform(size=(3, 5)).astype("float32")
    logits = rng.normal(size=(3, 5)).astype("float32")

    def total(mu, logvar, x, logits):
        recon = {"img": bernoulli_reconstruction(x, logits)}
        return negative_elbo(recon, kl_standard_normal(mu, logvar), kl_weight=0.5)

    eager = total(mu, logvar, x, logits)
    compiled = tf.function(total, jit_compile=True)(mu, logvar, x, logits)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
