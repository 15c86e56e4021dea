import numpy as np
import pytest

from mmzoo.layers import ProductOfExperts
from mmzoo.testing import run_layer_test


def _experts(batch=4, n=3, latent=5, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(batch, n, latent)).astype("float32")
    logvar = (scale * rng.normal(size=(batch, n, latent))).astype("float32")
    return mu, logvar


def _closed_form(mu, logvar, mask=None, prior=True):
    """The product of Gaussians in float64: precision-weighted mean, 1 / sum T."""
    mu, logvar = mu.astype("float64"), logvar.astype("float64")
    precision = np.exp(-logvar)
    if mask is not None:
        precision = precision * mask[:, :, None]
    total = precision.sum(axis=1) + (1.0 if prior else 0.0)
    mean = (precision * mu).sum(axis=1) / total
    return mean, np.log(1.0 / total)


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")


def test_harness():
    mu, logvar = _experts()
    run_layer_test(
        ProductOfExperts,
        {},
        input_data=mu,
        call_kwargs={"logvar": logvar},
        expected_output_shape=((4, 5), (4, 5)),
        expected_output=_closed_form(mu, logvar),
        expected_num_trainable_weights=0,
        float32_outputs="all",
    )


def test_harness_with_mask():
    mu, logvar = _experts()
    run_layer_test(
        ProductOfExperts,
        {},
        input_data=mu,
        call_kwargs={"logvar": logvar, "mask": MASK},
        expected_output_shape=((4, 5), (4, 5)),
        expected_output=_closed_form(mu, logvar, MASK),
        expected_num_trainable_weights=0,
        float32_outputs="all",
    )


def test_closed_form_by_hand():
    # Experts N(1, 1) and N(3, 1/3) plus the prior N(0, 1): precisions 1, 3, 1.
    mu = np.array([[[1.0], [3.0]]], "float32")
    logvar = np.log(np.array([[[1.0], [1.0 / 3.0]]], "float32"))
    joint_mu, joint_logvar = ProductOfExperts()(mu, logvar)
    np.testing.assert_allclose(joint_mu, [[(1 * 1 + 3 * 3 + 0) / 5.0]], rtol=1e-6)
    np.testing.assert_allclose(np.exp(joint_logvar), [[1 / 5.0]], rtol=1e-6)
    joint_mu, joint_logvar = ProductOfExperts(use_prior_expert=False)(mu, logvar)
    np.testing.assert_allclose(joint_mu, [[10 / 4.0]], rtol=1e-6)
    np.testing.assert_allclose(np.exp(joint_logvar), [[1 / 4.0]], rtol=1e-6)


@pytest.mark.parametrize("prior", [True, False])
def test_mask_equals_dropping_experts(prior):
    mu, logvar = _experts()
    layer = ProductOfExperts(use_prior_expert=prior)
    masked_mu, masked_logvar = (np.asarray(t) for t in layer(mu, logvar, mask=MASK))
    for i, row in enumerate(MASK):
        keep = np.flatnonzero(row)
        if not keep.size:
            if prior:  # nothing observed: the prior N(0, I)
                np.testing.assert_array_equal(masked_mu[i], 0.0)
                np.testing.assert_array_equal(masked_logvar[i], 0.0)
            continue
        dropped_mu, dropped_logvar = layer(mu[i : i + 1, keep], logvar[i : i + 1, keep])
        np.testing.assert_allclose(masked_mu[i], dropped_mu[0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(
            masked_logvar[i], dropped_logvar[0], rtol=1e-6, atol=1e-7
        )


def test_masked_expert_values_never_reach_the_result():
    mu, logvar = _experts()
    layer = ProductOfExperts()
    clean = [np.asarray(t) for t in layer(mu, logvar, mask=MASK)]
    garbage_mu, garbage_logvar = mu.copy(), logvar.copy()
    absent = MASK == 0
    garbage_mu[absent] = np.nan
    garbage_logvar[absent] = -np.inf
    dirty = [np.asarray(t) for t in layer(garbage_mu, garbage_logvar, mask=MASK)]
    for a, b in zip(clean, dirty):
        np.testing.assert_array_equal(a, b)  # exactly the same


def test_boolean_mask_and_all_ones_mask():
    mu, logvar = _experts()
    layer = ProductOfExperts()
    plain = layer(mu, logvar)
    for mask in (np.ones((4, 3), bool), np.ones((4, 3), "float32")):
        for a, b in zip(layer(mu, logvar, mask=mask), plain):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("value", [50.0, -50.0])
def test_extreme_log_variances_are_finite(value):
    mu, logvar = _experts()
    logvar[:, 1] = value
    joint_mu, joint_logvar = ProductOfExperts()(mu, logvar, mask=MASK)
    ref_mu, ref_logvar = _closed_form(mu, logvar, MASK)
    assert np.all(np.isfinite(joint_mu)) and np.all(np.isfinite(joint_logvar))
    np.testing.assert_allclose(joint_mu, ref_mu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(joint_logvar, ref_logvar, rtol=1e-5, atol=1e-5)


def test_gradients_finite_at_extreme_log_variances():
    import tensorflow as tf

    mu, logvar = _experts()
    logvar[:, 0], logvar[:, 2] = 50.0, -50.0
    mu_t, logvar_t = tf.Variable(mu), tf.Variable(logvar)
    with tf.GradientTape() as tape:
        out_mu, out_logvar = ProductOfExperts()(mu_t, logvar_t, mask=MASK)
        loss = tf.reduce_sum(out_mu**2) + tf.reduce_sum(out_logvar)
    for grad in tape.gradient(loss, [mu_t, logvar_t]):
        assert np.all(np.isfinite(grad.numpy()))


def test_mixed_precision_inputs_give_float32():
    mu, logvar = _experts()
    layer = ProductOfExperts(dtype="mixed_float16")
    out = layer(mu.astype("float16"), logvar.astype("float16"), mask=MASK)
    for t in out:
        assert str(t.dtype) == "<dtype: 'float32'>" or t.dtype == "float32"
        assert np.all(np.isfinite(t))


def test_bad_inputs():
    mu, logvar = _experts()
    layer = ProductOfExperts()
    with pytest.raises(ValueError, match="mu.shape"):
        layer(mu[:, 0], logvar[:, 0])
    with pytest.raises(ValueError, match="logvar.shape"):
        layer(mu, logvar[:, :2])
    with pytest.raises(ValueError, match="mask.shape"):
        layer(mu, logvar, mask=MASK[:, :2])
    with pytest.raises(ValueError, match="floating point"):
        layer(mu.astype("int32"), logvar)
    with pytest.raises(ValueError, match="use_prior_expert"):
        ProductOfExperts(use_prior_expert="yes")
