import keras
import numpy as np
import pytest

from mmzoo.layers import GatedMultimodalUnit
from mmzoo.testing import run_layer_test


def _inputs(dims, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, d)).astype("float32") for d in dims]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _reference(layer, xs, mask=None):
    """The paper's equations in NumPy, with the layer's weights."""
    n = len(xs)
    if mask is not None:
        xs = [x * mask[:, i : i + 1] for i, x in enumerate(xs)]
    hs = [
        np.tanh(x @ p.kernel.numpy() + p.bias.numpy())
        for x, p in zip(xs, layer.projections)
    ]
    gate_in = np.concatenate(xs if layer.gate_on == "inputs" else hs, axis=-1)
    z = _sigmoid(gate_in @ layer.gate.kernel.numpy() + layer.gate.bias.numpy())
    if layer._complementary:
        gates = [z, 1 - z]
        if mask is not None:
            pv, pt = mask[:, :1], mask[:, 1:]
            gates = [pv * (1 - pt * (1 - z)), pt * (1 - pv * z)]
    else:
        gates = np.split(z, n, axis=-1)
        if mask is not None:
            gates = [g * mask[:, i : i + 1] for i, g in enumerate(gates)]
    return sum(g * h for g, h in zip(gates, hs)), np.stack(gates, axis=-2)


@pytest.mark.parametrize(
    "dims,init",
    [
        ((3, 5), {}),
        ((3, 5, 2), {}),
        ((3, 5), {"gate_on": "projections"}),
        ((3, 5), {"bimodal_gate": False}),
    ],
)
def test_harness(dims, init):
    xs = _inputs(dims)
    n = len(dims)
    complementary = n == 2 and init.get("bimodal_gate", True)
    run_layer_test(
        GatedMultimodalUnit,
        {"units": 4, "return_gates": True, **init},
        input_data=xs,
        expected_output_shape=((4, 4), (4, n, 4)),
        # A kernel and a bias per projection, plus the gate's.
        expected_num_trainable_weights=2 * n + 2,
    )
    layer = GatedMultimodalUnit(4, return_gates=True, **init)
    h, z = layer(xs)
    ref_h, ref_z = _reference(layer, xs)
    np.testing.assert_allclose(h, ref_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z, ref_z, rtol=1e-5, atol=1e-6)
    expected_gate_units = 4 if complementary else 4 * n
    assert layer.gate.kernel.shape == (
        (sum(dims) if init.get("gate_on", "inputs") == "inputs" else 4 * n),
        expected_gate_units,
    )


def test_harness_with_mask_and_dict_inputs():
    xs = _inputs((3, 5, 2))
    inputs = {"audio": xs[0], "text": xs[1], "video": xs[2]}
    mask = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")
    run_layer_test(
        GatedMultimodalUnit,
        {"units": 4},
        input_data=inputs,
        call_kwargs={"mask": mask},
        expected_output_shape=(4, 4),
        expected_num_trainable_weights=8,
    )


def test_bimodal_gate_equations_and_complementarity():
    xs = _inputs((3, 5))
    layer = GatedMultimodalUnit(6, return_gates=True)
    _, z = layer(xs)
    np.testing.assert_allclose(np.sum(z, axis=-2), 1.0, rtol=1e-6)


def test_mask_drops_modalities_as_documented():
    xs = _inputs((3, 5))
    layer = GatedMultimodalUnit(4, return_gates=True)
    mask = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], "float32")
    h, z = layer(xs, mask=mask)
    ref_h, ref_z = _reference(layer, xs, mask)
    np.testing.assert_allclose(h, ref_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z, ref_z, rtol=1e-6)
    z = np.asarray(z)
    # Only visual present: its gate is 1, h = h_v. Only text: gate 0 / 1.
    np.testing.assert_allclose(z[1, 0], 1.0)
    np.testing.assert_allclose(z[1, 1], 0.0)
    np.testing.assert_allclose(z[2, 0], 0.0)
    np.testing.assert_allclose(z[2, 1], 1.0)
    np.testing.assert_allclose(np.asarray(h)[3], 0.0)
    # A masked modality's values do not matter at all.
    garbage = [xs[0], xs[1] * 1e3 + 7]
    h2, _ = layer(garbage, mask=mask)
    np.testing.assert_allclose(np.asarray(h2)[1], np.asarray(h)[1], rtol=1e-6)


def test_mask_equals_absent_modality_in_n_modal_form():
    xs = _inputs((3, 5, 2))
    # Non-zero biases: a zeroed input then still has h_i = tanh(b_i) != 0.
    layer = GatedMultimodalUnit(4, bias_initializer="random_normal")
    mask = np.array([[1, 0, 1]] * 4, "float32")
    masked = layer(xs, mask=mask)
    zeroed = layer([xs[0], np.zeros_like(xs[1]), xs[2]])
    # Zeroing the input alone is not enough: the gate of modality 1 must be 0.
    ref, _ = _reference(layer, xs, mask)
    np.testing.assert_allclose(masked, ref, rtol=1e-5, atol=1e-6)
    assert not np.allclose(masked, zeroed)


def test_sequences():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 7, d)).astype("float32") for d in (3, 4)]
    layer = GatedMultimodalUnit(5, return_gates=True)
    h, z = layer(xs, mask=np.array([[1, 0], [1, 1]], "float32"))
    assert h.shape == (2, 7, 5) and z.shape == (2, 7, 2, 5)
    np.testing.assert_allclose(np.asarray(z)[0, :, 0], 1.0)


@pytest.mark.parametrize(
    "inputs,kwargs,match",
    [
        ([np.ones((2, 3), "float32")], {}, "at least 2 modalities"),
        ([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")], {}, "leading"),
        ([np.ones((2, 3), "float32"), np.ones((2, 3), "int32")], {}, "floating point"),
        (np.ones((2, 3), "float32"), {}, "list or dict"),
        (
            [np.ones((2, 3), "float32")] * 2,
            {"mask": np.ones((2, 3), "float32")},
            r"`mask` of shape \(batch, 2\)",
        ),
    ],
)
def test_bad_inputs(inputs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        GatedMultimodalUnit(4)(inputs, **kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"units": 0}, "units=0"), ({"units": 4, "gate_on": "x"}, "gate_on='x'")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GatedMultimodalUnit(**kwargs)


def test_learns_xor_like_gating():
    """The GMU can learn which modality to trust from the inputs."""
    rng = np.random.default_rng(0)
    n = 512
    m = rng.integers(0, 2, n)
    c = rng.integers(0, 2, n)
    xv = np.where(m == 0, np.where(c == 0, -1.0, 1.0), 3.0) + 0.1 * rng.normal(size=n)
    xt = np.where(m == 1, np.where(c == 0, -1.0, 1.0), -3.0) + 0.1 * rng.normal(size=n)
    xv, xt = xv[:, None].astype("float32"), xt[:, None].astype("float32")
    iv, it = keras.Input((1,)), keras.Input((1,))
    h = GatedMultimodalUnit(8)([iv, it])
    out = keras.layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model([iv, it], out)
    model.compile(
        keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"]
    )
    keras.utils.set_random_seed(0)
    model.fit([xv, xt], c, epochs=60, batch_size=64, verbose=0)
    _, acc = model.evaluate([xv, xt], c, verbose=0)
    assert acc > 0.95
