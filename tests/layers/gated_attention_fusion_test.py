import numpy as np
import pytest

from mmzoo.layers import GatedAttentionFusion
from mmzoo.testing import run_layer_test


def _inputs(dims, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, d)).astype("float32") for d in dims]


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")
INIT = {"units": 4, "attention_units": 3, "return_weights": True,
        "bias_initializer": "random_normal"}


def _reference(layer, xs, mask=None):
    """Projections, tanh scoring MLP, softmax over present modalities."""
    if mask is None:
        mask = np.ones((len(xs[0]), len(xs)))
    xs = [x * mask[:, i : i + 1] for i, x in enumerate(xs)]
    hs = np.stack([x @ p.kernel.numpy() + p.bias.numpy()
                   for x, p in zip(xs, layer.projections)], axis=1)
    hidden = np.tanh(hs @ layer.score_hidden.kernel.numpy()
                     + layer.score_hidden.bias.numpy())
    s = (hidden @ layer.score.kernel.numpy())[..., 0]
    e = np.exp(s - s.max(-1, keepdims=True)) * mask
    total = e.sum(-1, keepdims=True)
    alpha = e / np.where(total > 0, total, 1.0)
    return (alpha[..., None] * hs).sum(1), alpha


def test_harness_with_mask_and_dict():
    xs = _inputs((3, 5, 2))
    run_layer_test(
        GatedAttentionFusion,
        INIT,
        input_data={"audio": xs[0], "text": xs[1], "video": xs[2]},
        call_kwargs={"mask": MASK},
        expected_output_shape=((4, 4), (4, 3)),
        # kernel + bias per projection, scoring hidden kernel + bias, v.
        expected_num_trainable_weights=2 * 3 + 3,
    )


def test_matches_numpy_reference():
    xs = _inputs((3, 5, 2))
    layer = GatedAttentionFusion(**INIT)
    for mask in (None, MASK):
        h, alpha = layer(xs, mask=mask)
        ref_h, ref_alpha = _reference(layer, xs, mask)
        np.testing.assert_allclose(h, ref_h, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(alpha, ref_alpha, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.sum(alpha[:3], -1), 1.0, rtol=1e-6)


def test_mask_equals_leaving_the_modality_out():
    xs = _inputs((3, 5, 2))
    layer = GatedAttentionFusion(**INIT)
    h, alpha = layer(xs, mask=MASK)
    alpha = np.asarray(alpha)
    np.testing.assert_array_equal(alpha[1, 1], 0.0)
    np.testing.assert_allclose(alpha[2], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(alpha[3], 0.0)
    np.testing.assert_array_equal(np.asarray(h)[3], 0.0)
    two = GatedAttentionFusion(**INIT)
    two([xs[0], xs[2]])
    two.set_weights(layer.projections[0].get_weights()
                    + layer.projections[2].get_weights()
                    + layer.score_hidden.get_weights() + layer.score.get_weights())
    h2, _ = two([xs[0], xs[2]])
    np.testing.assert_allclose(np.asarray(h)[1], np.asarray(h2)[1], rtol=1e-5)


def test_sequences_weights_per_position():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 6, d)).astype("float32") for d in (3, 4)]
    layer = GatedAttentionFusion(5, return_weights=True)
    h, alpha = layer(xs, mask=np.array([[1, 0], [1, 1]], "float32"))
    assert tuple(h.shape) == (2, 6, 5) and tuple(alpha.shape) == (2, 6, 2)
    np.testing.assert_allclose(np.asarray(alpha)[0, :, 0], 1.0)
    assert tuple(GatedAttentionFusion(5)(xs).shape) == (2, 6, 5)


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
        GatedAttentionFusion(4)(inputs, **kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"units": 0}, "units=0"), ({"units": 4, "attention_units": 0},
                                 "attention_units=0")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GatedAttentionFusion(**kwargs)
