import numpy as np
import pytest

from mmzoo.layers import AdditiveFusion
from mmzoo.testing import run_layer_test


def _inputs(dims, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, d)).astype("float32") for d in dims]


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")


def _reference(layer, xs, mask=None):
    """h = activation(sum_i m_i W_i x_i + b)."""
    h = layer.bias.numpy() + sum(
        (x if mask is None else x * mask[:, i : i + 1]) @ k.numpy()
        for i, (x, k) in enumerate(zip(xs, layer.kernels))
    )
    return np.tanh(h)


def test_harness_with_mask_and_dict():
    xs = _inputs((3, 5, 2))
    run_layer_test(
        AdditiveFusion,
        {"units": 4, "activation": "tanh", "bias_initializer": "random_normal"},
        input_data={"audio": xs[0], "text": xs[1], "video": xs[2]},
        call_kwargs={"mask": MASK},
        expected_output_shape=(4, 4),
        expected_num_trainable_weights=3 + 1,  # a kernel per modality, one bias
    )


def test_matches_numpy_reference():
    xs = _inputs((3, 5, 2))
    layer = AdditiveFusion(4, activation="tanh", bias_initializer="random_normal")
    np.testing.assert_allclose(layer(xs), _reference(layer, xs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        layer(xs, mask=MASK), _reference(layer, xs, MASK), rtol=1e-5, atol=1e-6
    )


def test_mask_equals_dropping_the_modality():
    xs = _inputs((3, 5, 2))
    layer = AdditiveFusion(4, bias_initializer="random_normal")
    masked = layer(xs, mask=np.array([[1, 0, 1]] * 4, "float32"))
    two = AdditiveFusion(4)
    two([xs[0], xs[2]])
    two.set_weights([layer.kernels[0].numpy(), layer.kernels[2].numpy(),
                     layer.bias.numpy()])
    np.testing.assert_allclose(masked, two([xs[0], xs[2]]), rtol=1e-6, atol=1e-6)


def test_sequences_and_no_bias():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 6, d)).astype("float32") for d in (3, 4)]
    layer = AdditiveFusion(5, use_bias=False)
    assert tuple(layer(xs).shape) == (2, 6, 5)
    assert len(layer.trainable_weights) == 2


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
        AdditiveFusion(4)(inputs, **kwargs)


def test_called_with_another_number_of_modalities():
    layer = AdditiveFusion(4)
    layer(_inputs((3, 5)))
    with pytest.raises(ValueError, match="built for 2 modalities"):
        layer(_inputs((3, 5, 2)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="units=0"):
        AdditiveFusion(0)
