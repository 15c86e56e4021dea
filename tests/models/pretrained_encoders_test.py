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


class _ImageModule(tf.Module):
    """A tiny image feature vector: conv, ReLU, spatial mean -> (batch, 6)."""

    def __init__(self):
        super().__init__()
        self.kernel = tf.Variable(
            tf.random.stateless_normal([3, 3, 3, 6], seed=[1, 2]), name="kernel"
        )

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32)])
    def __call__(self, images):
        x = tf.nn.relu(tf.nn.conv2d(images, self.kernel, 1, "SAME"))
        return tf.reduce_mean(x, axis=[1, 2])


class _TextModule(tf.Module):
    """A tiny text embedding: split, hash to 32 buckets, mean -> (batch, 5)."""

    def __init__(self):
        super().__init__()
        self.embedding = tf.Variable(
            tf.random.stateless_normal([32, 5], seed=[3, 4]), name="embedding"
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, text):
        tokens = tf.strings.split(text)
        vectors = tf.gather(self.embedding, tf.strings.to_hash_bucket_fast(tokens, 32))
        counts = tf.cast(tokens.row_lengths(), tf.float32)[:, None]
        return tf.math.divide_no_nan(tf.reduce_sum(vectors, axis=1), counts)


@pytest.fixture(scope="module")
def hub_modules(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    tf.saved_model.save(_ImageModule(), str(root / "image"))
    tf.saved_model.save(_TextModule(), str(root / "text"))
    return str(root / "image"), str(root / "text")


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
    config = {
        "input_conv_filters": [64],
        "input_conv_kernel_sizes": [3],
        "stackwise_num_filters": [64],  # keras-hub ResNet: 64 first
        "stackwise_num_blocks": [1],
        "stackwise_num_strides": [1],
        "block_type": "basic_block",
        "use_pre_activation": False,
        "image_shape": [16, 16, 3],
    }
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
