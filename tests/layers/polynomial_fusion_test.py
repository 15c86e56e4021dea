import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.layers import PolynomialFusion
from mmzoo.testing import run_layer_test


def _inputs(dims, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, d)).astype("float32") for d in dims]


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")
INIT = {"units": 4, "order": 3, "rank": 2, "bias_initializer": "random_normal"}


def _z1(zs, mask=None):
    if mask is not None:
        zs = [z * mask[:, i : i + 1] for i, z in enumerate(zs)]
    return np.concatenate([np.ones((len(zs[0]), 1))] + zs, axis=-1)


def _reference(layer, zs, mask=None):
    """h_k = sum_r w_r prod_p (z'^T U[p, r, :, k]) + b_k, loop by loop."""
    z = _z1(zs, mask)
    u, w, b = layer.factors.numpy(), layer.fusion_weights.numpy(), layer.bias.numpy()
    h = np.zeros((len(z), layer.units)) + b
    for r in range(layer.rank):
        term = np.ones((len(z), layer.units))
        for p in range(layer.order):
            term = term * (z @ u[p, r])
        h += w[r] * term
    return h


def test_harness_with_mask_and_dict():
    xs = _inputs((3, 4, 2))
    run_layer_test(
        PolynomialFusion,
        INIT,
        input_data={"a": xs[0], "b": xs[1], "c": xs[2]},
        call_kwargs={"mask": MASK},
        expected_output_shape=(4, 4),
        expected_num_trainable_weights=3,  # factors, fusion weights, bias
    )


def test_matches_numpy_reference():
    xs = _inputs((3, 4, 2))
    layer = PolynomialFusion(**INIT)
    np.testing.assert_allclose(layer(xs), _reference(layer, xs), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        layer(xs, mask=MASK), _reference(layer, xs, MASK), rtol=1e-5, atol=1e-5
    )


def test_equals_a_linear_map_of_the_polynomial_tensor():
    """The CP form is a Dense layer on vec(z' (x) z' (x) z') with the full tensor."""
    xs = _inputs((2, 1), batch=3)
    layer = PolynomialFusion(units=2, order=3, rank=2)
    out = layer(xs)
    z = _z1(xs)
    u, w = layer.factors.numpy(), layer.fusion_weights.numpy()
    full = np.einsum("r,rau,rbu,rcu->abcu", w, u[0], u[1], u[2])
    poly = np.einsum("na,nb,nc->nabc", z, z, z)
    ref = np.einsum("nabc,abcu->nu", poly, full) + layer.bias.numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_every_order_and_rank_slice_trains():
    xs = _inputs((3, 4))
    inputs = [keras.Input((d,)) for d in (3, 4)]
    layer = PolynomialFusion(**INIT)
    model = keras.Model(inputs, layer(inputs))
    target = np.random.default_rng(1).normal(size=(4, 4)).astype("float32")
    with tf.GradientTape() as tape:
        loss = keras.ops.mean((model(xs) - target) ** 2)
    grad = np.asarray(tape.gradient(loss, layer.factors))
    assert np.all(np.isfinite(grad))
    for p, r in itertools.product(range(3), range(2)):
        assert np.any(grad[p, r] != 0), (p, r)
    before = layer.factors.numpy().copy()
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(xs, target, batch_size=4, epochs=1, verbose=0)
    assert np.all(np.abs(layer.factors.numpy() - before).sum(axis=(2, 3)) > 0)


def test_mask_equals_a_zero_modality_and_ignores_its_values():
    xs = _inputs((3, 4))
    layer = PolynomialFusion(**INIT)
    mask = np.array([[1, 0]] * 4, "float32")
    masked = layer(xs, mask=mask)
    np.testing.assert_allclose(masked, layer([xs[0], np.zeros_like(xs[1])]), rtol=1e-6)
    np.testing.assert_allclose(layer([xs[0], xs[1] * 50], mask=mask), masked, rtol=1e-6)


def test_sequences():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 5, d)).astype("float32") for d in (2, 3)]
    layer = PolynomialFusion(4, order=2, rank=3)
    out = np.asarray(layer(xs))
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
        PolynomialFusion(4)(inputs, **kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"units": 0}, "units=0"), ({"units": 4, "order": 0}, "order=0"),
     ({"units": 4, "rank": "2"}, "rank='2'")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PolynomialFusion(**kwargs)
