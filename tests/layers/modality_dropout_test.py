import doctest

import numpy as np
import pytest

from mmzoo.layers import modality_dropout
from mmzoo.layers.modality_dropout import ModalityDropout
from mmzoo.testing import run_layer_test


def _inputs(batch=6):
    rng = np.random.default_rng(0)
    return {
        "a": rng.normal(size=(batch, 3)).astype("float32"),
        "b": rng.normal(size=(batch, 2)).astype("float32"),
        "c": rng.normal(size=(batch, 4)).astype("float32"),
    }


def test_harness_passes_the_mask_through_at_inference():
    mask = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1]] * 2, "float32")
    run_layer_test(
        ModalityDropout,
        {"rate": 0.5, "seed": 3},
        input_data=_inputs(),
        call_kwargs={"mask": mask},
        expected_output_shape=(6, 3),
        expected_output=mask,
        expected_num_trainable_weights=0,
    )


def test_all_ones_without_a_mask():
    out = ModalityDropout(0.5)(_inputs(), training=False)
    np.testing.assert_array_equal(np.asarray(out), np.ones((6, 3)))


def test_never_drops_every_present_modality():
    batch = 2000
    mask = np.ones((batch, 3), "float32")
    mask[: batch // 2, 0] = 0.0  # half the examples already miss modality a
    mask[:100, 1] = 0.0  # and 100 have only c
    layer = ModalityDropout(rate=0.9, seed=1)
    out = np.asarray(layer(_inputs(batch), mask=mask, training=True))
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert np.all(out.sum(-1) >= 1)  # at least one modality kept
    assert np.all(out <= mask)  # a missing modality is never brought back
    np.testing.assert_array_equal(out[:100], mask[:100])  # the only one is kept
    # Each of 3 present modalities is kept with probability 1 - rate, plus one
    # fallback when all 3 are dropped (probability rate^3).
    full = out[batch // 2 :]
    expected = (3 * (1 - 0.9) + 0.9**3) / 3
    assert abs(full.mean() - expected) < 0.03, full.mean()
    # The fallback keeps each present modality about as often as the others.
    single = full[full.sum(-1) == 1]
    shares = single.mean(0)
    assert np.all(np.abs(shares - 1 / 3) < 0.06), shares


def test_rate_zero_and_seeded_draws():
    x = _inputs(50)
    np.testing.assert_array_equal(
        np.asarray(ModalityDropout(0.0)(x, training=True)), np.ones((50, 3))
    )
    first = np.asarray(ModalityDropout(0.5, seed=7)(x, training=True))
    again = np.asarray(ModalityDropout(0.5, seed=7)(x, training=True))
    np.testing.assert_array_equal(first, again)
    assert 0 < first.mean() < 1


@pytest.mark.parametrize("rate", [1.0, -0.1, "0.5", True])
def test_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        ModalityDropout(rate)


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 modalities"):
        ModalityDropout(0.5)([np.ones((2, 3), "float32")])
    with pytest.raises(ValueError, match="mask"):
        ModalityDropout(0.5)(_inputs(), mask=np.ones((6, 2), "float32"))


def test_docstring_example():
    result = doctest.testmod(modality_dropout, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
