import numpy as np
import pytest
import tensorflow as tf

from mmzoo.layers import ModalityShiftingFusion
from mmzoo.testing import run_layer_test


def _inputs(dims, batch=4, seed=0, steps=None):
    rng = np.random.default_rng(seed)
    lead = (batch,) if steps is None else (batch, steps)
    return [rng.normal(size=lead + (d,)).astype("float32") for d in dims]


MASK = np.array([[1, 1, 1], [1, 0, 1], [1, 0, 0], [1, 1, 0]], "float32")
INIT = {"beta": 0.5, "dropout": 0.1, "bias_initializer": "random_normal"}


def _reference(layer, xs, mask=None, primary=0):
    """The MAG equations in NumPy with the layer's weights (dropout off)."""
    if mask is not None:
        xs = [x * mask[..., i : i + 1] for i, x in enumerate(xs)]
    t = xs[primary]
    others = [x for i, x in enumerate(xs) if i != primary]
    h = layer.shift_bias.numpy()
    for x, gate, shift in zip(others, layer.gates, layer.shifts):
        g = np.maximum(np.concatenate([t, x], -1) @ gate.kernel.numpy()
                       + gate.bias.numpy(), 0.0)
        h = h + g * (x @ shift.kernel.numpy())
    norm = lambda v: np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
    alpha = np.minimum(layer.beta * norm(t) / (norm(h) + layer.epsilon), 1.0)
    y = t + alpha * h
    mu, var = y.mean(-1, keepdims=True), y.var(-1, keepdims=True)
    ln = layer.layer_norm
    return (y - mu) / np.sqrt(var + 1e-5) * ln.gamma.numpy() + ln.beta.numpy()


def test_harness_sequences_with_mask():
    # Dropout is on in the harness's training step; the other checks run in
    # inference, where it is the identity, so every check applies.
    run_layer_test(
        ModalityShiftingFusion,
        INIT,
        input_data=_inputs((6, 3, 2), steps=5),
        call_kwargs={"mask": MASK},
        expected_output_shape=(4, 5, 6),
        # Per non-primary modality: gate kernel + bias, shift kernel;
        # then b_H and the LayerNorm's gamma and beta.
        expected_num_trainable_weights=3 * 2 + 1 + 2,
    )


def test_harness_vectors_dict_primary():
    xs = _inputs((3, 6))
    run_layer_test(
        ModalityShiftingFusion,
        {**INIT, "primary": "text"},
        input_data={"acoustic": xs[0], "text": xs[1]},
        expected_output_shape=(4, 6),
        expected_num_trainable_weights=3 + 1 + 2,
    )


@pytest.mark.parametrize("beta", [0.05, 100.0])  # alpha < 1 and alpha = 1
def test_matches_numpy_reference(beta):
    xs = _inputs((6, 3, 2), steps=5)
    layer = ModalityShiftingFusion(beta=beta, bias_initializer="random_normal")
    for mask in (None, MASK):
        out = layer(xs, mask=mask)
        ref = _reference(layer, xs, None if mask is None else mask[:, None, :])
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_dict_primary_order():
    xs = _inputs((3, 6))
    layer = ModalityShiftingFusion(primary="text", dropout=0.0)
    out = layer({"acoustic": xs[0], "text": xs[1]})
    np.testing.assert_allclose(out, _reference(layer, xs, primary=1), rtol=1e-4,
                               atol=1e-5)


def test_mask_equals_leaving_the_modality_out():
    xs = _inputs((6, 3, 2))
    layer = ModalityShiftingFusion(**INIT)
    masked = np.asarray(layer(xs, mask=np.array([[1, 0, 1]] * 4, "float32")))
    two = ModalityShiftingFusion(**INIT)
    two([xs[0], xs[2]])
    two.gates[0].set_weights(layer.gates[1].get_weights())
    two.shifts[0].set_weights(layer.shifts[1].get_weights())
    two.shift_bias.assign(layer.shift_bias)
    two.layer_norm.set_weights(layer.layer_norm.get_weights())
    np.testing.assert_allclose(masked, two([xs[0], xs[2]]), rtol=1e-5, atol=1e-6)
    # Without any other modality and b_H = 0 (the default), H = 0: the norms
    # are safe, the output and every gradient stay finite.
    zero_h = ModalityShiftingFusion(dropout=0.0)
    alone_mask = np.array([[1, 0, 0]] * 4, "float32")
    zero_h(xs, mask=alone_mask)
    with tf.GradientTape() as tape:
        alone = zero_h(xs, mask=alone_mask)
        loss = tf.reduce_sum(alone * np.arange(6, dtype="float32"))
    grads = tape.gradient(loss, zero_h.trainable_weights)
    assert np.all(np.isfinite(alone))
    assert all(g is None or np.all(np.isfinite(g)) for g in grads)


def test_dropout_applies_in_training_only():
    xs = _inputs((16, 3))
    layer = ModalityShiftingFusion(dropout=0.5)
    inference = np.asarray(layer(xs))
    training = np.asarray(layer(xs, training=True))
    assert np.mean(training == 0) > 0.2 and np.all(inference != 0)


@pytest.mark.parametrize(
    "inputs,kwargs,match",
    [
        ([np.ones((2, 3), "float32")], {}, "at least 2 modalities"),
        ([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")], {}, "leading"),
        ([np.ones((2, 3), "float32"), np.ones((2, 3), "int32")], {}, "floating"),
        ([np.ones((2, 3), "float32")] * 2, {"mask": np.ones((2, 3), "float32")},
         r"`mask` of shape \(batch, 2\). Received shape \(2, 3\)"),
    ],
)
def test_bad_inputs(inputs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModalityShiftingFusion()(inputs, **kwargs)


def test_primary_must_be_a_dict_key():
    xs = _inputs((3, 6))
    with pytest.raises(ValueError, match="primary='video'"):
        ModalityShiftingFusion(primary="video")({"a": xs[0], "text": xs[1]})
    with pytest.raises(ValueError, match="primary='text'"):
        ModalityShiftingFusion(primary="text")(xs)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"beta": 0}, "beta=0"), ({"dropout": 1.0}, "dropout=1.0"),
     ({"epsilon": -1.0}, "epsilon=-1.0"), ({"primary": 0}, "primary=0")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModalityShiftingFusion(**kwargs)
