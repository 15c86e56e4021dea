"""The captioner with pretrained image encoders: TF-Hub SavedModels and
keras-hub backbones, offline (tiny local modules, explicit tiny configs)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.cli import main
from mmzoo.data.base import MultimodalData
from mmzoo.data.coco import decode_image
from mmzoo.errors import ConfigError
from mmzoo.export import load_keras_model
from mmzoo.models.captioner import Captioner
from mmzoo.models.captioner.feature_cache import FeatureCache
from mmzoo.testing.offline_encoders import ImageFeatureVector as _ImageModule
from mmzoo.testing.offline_encoders import saved_module, tiny_resnet_config
from mmzoo.testing.serving import assert_captioner_serves

WORDS = ["a", "dog", "cat", "on", "the", "grass", "startseq", "endseq", "red"]
SIZE = 16


class _SpatialModule(tf.Module):
    """A tiny spatial map, any input size: {"feature_map": (b, h/2, w/2, 5),
    "pooled": (b, 5)}."""

    def __init__(self):
        super().__init__()
        self.kernel = tf.Variable(
            tf.random.stateless_normal([3, 3, 3, 5], seed=[5, 6]), name="kernel"
        )

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, images):
        x = tf.nn.relu(tf.nn.conv2d(images, self.kernel, 2, "SAME"))
        return {"feature_map": x, "pooled": tf.reduce_mean(x, axis=[1, 2])}


@pytest.fixture(scope="module")
def hub_modules(tmp_path_factory):
    root = tmp_path_factory.mktemp("captioner_hub")
    return (
        saved_module(_ImageModule, root / "vector"),
        saved_module(_SpatialModule, root / "spatial"),
    )


TINY_RESNET = tiny_resnet_config(SIZE)


def _captioner(encoder, **kwargs):
    model = Captioner(
        vocabulary=WORDS,
        image_size=SIZE,
        encoder=encoder,
        embedding_dim=8,
        attention_dim=8,
        max_length=7,
        **kwargs,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def _images(n=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3), "uint8")


def _dataset():
    images = np.repeat(_images(3), 2, axis=0)
    caps = ["A dog on the grass.", "the red cat", "a cat on a dog"]
    captions = np.asarray([caps[i % 3] for i in range(len(images))], dtype=object)
    data = MultimodalData(
        {"image": images, "caption": captions}, captions, 0, "captioning"
    )
    return tf.data.Dataset.from_tensor_slices((data.features, data.labels)).batch(3)


def _encoder_weights(model):
    return [w.numpy().copy() for w in model.image_encoder.weights]


def _check_round_trip_and_export(model, tmp_path, export=True):
    """Same captions after a `.keras` round trip, and from the SavedModel
    (image bytes and features)."""
    images = _images(3, seed=1)
    expected = model.caption(images)
    path = tmp_path / "captioner.keras"
    model.save(path)
    again = load_keras_model(path)
    assert again.get_config()["encoder"] == model.get_config()["encoder"]
    assert again.caption(images) == expected
    if not export:
        return again

    version = model.export_for_serving(tmp_path / "export")
    loaded = tf.saved_model.load(str(version))
    assert_captioner_serves(
        model, loaded, [tf.io.encode_png(im).numpy() for im in images]
    )
    return again


def test_hub_feature_vector_is_one_position_frozen(hub_modules, tmp_path):
    vector, _ = hub_modules
    # The module takes 8x8 images: the 16x16 pixels are scaled to [0, 1] and
    # resized to it; its (batch, 6) vector is a grid of one position.
    model = _captioner({"hub": vector})
    assert model.feature_shape == (1, 6)
    assert model.get_config()["encoder"] == {
        "hub": vector,
        "trainable": False,
        "pixel_scale": 1 / 255,
        "pixel_offset": 0.0,
    }
    assert not model.image_encoder.trainable_weights
    module = _ImageModule()  # the same seed: the saved kernel
    x = _images(2).astype("float32")
    resized = tf.image.resize(x / 255.0, (8, 8))
    np.testing.assert_allclose(
        model.encode(x)[:, 0], module(resized), rtol=1e-5, atol=1e-6
    )

    before = _encoder_weights(model)
    history = model.fit(_dataset(), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.feature_cache.encoded == 3  # frozen: each image encoded once
    for a, b in zip(before, _encoder_weights(model)):
        np.testing.assert_array_equal(a, b)
    # (The CLI test below exports such a model.)
    _check_round_trip_and_export(model, tmp_path, export=False)


def test_hub_spatial_map_is_a_grid_and_fine_tunes(hub_modules, tmp_path):
    _, spatial = hub_modules
    model = _captioner({"hub": spatial, "output_key": "feature_map", "trainable": True})
    assert model.fine_tune_encoder
    assert model.image_encoder.output.shape[-1] == 5
    assert model.encode(_images(2).astype("float32")).shape == (2, 64, 5)  # 8x8
    before = _encoder_weights(model)
    model.fit(_dataset(), epochs=1, verbose=0)
    assert model.feature_cache.encoded == 0  # end to end: no cached features
    assert not np.allclose(before[0], _encoder_weights(model)[0])
    again = _check_round_trip_and_export(model, tmp_path, export=False)
    # The fine-tuned module variables are in the .keras file.
    np.testing.assert_array_equal(
        _encoder_weights(again)[0], _encoder_weights(model)[0]
    )


def test_keras_hub_resnet_backbone_grid(tmp_path):
    model = _captioner({"keras_hub": "ResNetBackbone", "config": TINY_RESNET})
    assert model.feature_shape == (16, 64)  # stride 4: a 4x4 grid
    assert not model.image_encoder.trainable_weights  # frozen by default
    before = _encoder_weights(model)
    history = model.fit(_dataset(), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.feature_cache.encoded == 3
    for a, b in zip(before, _encoder_weights(model)):
        np.testing.assert_array_equal(a, b)
    _check_round_trip_and_export(model, tmp_path)


def test_keras_hub_efficientnet_backbone_builds():
    config = {
        "stackwise_width_coefficients": [1.0],
        "stackwise_depth_coefficients": [1.0],
        "stackwise_kernel_sizes": [3],
        "stackwise_num_repeats": [1],
        "stackwise_input_filters": [8],
        "stackwise_output_filters": [8],
        "stackwise_expansion_ratios": [1],
        "stackwise_squeeze_and_excite_ratios": [0.25],
        "stackwise_strides": [1],
        "stackwise_block_types": ["v1"],
        "stackwise_force_input_filters": [0],
        "stackwise_nores_option": [False],
        "num_features": 16,
        "input_shape": [SIZE, SIZE, 3],
    }
    model = _captioner({"keras_hub": "EfficientNetBackbone", "config": config})
    positions, channels = model.feature_shape
    assert positions >= 1 and channels >= 1
    features = model.encode(_images(2).astype("float32"))
    assert features.shape == (2, positions, channels)
    assert len(model.caption(_images(2))) == 2


def test_feature_cache_keys_name_the_encoder(hub_modules, tmp_path):
    vector, _ = hub_modules
    scaled = _captioner({"hub": vector})
    unscaled = _captioner({"hub": vector, "pixel_scale": 1.0})
    small = _captioner("small_cnn")
    identities = {m.encoder_identity for m in (scaled, unscaled, small)}
    assert len(identities) == 3
    # Same module, same weights, another pixel scaling: not the same features.
    cache = FeatureCache(tmp_path / "features")
    images = _images(2)
    for model in (scaled, unscaled):
        cache.features(model.image_encoder, images, identity=model.encoder_identity)
    assert cache.encoded == 4
    assert len(list((tmp_path / "features").iterdir())) == 2


def test_uncached_remote_handle_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    handle = "https://tfhub.dev/google/nonexistent/1"
    with pytest.raises(ConfigError, match="TFHUB_CACHE_DIR") as info:
        _captioner({"hub": handle})
    assert handle in str(info.value) and str(tmp_path) in str(info.value)


def test_uncached_keras_hub_preset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path))
    encoder = {"keras_hub": "ResNetBackbone", "preset": "resnet_18_imagenet"}
    with pytest.raises(ConfigError, match="resnet_18_imagenet") as info:
        _captioner(encoder)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize(
    "encoder, kwargs, match",
    [
        ({"hub": "x", "keras_hub": "y"}, {}, "exactly one"),
        ({"hub": "x", "frozen": True}, {}, "Unknown keys"),
        ({"hub": "x", "units": [4]}, {}, "units"),
        ({"hub": "x", "pixel_scale": "big"}, {}, "pixel_scale"),
        ({"keras_hub": "NotABackbone"}, {}, "not a keras-hub backbone"),
        ({"hub": "VECTOR"}, {"encoder_weights": "imagenet"}, "encoder_weights"),
        (["small_cnn"], {}, "encoder"),
    ],
)
def test_bad_encoder_specs(hub_modules, encoder, kwargs, match):
    if isinstance(encoder, dict) and encoder.get("hub") == "VECTOR":
        encoder = {"hub": hub_modules[0]}
    with pytest.raises(ConfigError, match=match):
        _captioner(encoder, **kwargs)


def test_cli_trains_and_exports_captioner_hub(hub_modules, tmp_path, data_dir):
    # zoo_configs/captioner_hub.yaml names a public TF-Hub handle; offline,
    # the encoder is replaced by a local module with a YAML flow mapping.
    vector, _ = hub_modules
    run = tmp_path / "run"
    sets = {
        "encoder": f"{{hub: '{vector}'}}",
        "data.image_size": SIZE,
        "data.max_images": 12,
        "train.epochs": 1,
        "train.batch_size": 16,
    }
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    train = ["train", "captioner_hub", "--data-dir", str(data_dir), "--out", str(run)]
    assert main(train + args) == 0
    export = ["export", "captioner_hub", "--model", str(run / "model.keras")]
    assert main(export + ["--out", str(tmp_path / "export")]) == 0
    model = load_keras_model(run / "model.keras")
    assert model.get_config()["encoder"]["hub"] == vector
    assert json.loads((run / "metrics.json").read_text())["num_images"] >= 1
    loaded = tf.saved_model.load(str(tmp_path / "export" / "1"))
    image = tf.io.encode_png(_images(1)[0]).numpy()
    served = loaded.signatures["serving_default"](image_bytes=tf.constant([image]))
    decoded = decode_image(image, SIZE).numpy()[None]
    assert [c.decode() for c in served["captions"].numpy()] == model.caption(decoded)
