import doctest
import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmzoo.losses
from mmzoo.losses import (
    CPCPredictor,
    GaussianPredictor,
    MixtureEntropyEstimator,
    barber_agakov_bound,
    gaussian_entropy,
    gaussian_log_likelihood,
    info_nce,
    mixture_entropy,
    weighted_mixture_entropy,
)
from mmzoo.testing import run_layer_test

LOG_2_PI_E = np.log(2 * np.pi) + 1.0


def _normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _gaussian_entropy_np(cov):
    return 0.5 * np.linalg.slogdet(2 * np.pi * np.e * np.asarray(cov, "float64"))[1]


def _biased_cov(y):
    y = np.asarray(y, "float64")
    centered = y - y.mean(axis=0)
    return centered.T @ centered / len(y)


def test_public_names():
    for name in (
        "CPCPredictor",
        "GaussianPredictor",
        "MixtureEntropyEstimator",
        "barber_agakov_bound",
        "gaussian_entropy",
        "gaussian_log_likelihood",
        "info_nce",
        "mixture_entropy",
        "weighted_mixture_entropy",
    ):
        assert name in mmzoo.losses.__all__ and hasattr(mmzoo.losses, name)


@pytest.mark.parametrize("module", ["infomax", "entropy"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"mmzoo.losses.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_gaussian_log_likelihood_closed_form_and_reference():
    y, mu, logvar = (_normal(3, 2, 4, seed=s) for s in range(3))  # (batch, T, d)
    y64, mu64, lv64 = (np.float64(a) for a in (y, mu, logvar))
    expected = -0.5 * np.sum(
        (y64 - mu64) ** 2 / np.exp(lv64) + lv64 + np.log(2 * np.pi), axis=(1, 2)
    )
    np.testing.assert_allclose(
        gaussian_log_likelihood(y, mu, logvar), expected, rtol=1e-5
    )
    reference = np.sum(-((mu64 - y64) ** 2) / 2.0 / np.exp(lv64), axis=(1, 2))
    np.testing.assert_allclose(
        gaussian_log_likelihood(y, mu, logvar, include_logvar=False),
        reference,
        rtol=1e-5,
    )
    entropy = np.float32(1.5)
    np.testing.assert_allclose(
        barber_agakov_bound(y, mu, logvar, entropy=entropy),
        expected.mean() + 1.5,
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        barber_agakov_bound(y, mu, logvar, include_logvar=False),
        reference.mean(),
        rtol=1e-5,
    )
    # logvar is clipped to [-30, 30] only to keep exp finite.
    big = np.full((1, 2), 100.0, "float32")
    zeros = np.zeros((1, 2), "float32")
    np.testing.assert_allclose(
        gaussian_log_likelihood(zeros, zeros, big),
        [-(30 + np.log(2 * np.pi))],
        rtol=1e-6,
    )


def test_gaussian_entropy_closed_form():
    a = np.float64(_normal(2, 4, 4, seed=3))
    cov = (a @ np.swapaxes(a, 1, 2) + 0.5 * np.eye(4)).astype("float32")
    expected = [_gaussian_entropy_np(c) for c in cov]
    np.testing.assert_allclose(gaussian_entropy(cov), expected, rtol=1e-5)


@pytest.mark.parametrize("group", [1.0, 0.0])
def test_mixture_of_one_group_is_that_gaussian(group):
    y = _normal(10, 3, seed=4)
    flags = np.full((10,), group, "float32")
    expected = _gaussian_entropy_np(_biased_cov(y) + 1e-3 * np.eye(3))
    np.testing.assert_allclose(mixture_entropy(y, flags), expected, atol=1e-4)
    # (n, 1) flags, bool flags and the compiled form agree.
    np.testing.assert_allclose(mixture_entropy(y, flags[:, None]), expected, atol=1e-4)
    np.testing.assert_allclose(mixture_entropy(y, flags > 0.5), expected, atol=1e-4)
    if group:  # compile once
        compiled = tf.function(mixture_entropy, jit_compile=True)(y, flags)
        np.testing.assert_allclose(compiled, expected, atol=1e-4)


def test_mixture_of_two_groups_and_the_reference_estimate():
    y = _normal(40, 3, seed=5)
    y[:10] += 3.0
    flags = (np.arange(40) < 10).astype("float32")  # weights 1/4, 3/4
    pos, neg = y[:10], y[10:]
    h_pos = _gaussian_entropy_np(_biased_cov(pos) + 1e-3 * np.eye(3))
    h_neg = _gaussian_entropy_np(_biased_cov(neg) + 1e-3 * np.eye(3))
    label_entropy = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    np.testing.assert_allclose(
        mixture_entropy(y, flags),
        0.25 * h_pos + 0.75 * h_neg + label_entropy,
        atol=1e-4,
    )
    # Balanced groups, no jitter: the reference's 0.25 * (logdet + logdet) plus
    # the constant d/2 log(2 pi e) and the label entropy log 2 (up to the
    # float32 floor 1e-5 * trace(S) on the jitter).
    flags = (np.arange(40) % 2).astype("float32")
    pos, neg = y[flags == 1], y[flags == 0]
    reference = 0.25 * (
        np.linalg.slogdet(_biased_cov(pos))[1] + np.linalg.slogdet(_biased_cov(neg))[1]
    )
    np.testing.assert_allclose(
        mixture_entropy(y, flags, jitter=0.0),
        reference + 1.5 * LOG_2_PI_E + np.log(2.0),
        atol=1e-3,
    )


def test_weighted_form_drops_unlabelled_samples_like_the_reference():
    y = _normal(30, 2, seed=14)
    labels = np.tile(np.array([1.0, -1.0, 0.0], "float32"), 10)
    kept = labels != 0
    expected = mixture_entropy(y[kept], labels[kept] > 0)
    np.testing.assert_allclose(
        weighted_mixture_entropy(y, labels > 0, labels < 0), expected, rtol=1e-5
    )


def test_info_nce_by_hand_and_temperature():
    z = np.array([[2.0, 0.0], [0.0, 1.0]], "float32")
    h = np.array([[1.0, 0.0], [1.0, 1.0]], "float32")
    c = 1 / np.sqrt(2.0)  # normalised: z = I, h = [[1, 0], [c, c]]
    for t in (1.0, 0.5):
        expected = 0.5 * (
            (-1 / t + np.log(np.exp(1 / t) + np.exp(c / t)))
            + (-c / t + np.log(np.exp(0.0) + np.exp(c / t)))
        )
        np.testing.assert_allclose(info_nce(z, h, temperature=t), expected, rtol=1e-6)
    # A tensor temperature works under XLA.
    compiled = tf.function(info_nce, jit_compile=True)(z, h, tf.constant(0.5))
    np.testing.assert_allclose(compiled, info_nce(z, h, 0.5), rtol=1e-6)
    # 3x3: the loss of a perfect prediction against orthogonal targets.
    eye = np.eye(3, dtype="float32")
    np.testing.assert_allclose(info_nce(5 * eye, eye), np.log(np.e + 2) - 1, rtol=1e-6)


ADVERSARIAL = {
    "constant": lambda: np.ones((6, 4), "float32"),
    "zeros": lambda: np.zeros((6, 4), "float32"),
    "batch_of_2": lambda: _normal(2, 4, seed=6),
    "batch_of_1": lambda: _normal(1, 4, seed=7),
    "large": lambda: 1e4 * _normal(6, 4, seed=8),
}


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("case", sorted(ADVERSARIAL))
def test_finite_losses_and_gradients(case, dtype):
    y0 = ADVERSARIAL[case]()
    n = len(y0)
    residual = 0.5 * y0
    if dtype == "float16":
        # A squared residual of 1e8 has gradients beyond float16's range on
        # the way back through the input cast (loss scaling's business).
        residual = np.clip(residual, -10.0, 10.0)
    values = (y0, y0 - residual, np.zeros_like(y0), -y0)
    variables = [tf.Variable(a) for a in values]
    flags_cases = [np.ones(n, "float32"), (np.arange(n) % 2).astype("float32")]
    for flags in flags_cases:  # one class only, then both
        with tf.GradientTape() as tape:
            y, mu, logvar, z = (tf.cast(v, dtype) for v in variables)
            entropy = mixture_entropy(y, flags)
            values = [
                entropy,
                barber_agakov_bound(y, mu, logvar, entropy=entropy),
                barber_agakov_bound(y, mu, logvar, include_logvar=False),
                info_nce(z, y),
                info_nce(z, y, temperature=0.1),
            ]
            total = tf.add_n(values)
        for value in values:
            assert keras.backend.standardize_dtype(value.dtype) == "float32"
            assert np.isfinite(value.numpy()), (case, dtype, values)
        for grad in tape.gradient(total, variables):
            assert grad is not None and np.all(np.isfinite(grad.numpy()))


def _estimator_stream(batches=4, batch=3, dim=2):
    rng = np.random.default_rng(9)
    ys = [rng.normal(size=(batch, dim)).astype("float32") for _ in range(batches)]
    flags = [(rng.uniform(size=batch) > 0.5).astype("float32") for _ in ys]
    return ys, flags


def test_estimator_memory_fills_and_rolls():
    ys, flags = _estimator_stream()
    layer = MixtureEntropyEstimator(memory_size=5)
    seen_y, seen_flags = np.zeros((0, 2), "float32"), np.zeros((0,), "float32")
    for y, f in zip(ys, flags):
        kept = min(len(seen_y), 5)
        expected = mixture_entropy(
            np.concatenate([seen_y[len(seen_y) - kept :], y]),
            np.concatenate([seen_flags[len(seen_flags) - kept :], f]),
        )
        # Inference reads the memory and leaves it alone.
        np.testing.assert_allclose(layer(y, f), expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(
            layer(y, f, training=True), expected, rtol=1e-5, atol=1e-5
        )
        seen_y, seen_flags = (
            np.concatenate([seen_y, y]),
            np.concatenate([seen_flags, f]),
        )
        kept = min(len(seen_y), 5)
        assert int(layer.memory_count.numpy()) == kept
        np.testing.assert_array_equal(layer.memory.numpy()[5 - kept :], seen_y[-kept:])
        np.testing.assert_array_equal(
            layer.memory_positive.numpy()[5 - kept :], seen_flags[-kept:]
        )
    assert [w.name for w in layer.non_trainable_weights] == [
        "memory",
        "memory_positive",
        "memory_count",
    ]
    assert not layer.trainable_weights


def test_estimator_keeps_the_end_of_a_batch_larger_than_its_memory():
    y = _normal(7, 2, seed=15)
    flags = (np.arange(7) % 2).astype("float32")
    layer = MixtureEntropyEstimator(memory_size=3)
    layer(y, flags, training=True)
    np.testing.assert_array_equal(layer.memory.numpy(), y[-3:])
    np.testing.assert_array_equal(layer.memory_positive.numpy(), flags[-3:])
    assert int(layer.memory_count.numpy()) == 3
    # Gradients reach the current batch only (the memory is detached).
    y_var = tf.Variable(y[:2])
    with tf.GradientTape() as tape:
        entropy = layer(y_var, flags[:2], training=True)
    grad = tape.gradient(entropy, y_var).numpy()
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_estimator_under_xla_equals_eager():
    ys, flags = _estimator_stream()
    eager, compiled = MixtureEntropyEstimator(4), MixtureEntropyEstimator(4)
    step = tf.function(lambda y, f: compiled(y, f, training=True), jit_compile=True)
    for y, f in zip(ys, flags):
        np.testing.assert_allclose(
            step(y, f), eager(y, f, training=True), rtol=1e-5, atol=1e-5
        )
    np.testing.assert_allclose(compiled.memory.numpy(), eager.memory.numpy())
    assert int(compiled.memory_count.numpy()) == 4


def test_estimator_in_model_fit_with_xla():
    class Model(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)
            self.entropy = MixtureEntropyEstimator(memory_size=4)

        def call(self, inputs, training=False):
            h = self.dense(inputs["x"])
            self.add_loss(
                -0.01 * self.entropy(h, inputs["positive"], training=training)
            )
            return h

    x = _normal(12, 5, seed=10)
    data = {"x": x, "positive": (np.arange(12) % 2).astype("float32")}
    model = Model()
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    history = model.fit(
        data, x[:, :3], batch_size=4, epochs=1, shuffle=False, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])
    assert int(model.entropy.memory_count.numpy()) == 4
    memory = model.entropy.memory.numpy()
    assert memory.shape == (4, 3) and np.all(np.isfinite(memory))
    np.testing.assert_array_equal(
        model.entropy.memory_positive.numpy(), data["positive"][-4:]
    )


def test_estimator_harness():
    y = _normal(6, 3, seed=11)
    flags = (np.arange(6) % 2).astype("float32")
    run_layer_test(
        MixtureEntropyEstimator,
        {"memory_size": 4, "jitter": 1e-2},
        input_data=y,
        call_kwargs={"positive": flags},
        expected_output_shape=(),
        expected_output=mixture_entropy(y, flags, jitter=1e-2),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=3,
        float32_outputs="all",
    )


def test_gaussian_predictor_harness():
    run_layer_test(
        GaussianPredictor,
        {"hidden_units": [8], "output_dim": 3, "dropout": 0.1},
        input_data=_normal(4, 5, seed=12),
        expected_output_shape=((4, 3), (4, 3)),
        expected_num_trainable_weights=8,
    )


@pytest.mark.parametrize("hidden_units, weights", [(None, 2), ([8, 6], 6)])
def test_cpc_predictor_harness(hidden_units, weights):
    run_layer_test(
        CPCPredictor,
        {"output_dim": 3, "hidden_units": hidden_units},
        input_data=_normal(4, 5, seed=13),
        expected_output_shape=(4, 3),
        expected_num_trainable_weights=weights,
    )


def test_bad_inputs():
    y = _normal(4, 3)
    with pytest.raises(ValueError, match="memory_size=0"):
        MixtureEntropyEstimator(memory_size=0)
    with pytest.raises(ValueError, match="memory_size=2.5"):
        MixtureEntropyEstimator(memory_size=2.5)
    with pytest.raises(ValueError, match="jitter=-1"):
        MixtureEntropyEstimator(jitter=-1.0)
    with pytest.raises(ValueError, match="jitter=-1"):
        mixture_entropy(y, np.ones(4), jitter=-1.0)
    with pytest.raises(ValueError, match=r"y.shape=\(4, 3, 1\)"):
        mixture_entropy(y[..., None], np.ones(4))
    with pytest.raises(ValueError, match=r"positive.shape=\(5,\)"):
        mixture_entropy(y, np.ones(5))
    with pytest.raises(ValueError, match=r"positive.shape=\(4, 2\)"):
        mixture_entropy(y, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"negative_weight.shape=\(3,\)"):
        weighted_mixture_entropy(y, np.ones(4), np.ones(3))
    layer = MixtureEntropyEstimator(3)
    layer(y, np.ones(4))
    with pytest.raises(ValueError, match=r"y.shape=\(4, 2\)"):
        layer(y[:, :2], np.ones(4))
    with pytest.raises(ValueError, match=r"logvar.shape=\(4, 3, 1\)"):
        gaussian_log_likelihood(y, y, y[..., None])
    with pytest.raises(ValueError, match=r"h.shape=\(4, 2\)"):
        info_nce(y, y[:, :2])
    with pytest.raises(ValueError, match="temperature=0"):
        info_nce(y, y, temperature=0.0)
    with pytest.raises(ValueError, match=r"cov.shape=\(3, 4\)"):
        gaussian_entropy(np.ones((3, 4), "float32"))
    with pytest.raises(ValueError, match="dropout=1.0"):
        GaussianPredictor(4, 2, dropout=1.0)
    with pytest.raises(ValueError, match="hidden_units=0"):
        GaussianPredictor(0, 2)
    with pytest.raises(ValueError, match="output_dim=0"):
        CPCPredictor(0)
