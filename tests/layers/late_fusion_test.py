import numpy as np
import pytest

from mmzoo.layers import LateFusion
from mmzoo.testing import run_layer_test


def _preds(n, batch=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, k)).astype("float32") for _ in range(n)]


def _softmax(a):
    e = np.exp(a - a.max())
    return e / e.sum()


def _reference(ps, w, mask=None):
    """y = sum_i w_i p_i, the weights renormalised over present modalities."""
    w = np.broadcast_to(np.asarray(w, "float64"), (ps[0].shape[0], len(ps)))
    if mask is not None:
        w = w * mask
        total = w.sum(-1, keepdims=True)
        w = w / np.where(total > 0, total, 1.0)
    return sum(w[:, i : i + 1] * p for i, p in enumerate(ps))


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")


@pytest.mark.parametrize(
    "init,weights",
    [
        ({"mode": "mean"}, [1 / 3] * 3),
        ({"mode": "weighted", "modality_weights": [1.0, 2.0, 5.0]},
         [1 / 8, 2 / 8, 5 / 8]),
    ],
)
def test_harness_fixed_modes(init, weights):
    ps = _preds(3)
    run_layer_test(
        LateFusion,
        init,
        input_data=ps,
        expected_output_shape=(4, 3),
        expected_output=_reference(ps, weights),
        expected_num_trainable_weights=0,
    )


def test_harness_learned_with_mask_and_dict():
    ps = _preds(3)
    run_layer_test(
        LateFusion,
        {"mode": "learned"},
        input_data={"a": ps[0], "b": ps[1], "c": ps[2]},
        call_kwargs={"mask": MASK},
        expected_output_shape=(4, 3),
        expected_output=_reference(ps, [1 / 3] * 3, MASK),
        expected_num_trainable_weights=1,  # the (n,) logits
    )


def test_learned_weights_are_softmax_of_logits():
    ps = _preds(3)
    layer = LateFusion(mode="learned")
    layer(ps)
    logits = np.array([0.5, -1.0, 2.0], "float32")
    layer.logits.assign(logits)
    np.testing.assert_allclose(
        layer(ps), _reference(ps, _softmax(logits)), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        layer(ps, mask=MASK), _reference(ps, _softmax(logits), MASK),
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.parametrize(
    "init", [{"mode": "mean"}, {"mode": "weighted", "modality_weights": [1, 2, 5]}]
)
def test_mask_equals_fusing_present_predictions(init):
    ps = _preds(3)
    out = np.asarray(LateFusion(**init)(ps, mask=MASK))
    # Row 1: modality 1 missing == fusing modalities 0 and 2 alone.
    sub = {"mode": "mean"} if init["mode"] == "mean" else {
        "mode": "weighted", "modality_weights": [1, 5]}
    dropped = np.asarray(LateFusion(**sub)([ps[0], ps[2]]))
    np.testing.assert_allclose(out[1], dropped[1], rtol=1e-6)
    np.testing.assert_allclose(out[2], ps[2][2], rtol=1e-6)
    np.testing.assert_array_equal(out[3], 0.0)


def test_sequences_of_predictions():
    rng = np.random.default_rng(1)
    ps = [rng.normal(size=(2, 5, 3)).astype("float32") for _ in range(2)]
    mask = np.array([[1, 0], [1, 1]], "float32")
    out = np.asarray(LateFusion()(ps, mask=mask))
    np.testing.assert_allclose(out[0], ps[0][0], rtol=1e-6)
    np.testing.assert_allclose(out[1], (ps[0][1] + ps[1][1]) / 2, rtol=1e-6)


@pytest.mark.parametrize(
    "inputs,kwargs,match",
    [
        ([np.ones((2, 3), "float32")], {}, "at least 2 modalities"),
        ([np.ones((2, 3), "float32"), np.ones((2, 4), "float32")], {}, "same feature"),
        ([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")], {}, "leading"),
        ([np.ones((2, 3), "float32"), np.ones((2, 3), "int32")], {}, "floating"),
        ([np.ones((2, 3), "float32")] * 2, {"mask": np.ones((2,), "float32")},
         r"`mask` of shape \(batch, 2\). Received shape \(2,\)"),
    ],
)
def test_bad_inputs(inputs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        LateFusion(mode="learned")(inputs, **kwargs)


def test_weight_count_must_match_modalities():
    with pytest.raises(ValueError, match=r"modality_weights=\[1.0, 2.0\]"):
        LateFusion(mode="weighted", modality_weights=[1, 2])(_preds(3))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"mode": "max"}, "mode='max'"),
        ({"mode": "weighted"}, "modality_weights=None"),
        ({"mode": "weighted", "modality_weights": [1, -1]},
         r"modality_weights=\[1, -1\]"),
        ({"mode": "weighted", "modality_weights": [0, 0]},
         r"modality_weights=\[0, 0\]"),
        ({"mode": "mean", "modality_weights": [1, 2]}, "only used with"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LateFusion(**kwargs)
