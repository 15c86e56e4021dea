import numpy as np
import pytest

from mmzoo.data.base import MultimodalData
from mmzoo.models import FusionClassifier, GMUClassifier
from mmzoo.training.metrics import classification_metrics
from mmzoo.training.robustness import (
    evaluate_without,
    feature_statistics,
    mask_input_model,
    replace_with_noise,
    robustness_metrics,
    with_modality_mask,
)
from mmzoo.training.trainer import evaluate_model

DIMS = {"a": 3, "b": 2}


def _data(n, loc, scale, seed):
    rng = np.random.default_rng(seed)
    return MultimodalData(
        features={
            "a": rng.normal(loc, scale, (n, 3)).astype("float32"),
            "b": rng.normal(0.0, 1.0, (n, 2)).astype("float32"),
        },
        labels=rng.integers(0, 2, n).astype("int32"),
        num_classes=2,
    )


def _model(**kwargs):
    return FusionClassifier(
        DIMS, encoder_units=[4], fusion={"name": "late", "mode": "learned"}, **kwargs
    )


def test_noise_replacement_uses_train_statistics():
    train = _data(4000, loc=[5.0, -1.0, 0.0], scale=[2.0, 0.5, 1.0], seed=0)
    val = _data(3000, loc=0.0, scale=10.0, seed=1)
    stats = feature_statistics(train)
    np.testing.assert_allclose(stats["a"][0], [5.0, -1.0, 0.0], atol=0.1)
    np.testing.assert_allclose(stats["a"][1], [2.0, 0.5, 1.0], atol=0.1)
    noisy = replace_with_noise(val, "a", stats, seed=3)
    # The noise has the training mean and std, not the validation ones ...
    np.testing.assert_allclose(noisy.features["a"].mean(0), stats["a"][0], atol=0.1)
    np.testing.assert_allclose(noisy.features["a"].std(0), stats["a"][1], atol=0.1)
    assert noisy.features["a"].dtype == np.float32
    # ... is seeded, and leaves the rest alone.
    again = replace_with_noise(val, "a", stats, seed=3)
    np.testing.assert_array_equal(noisy.features["a"], again.features["a"])
    assert noisy.features["b"] is val.features["b"]
    np.testing.assert_array_equal(noisy.labels, val.labels)
    assert not np.allclose(val.features["a"].std(0), stats["a"][1], atol=1.0)
    with pytest.raises(ValueError, match="'c'"):
        replace_with_noise(val, "c", stats)


def test_with_modality_mask():
    data = _data(4, 0.0, 1.0, 0)
    masked = with_modality_mask(data, ["a", "b"], missing=("b",))
    np.testing.assert_array_equal(masked.features["modality_mask"], [[1, 0]] * 4)
    assert "modality_mask" not in data.features
    with pytest.raises(ValueError, match="'c'"):
        with_modality_mask(data, ["a", "b"], missing=("c",))


@pytest.mark.parametrize("cls", [FusionClassifier, GMUClassifier])
def test_mask_input_model_copies_the_weights(cls):
    model = (
        _model(modality_dropout=0.2)
        if cls is FusionClassifier
        else GMUClassifier(DIMS, encoder_units=[4], hidden_dim=3)
    )
    masked = mask_input_model(model)
    assert "modality_mask" in masked.input and "modality_mask" not in model.input
    assert mask_input_model(masked) is masked
    data = _data(5, 0.0, 1.0, 0)
    ones = with_modality_mask(data, model.modalities)
    np.testing.assert_allclose(
        masked(ones.features)["probabilities"],
        model(data.features)["probabilities"],
        rtol=1e-5,
        atol=1e-6,
    )


def test_masked_evaluation_equals_evaluation_with_mask_input():
    model = _model()
    val = _data(40, 0.0, 1.0, 2)
    by_helper = evaluate_without(model, val, "a", "mask")
    masked = _model(use_mask_input=True)
    masked.set_weights(model.get_weights())
    feed = {**val.features, "modality_mask": np.tile([0.0, 1.0], (40, 1))}
    expected = classification_metrics(
        np.asarray(masked(feed)["probabilities"]), val.labels
    )
    assert by_helper == pytest.approx(expected)
    # With late fusion, masking `a` leaves b's prediction alone: a's values
    # do not matter.
    shifted = replace_with_noise(val, "a", {"a": (np.full(3, 9.0), np.ones(3))})
    assert evaluate_without(model, shifted, "a", "mask") == pytest.approx(by_helper)


def test_robustness_metrics_rows():
    train, val = _data(30, 1.0, 2.0, 0), _data(20, 0.0, 1.0, 1)
    model = _model()
    stats = feature_statistics(train)
    rows = robustness_metrics(model, val, stats, seed=0)
    assert [(r["removed"], r["how"]) for r in rows] == [
        (None, "none"),
        ("a", "mask"),
        ("a", "noise"),
        ("b", "mask"),
        ("b", "noise"),
    ]
    assert rows[0]["accuracy"] == evaluate_model(model, val)["accuracy"]
    noisy = evaluate_model(model, replace_with_noise(val, "b", stats, seed=0))
    assert rows[4]["accuracy"] == noisy["accuracy"]
    with pytest.raises(ValueError, match="how="):
        evaluate_without(model, val, "a", "drop")
