"""Modality encoders from TF-Hub SavedModels and keras-hub backbones (offline)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.errors import ConfigError
from mmzoo.export import export_saved_model, load_serving_signature
from mmzoo.models.fusion_classifier import FusionClassifier
from mmzoo.models.gmu_classifier import GMUClassifier
from mmzoo.models.pretrained import HubEncoder
from mmzoo.testing.offline_encoders import (
    ImageFeatureVector,
    TextEmbedding,
    saved_module,
    tiny_resnet_config,
)

_ImageModule = ImageFeatureVector  # (batch, 8, 8, 3) -> (batch, 6)


@pytest.fixture(scope="module")
def hub_modules(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    return (
        saved_module(_ImageModule, root / "image"),
        saved_module(TextEmbedding, root / "text"),
    )


def _data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    words = np.array(["a", "good", "bad", "film", "plot", "dull", "great"])
    text = np.array([" ".join(rng.choice(words, 4)) for _ in range(n)])
    x = {"image": rng.random((n, 8, 8, 3), dtype=np.float32), "text": text}
    # Keras' array adapters take no numpy str arrays: strings go in as tensors.
    return {k: tf.constant(v) for k, v in x.items()}, rng.integers(0, 3, n)


def _hub_weights(model):
    return [
        w.numpy().copy()
        for name in ("image_encoder", "text_encoder")
        for w in model.get_layer(name).weights
    ]


@pytest.mark.parametrize("trainable", [False, True])
def test_gmu_with_hub_encoders_trains_saves_and_exports(
    hub_modules, tmp_path, trainable
):
    image, text = hub_modules
    encoders = {
        "image": {"hub": image, "trainable": trainable},
        "text": {"hub": text, "trainable": trainable},
    }
    model = GMUClassifier(
        {"image": 1, "text": 1}, num_classes=3, hidden_dim=4, encoders=encoders
    )
    assert model.input["text"].dtype == "string"
    assert tuple(model.input["image"].shape) == (None, 8, 8, 3)
    model.compile(optimizer=keras.optimizers.SGD(0.5), **model.default_compile_args())
    x, y = _data()
    before = _hub_weights(model)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    history = model.fit(data, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = _hub_weights(model)
    changed = [not np.allclose(a, b) for a, b in zip(before, after)]
    assert changed == [trainable, trainable]
    expected = model(x)["probabilities"].numpy()

    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert reloaded.get_config()["encoders"] == model.get_config()["encoders"]
    np.testing.assert_allclose(
        reloaded(x)["probabilities"].numpy(), expected, atol=1e-5
    )

    version = export_saved_model(model, tmp_path / "export")
    serve = load_serving_signature(version)
    served = serve(**x)
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)


def test_fusion_classifier_mixes_hub_and_mlp_encoders(hub_modules):
    image, _ = hub_modules
    model = FusionClassifier(
        {"image": 1, "audio": 7},
        num_classes=2,
        encoder_units=[4],
        encoders={"image": {"hub": image, "units": [3]}},
    )
    assert sorted(model.input) == ["audio", "image"]
    rng = np.random.default_rng(1)
    x = {
        "image": rng.random((4, 8, 8, 3), dtype=np.float32),
        "audio": rng.random((4, 7), dtype=np.float32),
    }
    model.compile(optimizer="adam", **model.default_compile_args())
    history = model.fit(x, rng.integers(0, 2, 4), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.get_config()["encoders"]["image"]["hub"] == image


def test_keras_hub_resnet_backbone_from_config(tmp_path):
    # An image backbone takes one float tensor, as a feature-vector modality's
    # input; BERT would need token ids and a padding mask per modality.
    config = tiny_resnet_config(16)
    model = GMUClassifier(
        {"image": 1, "audio": 3},
        num_classes=2,
        hidden_dim=4,
        encoders={"image": {"keras_hub": "ResNetBackbone", "config": config}},
    )
    rng = np.random.default_rng(2)
    x = {
        "image": rng.random((4, 16, 16, 3), dtype=np.float32),
        "audio": rng.random((4, 3), dtype=np.float32),
    }
    model.compile(optimizer="adam", **model.default_compile_args())
    history = model.fit(x, rng.integers(0, 2, 4), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    expected = model.predict(x, verbose=0)["probabilities"]
    model.save(tmp_path / "resnet.keras")
    reloaded = keras.saving.load_model(tmp_path / "resnet.keras", safe_mode=True)
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0)["probabilities"], expected, atol=1e-5
    )


def test_uncached_tfhub_handle_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    handle = "https://tfhub.dev/google/nonexistent/1"
    with pytest.raises(ConfigError, match="TFHUB_CACHE_DIR") as info:
        HubEncoder(handle)
    assert handle in str(info.value) and str(tmp_path) in str(info.value)


def test_path_that_is_not_a_saved_model_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not a TF2 SavedModel"):
        HubEncoder(str(tmp_path))
    with pytest.raises(ConfigError, match="neither a URL nor"):
        HubEncoder(str(tmp_path / "missing"))


def test_uncached_keras_hub_preset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match="bert_tiny_en_uncased") as info:
        GMUClassifier(
            {"image": 2, "text": 1},
            encoders={
                "text": {"keras_hub": "BertBackbone", "preset": "bert_tiny_en_uncased"}
            },
        )
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize(
    "encoders, match",
    [
        ({"video": {"mlp": [4]}}, "not in `input_dims`"),
        ({"image": {"hub": "x", "keras_hub": "y"}}, "exactly one"),
        ({"image": {"hub": "x", "frozen": True}}, "Unknown keys"),
        ({"image": {"keras_hub": "NotABackbone"}}, "not a keras-hub backbone"),
    ],
)
def test_bad_encoder_specs(encoders, match):
    with pytest.raises(ConfigError, match=match):
        GMUClassifier({"image": 2, "text": 3}, encoders=encoders)


# --------------------------------------------------------------------------
# keras-hub text backbones: strings in through the backbone's tokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB += ["a", "good", "bad", "film", "plot", "dull", "great", "##s"]
TINY_BERT = {
    "num_layers": 1,
    "num_heads": 1,
    "hidden_dim": 8,
    "intermediate_dim": 8,
    "max_sequence_length": 12,
}


def _bert_spec(**extra):
    return {"keras_hub": "BertBackbone", "config": dict(TINY_BERT), **extra}


def _text_data(n=8, seed=0):
    x, y = _data(n, seed)
    rng = np.random.default_rng(seed)
    x = {"text": x["text"], "audio": tf.constant(rng.random((n, 3), np.float32))}
    return x, y


def test_bert_backbone_with_vocabulary_takes_strings(tmp_path):
    spec = _bert_spec(vocabulary=VOCAB, sequence_length=8)
    spec["tokenizer_config"] = {"lowercase": True}
    model = GMUClassifier(
        {"text": 1, "audio": 3}, num_classes=3, hidden_dim=4, encoders={"text": spec}
    )
    assert sorted(model.input) == ["audio", "text"]
    assert model.input["text"].dtype == "string"
    resolved = model.get_config()["encoders"]["text"]
    assert resolved["tokenizer"] == "BertTokenizer"
    assert resolved["vocabulary"] == VOCAB
    assert resolved["config"]["vocabulary_size"] == len(VOCAB)  # defaulted
    tokens = model.get_layer("text_tokenizer")(tf.constant(["Good films", "x"]))
    np.testing.assert_array_equal(
        tokens["token_ids"].numpy(),
        [[2, 6, 8, 12, 3, 0, 0, 0], [2, 1, 3, 0, 0, 0, 0, 0]],
    )
    model.compile(optimizer="adam", **model.default_compile_args())
    x, y = _text_data()
    history = model.fit(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(4), epochs=1, verbose=0
    )
    assert np.isfinite(history.history["loss"]).all()
    expected = model(x)["probabilities"].numpy()
    model.save(tmp_path / "bert.keras")
    reloaded = keras.saving.load_model(tmp_path / "bert.keras", safe_mode=True)
    assert reloaded.get_config()["encoders"] == model.get_config()["encoders"]
    np.testing.assert_allclose(
        reloaded(x)["probabilities"].numpy(), expected, atol=1e-5
    )


def test_bert_backbone_vocabulary_file_and_fusion_classifier(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    model = FusionClassifier(
        {"text": 1, "audio": 3},
        encoder_units=[4],
        encoders={"text": _bert_spec(vocabulary=str(path))},
    )
    spec = model.get_config()["encoders"]["text"]
    assert spec["vocabulary"] == VOCAB  # the file's content, not its path
    assert spec["sequence_length"] == 12  # min(128, max_sequence_length)
    x, _ = _text_data(4)
    assert model(x)["probabilities"].shape == (4, 2)


def test_bert_backbone_without_tokenizer_takes_token_ids():
    model = GMUClassifier(
        {"text": 1, "audio": 3},
        encoders={"text": _bert_spec(config={**TINY_BERT, "vocabulary_size": 9})},
    )
    assert sorted(model.input) == [
        "audio",
        "text_padding_mask",
        "text_segment_ids",
        "text_token_ids",
    ]
    ids = np.array([[2, 5, 3, 0]], "int32")
    x = {
        "audio": np.ones((1, 3), "float32"),
        "text_token_ids": ids,
        "text_segment_ids": np.zeros_like(ids),
        "text_padding_mask": (ids > 0).astype("int32"),
    }
    assert model(x)["probabilities"].shape == (1, 2)


def test_bert_preset_directory_with_its_tokenizer(tmp_path):
    import keras_hub

    # A local preset directory (as `save_to_preset` writes it): no download.
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(VOCAB), **TINY_BERT)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCAB, lowercase=True)
    preset = tmp_path / "preset"
    backbone.save_to_preset(str(preset))
    tokenizer.save_to_preset(str(preset))
    spec = {
        "keras_hub": "BertBackbone",
        "preset": str(preset),
        "tokenizer": True,
        "sequence_length": 6,
    }
    model = GMUClassifier({"text": 1, "audio": 3}, encoders={"text": spec})
    resolved = model.get_config()["encoders"]["text"]
    assert resolved["preset"] is None and resolved["vocabulary"] == VOCAB
    assert resolved["tokenizer"] == "BertTokenizer"
    assert resolved["tokenizer_config"]["lowercase"] is True
    assert resolved["sequence_length"] == 6
    weights = model.get_layer("text_encoder").get_weights()
    for got, want in zip(weights, backbone.get_weights()):
        np.testing.assert_allclose(got, want)
    # Rebuilt from the resolved spec (as a `.keras` file is): no preset needed.
    clone = GMUClassifier.from_config(model.get_config())
    assert clone.get_config()["encoders"] == model.get_config()["encoders"]


@pytest.mark.parametrize(
    "spec, match",
    [
        (_bert_spec(tokenizer=True), "needs `vocabulary`"),
        (_bert_spec(vocabulary=VOCAB + ["a"]), "must be unique"),
        (_bert_spec(vocabulary=VOCAB[1:]), "Cannot build keras-hub BertTokenizer"),
        (_bert_spec(vocabulary=VOCAB, sequence_length=20), "max_sequence_length"),
        (_bert_spec(sequence_length=8), "without a tokenizer"),
        (_bert_spec(vocabulary=VOCAB, tokenizer="BytePairTokenizer"), "WordPiece"),
        (_bert_spec(vocabulary="/no/such/vocab.txt"), "vocabulary file not found"),
        (_bert_spec(tokenizer=False, vocabulary=VOCAB), "tokenizer: false"),
        (
            _bert_spec(config={**TINY_BERT, "vocabulary_size": 5}, vocabulary=VOCAB),
            "vocabulary_size=5",
        ),
    ],
)
def test_bad_tokenizer_specs(spec, match):
    with pytest.raises(ConfigError, match=match):
        GMUClassifier({"text": 1, "audio": 3}, encoders={"text": spec})


def test_docstring_examples():
    import doctest

    from mmzoo.models import pretrained

    result = doctest.testmod(pretrained, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
