import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.layers import LowRankFusion, TensorFusion
from mmzoo.testing import run_layer_test


def _inputs(dims, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, d)).astype("float32") for d in dims]


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")
INIT = {"units": 4, "rank": 2, "bias_initializer": "random_normal"}


def _reference(layer, zs, mask=None):
    """h = sum_r w_r prod_m ([1; z_m] W_m^(r)) + b, in NumPy."""
    product = 1.0
    for i, (z, factor) in enumerate(zip(zs, layer.factors)):
        if mask is not None:
            z = z * mask[:, i : i + 1]
        z1 = np.concatenate([np.ones((len(z), 1)), z], axis=-1)
        product = product * np.einsum("nd,rdu->nru", z1, factor.numpy())
    w = layer.fusion_weights.numpy()[0]
    return np.einsum("r,nru->nu", w, product) + layer.fusion_bias.numpy()[0]


def test_harness_with_mask_and_dict():
    xs = _inputs((3, 4, 2))
    run_layer_test(
        LowRankFusion,
        INIT,
        input_data={"a": xs[0], "b": xs[1], "c": xs[2]},
        call_kwargs={"mask": MASK},
        expected_output_shape=(4, 4),
        # One factor per modality, fusion weights, fusion bias.
        expected_num_trainable_weights=3 + 2,
    )


def test_matches_numpy_reference():
    xs = _inputs((3, 4, 2))
    layer = LowRankFusion(**INIT)
    np.testing.assert_allclose(layer(xs), _reference(layer, xs), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        layer(xs, mask=MASK), _reference(layer, xs, MASK), rtol=1e-5, atol=1e-5
    )


def test_equals_dense_on_tensor_fusion_with_the_cp_tensor():
    """LMF is the low-rank form of W . vec(TensorFusion(z)) + b."""
    xs = _inputs((3, 4, 2))
    layer = LowRankFusion(**INIT)
    out = layer(xs, mask=MASK)
    f = [w.numpy() for w in layer.factors]
    w = layer.fusion_weights.numpy()[0]
    full = np.einsum("r,rau,rbu,rcu->abcu", w, *f).reshape(-1, 4)
    tfn = np.asarray(TensorFusion()(xs, mask=MASK))
    ref = tfn @ full + layer.fusion_bias.numpy()[0]
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_every_factor_gets_a_gradient_and_trains():
    xs = _inputs((3, 4, 2))
    inputs = [keras.Input((d,)) for d in (3, 4, 2)]
    layer = LowRankFusion(**INIT)
    model = keras.Model(inputs, layer(inputs))
    assert [w.name for w in layer.trainable_weights[:3]] == [
        "factor_0", "factor_1", "factor_2"]
    target = np.random.default_rng(1).normal(size=(4, 4)).astype("float32")
    with tf.GradientTape() as tape:
        loss = keras.ops.mean((model(xs) - target) ** 2)
    grads = tape.gradient(loss, layer.factors)
    for factor, grad in zip(layer.factors, grads):
        assert grad is not None and np.all(np.isfinite(grad)), factor.path
        # Every rank slice of every factor gets a gradient.
        assert np.all(np.abs(np.asarray(grad)).sum(axis=(1, 2)) > 0), factor.path
    before = [f.numpy().copy() for f in layer.factors]
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(xs, target, batch_size=4, epochs=1, verbose=0)
    for factor, old in zip(layer.factors, before):
        assert np.all(np.abs(factor.numpy() - old).sum(axis=(1, 2)) > 0), factor.path


def test_mask_keeps_the_bias_row_of_the_missing_factor():
    xs = _inputs((3, 4))
    layer = LowRankFusion(**INIT)
    mask = np.array([[1, 0]] * 4, "float32")
    masked = layer(xs, mask=mask)
    np.testing.assert_allclose(masked, layer([xs[0], np.zeros_like(xs[1])]), rtol=1e-6)
    garbage = layer([xs[0], xs[1] * 100 + 3], mask=mask)
    np.testing.assert_allclose(garbage, masked, rtol=1e-6)


def test_sequences():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 5, d)).astype("float32") for d in (2, 3)]
    layer = LowRankFusion(4, rank=3)
    out = np.asarray(layer(xs))
    assert out.shape == (2, 5, 4)
    flat = _reference(layer, [x.reshape(10, -1) for x in xs])
    np.testing.assert_allclose(out.reshape(10, 4), flat, rtol=1e-5, atol=1e-5)


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
        LowRankFusion(4)(inputs, **kwargs)


@pytest.mark.parametrize(
    "kwargs,match", [({"units": 0}, "units=0"), ({"units": 4, "rank": 0}, "rank=0")]
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LowRankFusion(**kwargs)
