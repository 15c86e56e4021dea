import numpy as np
import pytest

from mmzoo.layers import TensorFusion
from mmzoo.testing import run_layer_test


def _inputs(dims, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, d)).astype("float32") for d in dims]


def _reference(zs):
    """vec of the outer product of [1; z_m], one example at a time."""
    out = []
    for row in zip(*zs):
        t = np.ones(())
        for z in row:
            t = np.multiply.outer(t, np.concatenate([[1.0], z]))
        out.append(t.reshape(-1))
    return np.stack(out)


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")


def test_harness_three_modalities():
    xs = _inputs((3, 4, 2))
    run_layer_test(
        TensorFusion,
        {},
        input_data=xs,
        expected_output_shape=(4, 4 * 5 * 3),
        expected_output=_reference(xs),
        expected_num_trainable_weights=0,
    )


def test_harness_with_mask_and_dict():
    xs = _inputs((3, 4, 2))
    masked = [x * MASK[:, i : i + 1] for i, x in enumerate(xs)]
    run_layer_test(
        TensorFusion,
        {},
        input_data={"a": xs[0], "b": xs[1], "c": xs[2]},
        call_kwargs={"mask": MASK},
        expected_output_shape=(4, 60),
        expected_output=_reference(masked),
        expected_num_trainable_weights=0,
    )


def test_contains_unimodal_and_bimodal_terms():
    z1, z2 = _inputs((3, 4))
    h = np.asarray(TensorFusion()([z1, z2])).reshape(4, 4, 5)
    np.testing.assert_allclose(h[:, 0, 0], 1.0)
    np.testing.assert_allclose(h[:, 1:, 0], z1, rtol=1e-6)
    np.testing.assert_allclose(h[:, 0, 1:], z2, rtol=1e-6)
    np.testing.assert_allclose(h[:, 1:, 1:], z1[:, :, None] * z2[:, None, :], rtol=1e-6)


def test_mask_keeps_the_other_modalities_terms():
    xs = _inputs((3, 4, 2))
    h = np.asarray(TensorFusion()(xs, mask=MASK)).reshape(4, 4, 5, 3)
    # Row 1, modality 1 missing: the i_1 = 0 slice is the fusion of 0 and 2,
    # everything else is 0.
    pair = np.asarray(TensorFusion()([xs[0], xs[2]])).reshape(4, 4, 3)
    np.testing.assert_allclose(h[1, :, 0, :], pair[1], rtol=1e-6)
    np.testing.assert_array_equal(h[1, :, 1:, :], 0.0)
    np.testing.assert_array_equal(h[3].reshape(-1)[1:], 0.0)
    assert h[3, 0, 0, 0] == 1.0


def test_sequences():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 5, d)).astype("float32") for d in (2, 3)]
    out = np.asarray(TensorFusion()(xs))
    assert out.shape == (2, 5, 12)
    np.testing.assert_allclose(
        out.reshape(10, 12), _reference([x.reshape(10, -1) for x in xs]), rtol=1e-6
    )


@pytest.mark.parametrize(
    "inputs,kwargs,match",
    [
        ([np.ones((2, 3), "float32")], {}, "at least 2 modalities"),
        ([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")], {}, "leading"),
        ([np.ones((2, 3), "float32"), np.ones((2, 3), "int32")], {}, "floating"),
        ({"a": np.ones((2, 3), "float32"), "b": np.ones((2,), "float32")}, {},
         r"modality 'b' in `inputs` must have rank >= 2"),
        ([np.ones((2, 3), "float32")] * 2, {"mask": np.ones((2, 3), "float32")},
         r"`mask` of shape \(batch, 2\). Received shape \(2, 3\)"),
    ],
)
def test_bad_inputs(inputs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        TensorFusion()(inputs, **kwargs)
