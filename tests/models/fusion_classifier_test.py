import numpy as np
import pytest

from mmzoo.errors import ConfigError
from mmzoo.export import load_keras_model
from mmzoo.models import FusionClassifier

DIMS = {"audio": 3, "text": 5, "video": 4}

FUSIONS = {
    "concat": {"name": "concat"},
    "concat_projected": {"name": "concat", "units": 6},
    "additive": {"name": "additive", "units": 6},
    "multiplicative": {"name": "multiplicative", "units": 6},
    "bilinear": {"name": "bilinear", "units": 6},
    "tensor": {"name": "tensor"},
    "low_rank": {"name": "low_rank", "units": 6, "rank": 2},
    "polynomial": {"name": "polynomial", "units": 6, "order": 2, "rank": 2},
    "gated_attention": {"name": "gated_attention", "units": 6},
    "gmu": {"name": "gmu", "units": 6},
    "mag": {"name": "mag", "primary": "text", "dropout": 0.0},
    "transformer_cross": {"name": "transformer", "units": 4, "num_heads": 2},
    "transformer_early": {"name": "transformer", "units": 4, "mode": "early"},
}


def _inputs(dims, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    return {m: rng.normal(size=(batch, d)).astype("float32") for m, d in dims.items()}


def test_get_config_is_exactly_the_constructor_args():
    model = FusionClassifier(
        DIMS, num_classes=3, encoder_units=[4], fusion={"name": "low_rank", "units": 5}
    )
    assert set(model.get_config()) == set(FusionClassifier.constructor_args())
    clone = FusionClassifier.from_config(model.get_config())
    assert clone.get_config() == model.get_config()


@pytest.mark.parametrize("key", sorted(FUSIONS))
def test_each_fusion_gives_probabilities(key):
    fusion = FUSIONS[key]
    # Bilinear fusion is defined for exactly 2 modalities.
    dims = {"audio": 3, "text": 5} if fusion["name"] == "bilinear" else DIMS
    model = FusionClassifier(dims, num_classes=3, encoder_units=[4], fusion=fusion)
    out = model(_inputs(dims))
    probs = np.asarray(out["probabilities"])
    assert probs.shape == (3, 3)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_extra_outputs():
    model = FusionClassifier(
        DIMS,
        encoder_units=[4],
        fusion={"name": "gated_attention", "units": 6, "return_weights": True},
    )
    out = model(_inputs(DIMS))
    assert sorted(out) == ["attention_weights", "probabilities"]
    assert out["attention_weights"].shape == (3, 3)
    model = FusionClassifier(
        DIMS,
        encoder_units=[4],
        fusion={"name": "gmu", "units": 6, "return_gates": True},
    )
    assert model(_inputs(DIMS))["gates"].shape == (3, 3, 6)


def test_multilabel_and_raw_features():
    model = FusionClassifier(
        DIMS, num_classes=4, task="multilabel", encoder_units=[], head_units=[5]
    )
    probs = np.asarray(model(_inputs(DIMS))["probabilities"])
    assert probs.shape == (3, 4)
    assert np.all((probs > 0) & (probs < 1))


def test_unknown_fusion_name():
    with pytest.raises(ConfigError, match="fusion.*'nope'|'nope'.*fusion"):
        FusionClassifier(DIMS, fusion={"name": "nope"})


@pytest.mark.parametrize(
    "fusion",
    [
        {"name": "low_rank", "units": 0},
        {"name": "low_rank", "units": 4, "bogus": 1},
        {"name": "transformer", "units": 5, "num_heads": 2},
        {"name": "bilinear", "units": 4},  # 3 modalities
        {"name": "mag", "primary": "speech"},
        {"units": 4},
        "concat",
    ],
)
def test_bad_fusion_arguments(fusion):
    with pytest.raises(ConfigError, match="fusion"):
        FusionClassifier(DIMS, encoder_units=[4], fusion=fusion)


def test_keras_round_trip(tmp_path):
    model = FusionClassifier(
        DIMS,
        encoder_units=[4],
        fusion={"name": "transformer", "units": 4, "mode": "early"},
        head_units=[3],
    )
    feed = _inputs(DIMS)
    expected = model(feed, training=False)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = load_keras_model(path)
    assert isinstance(reloaded, FusionClassifier)
    assert reloaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        reloaded(feed, training=False)["probabilities"],
        expected["probabilities"],
        rtol=1e-5,
        atol=1e-6,
    )


# --- late fusion, single modality, modality mask and modality dropout --------

MASKABLE = {
    **FUSIONS,
    "hybrid": {"name": "hybrid", "units": 6, "late_units": 2},
    "late_mean": {"name": "late"},
    "late_weighted": {"name": "late", "mode": "weighted",
                      "modality_weights": [1.0, 2.0, 3.0]},
    "late_learned": {"name": "late", "mode": "learned"},
}


def _dims_for(fusion):
    return {"audio": 3, "text": 5} if fusion["name"] == "bilinear" else DIMS


def _ones_mask(dims, batch=3):
    return np.ones((batch, len(dims)), "float32")


def test_late_fusion_trains_and_round_trips(tmp_path):
    model = FusionClassifier(
        DIMS,
        encoder_units=[4],
        fusion={"name": "late", "mode": "learned"},
        head_units=[3],
        use_mask_input=True,
        modality_dropout=0.3,
    )
    assert sorted(model.input) == ["audio", "modality_mask", "text", "video"]
    assert model.output_names == ["probabilities"]
    # One head and classifier per modality.
    assert {"audio_probabilities", "text_head_dense_0"} <= {
        layer.name for layer in model.layers
    }
    model.compile("adam", **model.default_compile_args())
    feed = {**_inputs(DIMS, batch=16), "modality_mask": _ones_mask(DIMS, 16)}
    before = [w.numpy() for w in model.trainable_weights]
    history = model.fit(feed, np.arange(16) % 2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [
        not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights)
    ]
    assert all(changed)  # every modality's branch (and the logits) trained
    probs = np.asarray(model(feed)["probabilities"])
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    path = tmp_path / "late.keras"
    model.save(path)
    reloaded = load_keras_model(path)
    assert reloaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        reloaded(feed)["probabilities"], probs, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("key", sorted(MASKABLE))
def test_masked_modality_values_do_not_matter(key):
    fusion = MASKABLE[key]
    dims = _dims_for(fusion)
    model = FusionClassifier(
        dims, num_classes=3, encoder_units=[4], fusion=fusion, use_mask_input=True
    )
    feed = _inputs(dims)
    # Mask a different modality in each example ("text" is MAG's primary).
    mask = np.ones((3, len(dims)), "float32")
    mask[np.arange(3), np.arange(3) % len(dims)] = 0.0
    changed = {m: v * 50.0 + 7.0 for m, v in feed.items()}
    out = model({**feed, "modality_mask": mask})["probabilities"]
    for i in range(3):
        missing = sorted(dims)[i % len(dims)]
        other = dict(feed, **{missing: changed[missing]})
        again = model({**other, "modality_mask": mask})["probabilities"]
        np.testing.assert_allclose(again[i], out[i], rtol=1e-5, atol=1e-6)
    # A present modality does change the output.
    shifted = model({**changed, "modality_mask": np.ones_like(mask)})
    assert not np.allclose(shifted["probabilities"], out, atol=1e-6)


@pytest.mark.parametrize("key", ["concat", "late_learned", "transformer_early", "gmu"])
def test_modality_dropout_is_off_at_inference(key):
    fusion = MASKABLE[key]
    kwargs = dict(num_classes=3, encoder_units=[4], fusion=fusion)
    plain = FusionClassifier(DIMS, **kwargs)
    dropped = FusionClassifier(DIMS, modality_dropout=0.5, **kwargs)
    assert "modality_dropout" in [layer.name for layer in dropped.layers]
    for layer in plain.layers:
        if layer.weights:
            dropped.get_layer(layer.name).set_weights(layer.get_weights())
    feed = _inputs(DIMS)
    np.testing.assert_allclose(
        dropped(feed, training=False)["probabilities"],
        plain(feed, training=False)["probabilities"],
        rtol=1e-5,
        atol=1e-6,
    )


def test_modality_dropout_in_training_with_mask_input():
    model = FusionClassifier(
        DIMS,
        encoder_units=[4],
        fusion={"name": "gated_attention", "units": 4, "return_weights": True},
        use_mask_input=True,
        modality_dropout=0.9,
    )
    feed = {**_inputs(DIMS, batch=8), "modality_mask": _ones_mask(DIMS, 8)}
    # In training the attention renormalises over the kept modalities: never
    # all of them dropped, so every row still sums to 1.
    weights = np.asarray(model(feed, training=True)["attention_weights"])
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert np.any(np.isclose(weights, 0.0))  # some modalities were dropped


def test_single_modality_baseline():
    model = FusionClassifier({"text": 5}, num_classes=3, encoder_units=[4])
    assert model.get_config()["fusion"] == {"name": "none"}
    assert model.modalities == ["text"]
    probs = np.asarray(model(_inputs({"text": 5}))["probabilities"])
    assert probs.shape == (3, 3)
    same = FusionClassifier({"text": 5}, encoder_units=[4], fusion={"name": "none"})
    assert same.get_config()["fusion"] == {"name": "none"}


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"input_dims": {}}, "at least 1 modality"),
        ({"input_dims": {"text": 5}, "fusion": {"name": "concat"}}, "'none'"),
        ({"input_dims": DIMS, "fusion": {"name": "none"}}, "exactly one modality"),
        ({"input_dims": {"text": 5}, "use_mask_input": True}, "use_mask_input"),
        ({"input_dims": {"text": 5}, "modality_dropout": 0.2}, "modality_dropout"),
        ({"input_dims": DIMS, "modality_dropout": 1.0}, "modality_dropout=1.0"),
        ({"input_dims": DIMS, "use_mask_input": 1}, "use_mask_input=1"),
        (
            {"input_dims": DIMS, "fusion": {"name": "late", "mode": "weighted",
                                           "modality_weights": [1.0, 2.0]}},
            "fusion",
        ),
    ],
)
def test_bad_masking_and_single_modality_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        FusionClassifier(**{"encoder_units": [4], **kwargs})


def test_docstring_examples():
    import doctest

    from mmzoo.models import fusion_classifier

    result = doctest.testmod(fusion_classifier, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_data_overrides_give_string_features_width_one():
    from mmzoo.data.base import MultimodalData

    data = MultimodalData(
        features={
            "video": np.zeros((3, 4), "float32"),
            "transcript": np.array(["a", "b", "c"], dtype=object),
        },
        labels=np.array([0, 1, 2]),
        num_classes=3,
    )
    assert FusionClassifier.data_overrides(data) == {
        "input_dims": {"video": 4, "transcript": 1},
        "num_classes": 3,
        "task": "multiclass",
    }
