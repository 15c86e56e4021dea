"""Property tests: every loss gives finite values and finite gradients.

Random batch sizes (1, 2, 3, 7), widths (1..9) and values (normal, zeros,
constant over the batch, +-1e4 extremes), degenerate groups for the entropy
estimates (every sample in one group, a single sample, groups left empty), in
float32 and with bfloat16 / float16 inputs (the losses compute in float32
whatever the input dtype); the predictors run under the mixed policies.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from numerics_strategies import (
    POLICIES,
    WIDTHS,
    assert_finite,
    assert_finite_gradients,
    batch_sizes,
    gradients,
    kinds_for,
    property_settings,
    values,
)

from mmzoo import losses

MAX_EXAMPLES = 5

INPUT_DTYPES = {
    "float32": "float32",
    "mixed_bfloat16": "bfloat16",
    "mixed_float16": "float16",
}


def _cast_inputs(policy):
    dtype = INPUT_DTYPES[policy]
    return lambda *xs: [tf.cast(x, dtype) for x in xs]


@st.composite
def arrays(draw, count, policy, rank=2):
    """`count` arrays of one (batch, width) shape; their value kinds."""
    batch = draw(batch_sizes())
    shape = (batch, draw(WIDTHS))
    if rank == 3:
        shape = (batch, draw(st.integers(1, 4)), shape[1])
    drawn = [draw(values(shape, kinds_for(policy))) for _ in range(count)]
    return [a for _, a in drawn], [k for k, _ in drawn]


def groups(batch):
    """Group flags (batch,) of 0/1: random, or every sample in one group."""
    return st.one_of(
        st.lists(st.integers(0, 1), min_size=batch, max_size=batch),
        st.sampled_from([0, 1]).map(lambda v: [v] * batch),
    ).map(lambda flags: np.asarray(flags, "float32"))


def _check(fn, inputs, kinds, weights=(), allow_none=()):
    outputs, input_grads, weight_grads, weights = gradients(fn, inputs, weights)
    assert_finite(outputs, "loss")
    names = [f"input {i} ({k})" for i, k in enumerate(kinds)]
    assert_finite_gradients(input_grads, names, allow_none=allow_none)
    assert_finite_gradients(weight_grads, [w.path for w in weights])
    return outputs


def _given(strategy):
    """@settings + @given for a test taking `policy` and a drawn `case`."""

    def wrap(body):
        def test(policy):
            @property_settings(MAX_EXAMPLES)
            @given(case=strategy(policy))
            def check(case):
                body(policy, case)

            check()

        test.__name__ = body.__name__
        return pytest.mark.parametrize("policy", POLICIES)(test)

    return wrap


# --- ELBO -----------------------------------------------------------------------


@_given(lambda policy: arrays(2, policy))
def test_kl_standard_normal(policy, case):
    (mu, logvar), kinds = case
    cast = _cast_inputs(policy)
    kl = _check(lambda m, lv: losses.kl_standard_normal(*cast(m, lv)), [mu, logvar],
                kinds)
    assert np.all(np.asarray(kl) >= -1e-3 * (1 + np.abs(np.asarray(kl))))


@_given(lambda policy: arrays(2, policy, rank=3))
def test_bernoulli_reconstruction(policy, case):
    (x, logits), kinds = case
    x = np.clip(x, 0.0, 1.0)  # targets in [0, 1] (+-1e4 become 0 and 1)
    cast = _cast_inputs(policy)
    _check(lambda a, b: losses.bernoulli_reconstruction(*cast(a, b)), [x, logits],
           kinds)


@_given(lambda policy: st.tuples(arrays(2, policy, rank=3),
                                 st.sampled_from([1.0, 1e-3])))
def test_gaussian_reconstruction(policy, case):
    ((x, mean), kinds), variance = case
    cast = _cast_inputs(policy)
    _check(
        lambda a, b: losses.gaussian_reconstruction(*cast(a, b), variance=variance),
        [x, mean], kinds,
    )


@st.composite
def categorical_cases(draw, policy):
    (logits,), kinds = draw(arrays(1, policy))
    batch, classes = logits.shape
    labels = draw(st.one_of(
        st.lists(st.integers(0, classes - 1), min_size=batch, max_size=batch),
        st.integers(0, classes - 1).map(lambda c: [c] * batch),  # one class
    ))
    return logits, kinds, np.asarray(labels, "int32"), draw(st.booleans())


@_given(categorical_cases)
def test_categorical_reconstruction(policy, case):
    logits, kinds, labels, one_hot = case
    y = np.eye(logits.shape[1], dtype="float32")[labels] if one_hot else labels
    cast = _cast_inputs(policy)
    _check(lambda lg: losses.categorical_reconstruction(y, *cast(lg)), [logits],
           kinds)


@st.composite
def elbo_cases(draw, policy):
    (a, b, kl), kinds = draw(arrays(3, policy))
    batch = a.shape[0]
    mask = draw(st.one_of(st.none(), groups(batch)))
    kl_weight = draw(st.sampled_from([0.0, 0.5, 1.0]))
    return [a[:, 0], b[:, 0], np.abs(kl[:, 0])], kinds, mask, kl_weight


@_given(elbo_cases)
def test_negative_elbo(policy, case):
    inputs, kinds, mask, kl_weight = case
    cast = _cast_inputs(policy)

    def fn(a, b, kl):
        a, b, kl = cast(a, b, kl)
        return losses.negative_elbo(
            {"x": a, "y": b}, kl, weights={"x": 2.0}, kl_weight=kl_weight,
            mask=None if mask is None else {"y": mask},
        )

    _check(fn, inputs, kinds)


# --- entropy --------------------------------------------------------------------


@_given(lambda policy: arrays(1, policy))
def test_gaussian_entropy(policy, case):
    (a,), kinds = case
    # SPD covariances of any scale: A A^T / n plus the jitter `mixture_entropy`
    # adds (max(1e-3, 1e-5 trace)); a singular `cov` is outside the contract.
    d = a.shape[1]

    def fn(x):
        x = tf.cast(cast(x)[0], "float32")
        cov = tf.matmul(x, x, transpose_a=True) / x.shape[0]
        jitter = tf.maximum(1e-3, 1e-5 * tf.stop_gradient(tf.linalg.trace(cov)))
        return losses.gaussian_entropy(cov + jitter * tf.eye(d))

    cast = _cast_inputs(policy)
    _check(fn, [a], kinds)


@st.composite
def mixture_cases(draw, policy):
    (y,), kinds = draw(arrays(1, policy))
    batch = y.shape[0]
    positive = draw(groups(batch))
    dropped = draw(st.one_of(st.none(), groups(batch)))  # 1 = left out
    jitter = draw(st.sampled_from([1e-3, 1e-6]))
    return y, kinds, positive, dropped, jitter


@_given(mixture_cases)
def test_mixture_entropy(policy, case):
    y, kinds, positive, _, jitter = case
    cast = _cast_inputs(policy)
    _check(lambda a: losses.mixture_entropy(*cast(a), positive, jitter=jitter), [y],
           kinds)


@_given(mixture_cases)
def test_weighted_mixture_entropy(policy, case):
    y, kinds, positive, dropped, jitter = case
    keep = 1.0 if dropped is None else 1.0 - dropped  # possibly every sample out
    pos, neg = positive * keep, (1.0 - positive) * keep
    cast = _cast_inputs(policy)
    _check(
        lambda a: losses.weighted_mixture_entropy(*cast(a), pos, neg, jitter=jitter),
        [y], kinds,
    )


@st.composite
def estimator_cases(draw, policy):
    (y1, y2), kinds = draw(arrays(2, policy))
    batch = y1.shape[0]
    return (y1, y2, kinds, draw(groups(batch)), draw(groups(batch)),
            draw(st.sampled_from([1, 4])))


@_given(estimator_cases)
def test_mixture_entropy_estimator(policy, case):
    y1, y2, kinds, p1, p2, memory_size = case
    estimator = losses.MixtureEntropyEstimator(memory_size=memory_size, dtype=policy)
    first = estimator(y1, p1, training=True)  # fills the memory
    assert_finite(first, "entropy (empty memory)")
    assert_finite(estimator.memory, "memory")
    _check(lambda a: estimator(a, p2, training=True), [y2], kinds[1:])


# --- infomax --------------------------------------------------------------------


@_given(lambda policy: st.tuples(arrays(3, policy, rank=3), st.booleans()))
def test_gaussian_log_likelihood(policy, case):
    ((y, mu, logvar), kinds), include_logvar = case
    cast = _cast_inputs(policy)
    _check(
        lambda *xs: losses.gaussian_log_likelihood(
            *cast(*xs), include_logvar=include_logvar
        ),
        [y, mu, logvar], kinds,
    )


@_given(lambda policy: st.tuples(arrays(4, policy), st.booleans()))
def test_barber_agakov_bound(policy, case):
    ((y, mu, logvar, group), kinds), with_entropy = case
    positive = (group[:, 0] > 0).astype("float32")
    cast = _cast_inputs(policy)

    def fn(y, mu, logvar):
        y, mu, logvar = cast(y, mu, logvar)
        entropy = losses.mixture_entropy(y, positive) if with_entropy else None
        return losses.barber_agakov_bound(y, mu, logvar, entropy=entropy)

    _check(fn, [y, mu, logvar], kinds[:3])


@_given(lambda policy: st.tuples(arrays(2, policy),
                                 st.sampled_from([1.0, 0.1, 0.01])))
def test_info_nce(policy, case):
    ((z, h), kinds), temperature = case
    cast = _cast_inputs(policy)
    _check(lambda a, b: losses.info_nce(*cast(a, b), temperature=temperature),
           [z, h], kinds)


@_given(lambda policy: st.tuples(arrays(2, policy), st.sampled_from([4, [3, 5]])))
def test_gaussian_predictor_barber_agakov(policy, case):
    ((x, y), kinds), hidden = case
    predictor = losses.GaussianPredictor(hidden, y.shape[1], dtype=policy)
    predictor.build(x.shape)

    def fn(x, y):
        mu, logvar = predictor(x)
        return losses.barber_agakov_bound(y, mu, logvar)

    _check(fn, [x, y], kinds, weights=predictor.trainable_weights)


@_given(lambda policy: st.tuples(arrays(2, policy), st.sampled_from([None, 4])))
def test_cpc_predictor_info_nce(policy, case):
    ((z, h), kinds), hidden = case
    predictor = losses.CPCPredictor(h.shape[1], hidden_units=hidden, dtype=policy)
    predictor.build(z.shape)
    _check(lambda z, h: losses.info_nce(predictor(z), h), [z, h], kinds,
           weights=predictor.trainable_weights)


def test_every_public_loss_is_covered():
    tested = {name[len("test_"):] for name in globals() if name.startswith("test_")}
    covered = {
        "kl_standard_normal", "bernoulli_reconstruction", "gaussian_reconstruction",
        "categorical_reconstruction", "negative_elbo", "gaussian_entropy",
        "mixture_entropy", "weighted_mixture_entropy", "mixture_entropy_estimator",
        "gaussian_log_likelihood", "barber_agakov_bound", "info_nce",
        "gaussian_predictor_barber_agakov", "cpc_predictor_info_nce",
    }
    assert covered <= tested
    snake = {
        "MixtureEntropyEstimator": "mixture_entropy_estimator",
        "GaussianPredictor": "gaussian_predictor_barber_agakov",
        "CPCPredictor": "cpc_predictor_info_nce",
    }
    assert {snake.get(n, n) for n in losses.__all__} == covered
    assert keras.config.dtype_policy().name == "float32"
