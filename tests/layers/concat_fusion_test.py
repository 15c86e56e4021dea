import numpy as np
import pytest

from mmzoo.layers import ConcatFusion
from mmzoo.testing import run_layer_test


def _inputs(dims, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, d)).astype("float32") for d in dims]


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")


def test_harness_plain_concat():
    xs = _inputs((3, 5, 2))
    run_layer_test(
        ConcatFusion,
        {},
        input_data=xs,
        expected_output_shape=(4, 10),
        expected_output=np.concatenate(xs, axis=-1),
        expected_num_trainable_weights=0,
    )


def test_harness_projection_with_mask_and_dict():
    xs = _inputs((3, 5, 2))
    run_layer_test(
        ConcatFusion,
        {"units": 4, "activation": "tanh", "bias_initializer": "random_normal"},
        input_data={"audio": xs[0], "text": xs[1], "video": xs[2]},
        call_kwargs={"mask": MASK},
        expected_output_shape=(4, 4),
        expected_num_trainable_weights=2,  # kernel, bias
    )


def test_projection_matches_numpy_reference():
    xs = _inputs((3, 5, 2))
    layer = ConcatFusion(units=4, activation="tanh", bias_initializer="random_normal")
    out = layer(xs, mask=MASK)
    masked = [x * MASK[:, i : i + 1] for i, x in enumerate(xs)]
    kernel, bias = layer.projection.kernel.numpy(), layer.projection.bias.numpy()
    ref = np.tanh(np.concatenate(masked, axis=-1) @ kernel + bias)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_mask_zeroes_missing_modalities():
    xs = _inputs((3, 5, 2))
    out = np.asarray(ConcatFusion()(xs, mask=MASK))
    np.testing.assert_array_equal(out[1, 3:8], 0.0)
    np.testing.assert_array_equal(out[1, :3], xs[0][1])
    np.testing.assert_array_equal(out[3], 0.0)
    # Dict inputs: sorted keys, mask columns in the same order.
    d = ConcatFusion()({"b": xs[1], "a": xs[0]}, mask=MASK[:, :2])
    listed = ConcatFusion()(xs[:2], mask=MASK[:, :2])
    np.testing.assert_array_equal(d, listed)


def test_sequences():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 6, d)).astype("float32") for d in (3, 4)]
    out = ConcatFusion(units=5)(xs, mask=np.array([[1, 0], [1, 1]], "float32"))
    assert tuple(out.shape) == (2, 6, 5)


@pytest.mark.parametrize(
    "inputs,kwargs,match",
    [
        ([np.ones((2, 3), "float32")], {}, "at least 2 modalities"),
        ([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")], {}, "leading"),
        ([np.ones((2, 3), "float32"), np.ones((2, 3), "int32")], {}, "floating"),
        (np.ones((2, 3), "float32"), {}, "list or dict"),
        ([np.ones((2, 3), "float32")] * 2, {"mask": np.ones((2, 3), "float32")},
         r"`mask` of shape \(batch, 2\). Received shape \(2, 3\)"),
    ],
)
def test_bad_inputs(inputs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConcatFusion(units=4)(inputs, **kwargs)


def test_called_with_another_number_of_modalities():
    layer = ConcatFusion(units=4)
    layer(_inputs((3, 5)))
    with pytest.raises(ValueError, match="built for 2 modalities"):
        layer(_inputs((3, 5, 2)))


@pytest.mark.parametrize("units", [0, -1, 2.5, True])
def test_bad_arguments(units):
    with pytest.raises(ValueError, match=f"units={units!r}"):
        ConcatFusion(units=units)
