import numpy as np
import pytest

from mmzoo.layers import MultiplicativeFusion
from mmzoo.testing import run_layer_test


def _inputs(dims, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, d)).astype("float32") for d in dims]


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")


def _reference(layer, xs, mask=None):
    """h = prod_i f_i, f_i = [1 +] W_i x_i + b_i, f_i = 1 for a missing modality."""
    h = 1.0
    for i, (x, d) in enumerate(zip(xs, layer.projections)):
        f = x @ d.kernel.numpy() + d.bias.numpy() + (1.0 if layer.plus_one else 0.0)
        if mask is not None:
            f = np.where(mask[:, i : i + 1] > 0, f, 1.0)
        h = h * f
    return h


@pytest.mark.parametrize("plus_one", [True, False])
def test_harness(plus_one):
    run_layer_test(
        MultiplicativeFusion,
        {"units": 4, "plus_one": plus_one, "bias_initializer": "random_normal"},
        input_data=_inputs((3, 5, 2)),
        call_kwargs={"mask": MASK},
        expected_output_shape=(4, 4),
        expected_num_trainable_weights=2 * 3,  # kernel + bias per modality
    )


@pytest.mark.parametrize("plus_one", [True, False])
def test_matches_numpy_reference(plus_one):
    xs = _inputs((3, 5, 2))
    layer = MultiplicativeFusion(4, plus_one=plus_one, bias_initializer="random_normal")
    np.testing.assert_allclose(layer(xs), _reference(layer, xs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        layer(xs, mask=MASK), _reference(layer, xs, MASK), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("plus_one", [True, False])
def test_mask_equals_dropping_the_modality(plus_one):
    xs = _inputs((3, 5, 2))
    layer = MultiplicativeFusion(4, plus_one=plus_one, bias_initializer="random_normal")
    masked = layer(xs, mask=np.array([[1, 0, 1]] * 4, "float32"))
    two = MultiplicativeFusion(4, plus_one=plus_one)
    two([xs[0], xs[2]])
    two.set_weights(layer.projections[0].get_weights()
                    + layer.projections[2].get_weights())
    np.testing.assert_allclose(masked, two([xs[0], xs[2]]), rtol=1e-6, atol=1e-6)
    all_missing = layer(xs, mask=np.zeros((4, 3), "float32"))
    np.testing.assert_array_equal(all_missing, 1.0)


def test_plus_one_with_zero_input_and_no_bias_is_neutral():
    xs = _inputs((3, 5))
    layer = MultiplicativeFusion(4, use_bias=False)
    zeroed = layer([xs[0], np.zeros_like(xs[1])])
    masked = layer(xs, mask=np.array([[1, 0]] * 4, "float32"))
    np.testing.assert_allclose(zeroed, masked, rtol=1e-6)


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
        MultiplicativeFusion(4)(inputs, **kwargs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="units=-2"):
        MultiplicativeFusion(-2)
