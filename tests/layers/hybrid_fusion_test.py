import numpy as np
import pytest

from mmzoo.layers import HybridFusion
from mmzoo.testing import run_layer_test


def _inputs(dims, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, d)).astype("float32") for d in dims]


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")
INIT = {"units": 4, "late_units": 2, "bias_initializer": "random_normal"}


def _reference(layer, xs, mask=None):
    if mask is None:
        mask = np.ones((xs[0].shape[0], len(xs)), "float32")
    xs = [x * mask[:, i : i + 1] for i, x in enumerate(xs)]
    e = np.concatenate(xs, -1) @ layer.early.kernel.numpy() + layer.early.bias.numpy()
    late = [
        (x @ d.kernel.numpy() + d.bias.numpy()) * mask[:, i : i + 1]
        for i, (x, d) in enumerate(zip(xs, layer.late))
    ]
    return np.concatenate([np.maximum(e, 0.0)] + late, axis=-1)


def test_harness():
    run_layer_test(
        HybridFusion,
        INIT,
        input_data=_inputs((3, 5, 2)),
        expected_output_shape=(4, 4 + 3 * 2),
        # early kernel + bias, and a kernel + bias per late head.
        expected_num_trainable_weights=2 + 2 * 3,
    )


def test_harness_with_mask_and_dict():
    xs = _inputs((3, 5))
    run_layer_test(
        HybridFusion,
        INIT,
        input_data={"audio": xs[0], "text": xs[1]},
        call_kwargs={"mask": MASK[:, 1:]},
        expected_output_shape=(4, 8),
        expected_num_trainable_weights=6,
    )


def test_matches_numpy_reference_with_and_without_mask():
    xs = _inputs((3, 5, 2))
    layer = HybridFusion(**INIT)
    np.testing.assert_allclose(layer(xs), _reference(layer, xs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        layer(xs, mask=MASK), _reference(layer, xs, MASK), rtol=1e-5, atol=1e-6
    )


def test_mask_silences_the_late_prediction_of_a_missing_modality():
    xs = _inputs((3, 5, 2))
    out = np.asarray(HybridFusion(**INIT)(xs, mask=MASK))
    # Row 1: modality 1 is missing -> its prediction (columns 6:8) is 0.
    np.testing.assert_array_equal(out[1, 6:8], 0.0)
    assert np.all(out[1, 4:6] != 0) and np.all(out[1, 8:10] != 0)
    np.testing.assert_array_equal(out[3, 4:], 0.0)


def test_sequences():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 6, d)).astype("float32") for d in (3, 4)]
    assert tuple(HybridFusion(4, 2)(xs).shape) == (2, 6, 8)


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
        HybridFusion(4, 2)(inputs, **kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"units": 0, "late_units": 2}, "units=0"),
     ({"units": 4, "late_units": None}, "late_units=None")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HybridFusion(**kwargs)
