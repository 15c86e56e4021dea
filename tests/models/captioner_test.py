import base64
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.data.base import MultimodalData
from mmzoo.errors import ConfigError
from mmzoo.export import load_keras_model
from mmzoo.models.captioner import Captioner, CaptionTokenizer, masked_caption_loss
from mmzoo.models.captioner.encoder import resolve_weights
from mmzoo.models.captioner.training import cached_feature_dataset
from mmzoo.testing.serving import assert_captioner_serves

WORDS = ["a", "dog", "cat", "on", "the", "grass", "startseq", "endseq", "red"]
SIZE = 16  # small_cnn: a 2x2 grid of positions


def _tiny(**kwargs):
    args = dict(
        vocabulary=WORDS,
        image_size=SIZE,
        encoder="small_cnn",
        embedding_dim=8,
        attention_dim=8,
        max_length=7,
    )
    args.update(kwargs)
    model = Captioner(**args)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def _images(n=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3), "uint8")


def _data(n_images=3, per_image=2):
    images = np.repeat(_images(n_images), per_image, axis=0)
    caps = ["A dog on the grass.", "the red cat", "a cat on a dog"]
    captions = np.asarray([caps[i % 3] for i in range(len(images))], dtype=object)
    return MultimodalData(
        {"image": images, "caption": captions}, captions, 0, "captioning"
    )


def test_tokenizer_adds_start_end_and_round_trips():
    tok = CaptionTokenizer(WORDS, max_length=6)
    ids = tok(tf.constant(["A dog, on THE grass!", "zebra"])).numpy()
    assert ids.shape == (2, 7)
    words = ["", "[UNK]"] + WORDS
    assert [words[i] for i in ids[0]] == [
        "startseq",
        "a",
        "dog",
        "on",
        "the",
        "grass",
        "endseq",
    ]
    assert [words[i] for i in ids[1][:3]] == ["startseq", "[UNK]", "endseq"]
    assert list(tok.detokenize(ids[:, 1:]).numpy()) == [b"a dog on the grass", b"[UNK]"]
    again = CaptionTokenizer.from_config(tok.get_config())
    np.testing.assert_array_equal(
        again(tf.constant(["a red dog"])), tok(tf.constant(["a red dog"]))
    )
    with pytest.raises(ValueError, match="startseq"):
        CaptionTokenizer(["a", "endseq"])


def test_masked_loss_matches_hand_computation():
    targets = np.array([[2, 3, 0], [4, 0, 0]])
    logits = np.random.default_rng(0).normal(size=(2, 3, 5)).astype("float32")
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    # 3 real tokens: (0,0), (0,1), (1,0); padding ignored, mean over 3 not 6.
    expected = -(logp[0, 0, 2] + logp[0, 1, 3] + logp[1, 0, 4]) / 3
    got = masked_caption_loss(targets, logits)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)
    compiled = tf.function(masked_caption_loss, jit_compile=True)
    np.testing.assert_allclose(float(compiled(targets, logits)), expected, rtol=1e-5)


def _reference_greedy(model, images, max_length):
    """Token by token in eager Python: the seed notebook's loop."""
    feats = model.decoder.project_features(model.encode(images))
    out = []
    for i in range(len(images)):
        state = model.decoder.initial_state(1)
        token, seq = model.tokenizer.start_id, []
        for _ in range(max_length):
            logits, state, _ = model.decoder.step(
                feats[i : i + 1], tf.constant([token]), state
            )
            token = int(np.argmax(logits.numpy()[0]))
            seq.append(token)
            if token == model.tokenizer.end_id:
                break
        out.append(seq + [0] * (max_length - len(seq)))
    return np.array(out)


def test_greedy_matches_python_loop_and_beam_1_and_top_1():
    model = _tiny()
    images = _images(5)
    greedy = model.caption_function("greedy", 7)(tf.constant(images, "float32"))
    np.testing.assert_array_equal(greedy["tokens"], _reference_greedy(model, images, 7))
    beam = model.caption_function("beam", 7, beam_width=1)(
        tf.constant(images, "float32")
    )
    np.testing.assert_array_equal(beam["tokens"], greedy["tokens"])
    top1 = model.caption_function("top_k", 7, k=1)(tf.constant(images, "float32"))
    np.testing.assert_array_equal(top1["tokens"], greedy["tokens"])
    assert model.caption(images) == [c.decode() for c in greedy["captions"].numpy()]


@pytest.mark.parametrize("method", ["greedy", "beam", "top_k"])
def test_sequences_stop_at_end_token(method):
    model = _tiny()
    end = model.tokenizer.end_id
    bias = model.decoder.logits.bias
    dog = model.tokenizer.words.index("dog")
    model.decoder.logits.kernel.assign(np.zeros(model.decoder.logits.kernel.shape))
    emb = np.zeros(model.decoder.embedding.embeddings.shape, "float32")
    model.decoder.embedding.embeddings.assign(emb)
    values = np.full(bias.shape, -20.0, "float32")
    values[dog] = 5.0
    values[end] = 6.0  # the end token wins at once, for every sequence
    bias.assign(values)
    out = model.caption_function(method, 6, k=1, beam_width=2)(
        tf.constant(_images(3), "float32")
    )
    tokens = out["tokens"].numpy()
    assert (tokens[:, 0] == end).all() and (tokens[:, 1:] == 0).all()
    assert list(out["captions"].numpy()) == [b"", b"", b""]
    assert (out["attention"].numpy()[:, 1:] == 0).all()


def test_fit_encodes_each_image_once_and_trains_decoder_only():
    model = _tiny()
    data = _data()
    ds = tf.data.Dataset.from_tensor_slices((data.features, data.labels)).batch(4)
    before = [w.numpy().copy() for w in model.image_encoder.weights]
    history = model.fit(ds, validation_data=ds, epochs=3, verbose=0)
    assert model.feature_cache.encoded == 3  # 3 distinct images, 6 pairs, 3 epochs
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]
    for b, w in zip(before, model.image_encoder.weights):
        np.testing.assert_array_equal(b, w.numpy())
    x, _ = next(iter(cached_feature_dataset(model, ds)))
    assert x["image_features"].shape == (4, 4, 64)


def test_fine_tune_encoder_trains_encoder():
    model = _tiny(fine_tune_encoder=True)
    data = _data()
    ds = tf.data.Dataset.from_tensor_slices((data.features, data.labels)).batch(6)
    before = model.image_encoder.weights[0].numpy().copy()
    model.fit(ds, epochs=1, verbose=0)
    assert model.feature_cache.encoded == 0
    assert not np.array_equal(before, model.image_encoder.weights[0].numpy())


def test_keras_round_trip_and_evaluation_report(tmp_path):
    model = _tiny()
    path = tmp_path / "c.keras"
    model.save(path)
    again = load_keras_model(path)
    images = _images(3)
    assert again.caption(images, method="beam") == model.caption(images, method="beam")
    report = model.evaluation_report(_data())
    json.dumps(report)
    assert report["num_images"] == 3 and report["num_references"] == 6
    assert all(0.0 <= report[f"bleu_{n}"] <= 1.0 for n in range(1, 5))
    assert report["cider"] >= 0.0


def test_serving_rest_payload_equals_caption(tmp_path):
    model = _tiny()
    raw = np.random.default_rng(1).integers(0, 256, (3, 23, 31, 3), "uint8")
    encoded = [tf.io.encode_png(im).numpy() for im in raw[:2]]
    encoded.append(tf.io.encode_jpeg(raw[2]).numpy())
    payload = json.dumps(
        {"instances": [{"b64": base64.b64encode(b).decode()} for b in encoded]}
    )
    path = model.export_for_serving(tmp_path / "captioner")
    loaded = tf.saved_model.load(str(path))
    # What TF Serving's REST front end does with {"b64": ...}: base64 -> bytes.
    instances = [base64.b64decode(i["b64"]) for i in json.loads(payload)["instances"]]
    assert instances == encoded
    assert_captioner_serves(model, loaded, instances)


def test_bad_arguments_raise_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="not in the Keras cache"):
        resolve_weights("inception_resnet_v2", "imagenet")
    with pytest.raises(ConfigError, match="not found"):
        resolve_weights("inception_resnet_v2", str(tmp_path / "nope.h5"))
    assert resolve_weights("inception_resnet_v2", None) is None
    with pytest.raises(ConfigError, match="vocabulary"):
        Captioner(vocabulary=None)
    with pytest.raises(ConfigError, match="encoder"):
        _tiny(encoder="resnet")
    with pytest.raises(ValueError, match="method"):
        _tiny().caption(_images(1), method="nucleus")


@pytest.fixture
def agg_backend():
    import matplotlib

    matplotlib.use("Agg")  # headless; the library never picks a backend
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_attention_plot_has_one_panel_per_word(agg_backend):
    from mmzoo.viz.captioner import plot_caption_attention

    model = _tiny()
    data = _data()
    ds = tf.data.Dataset.from_tensor_slices((data.features, data.labels)).batch(6)
    model.fit(ds, epochs=10, verbose=0)
    images = _images(3)
    captions, attention, words = model.caption(images, return_attention=True)
    side = 2  # small_cnn on 16x16 images: a 2x2 grid
    assert attention.shape == (3, model.max_length, side * side)
    for caption, att, w in zip(captions, attention, words):
        assert w and w == caption.split()
        # Each generated word attends with weights summing to 1 over the grid.
        np.testing.assert_allclose(att[: len(w)].sum(-1), 1.0, rtol=1e-5)
        fig = plot_caption_attention(images[0], w, att, title=caption)
        panels = [ax for ax in fig.axes if ax.images]
        assert [ax.get_title() for ax in panels] == w
        for i, ax in enumerate(panels):
            photo, overlay = ax.images
            assert photo.get_array().shape == (SIZE, SIZE, 3)
            grid = np.asarray(overlay.get_array())
            assert grid.shape == (side, side)
            np.testing.assert_allclose(grid, att[i].reshape(side, side), rtol=1e-6)
    with pytest.raises(ValueError, match="square grid"):
        plot_caption_attention(images[0], ["a"], np.ones((1, 3)) / 3)


def test_inception_resnet_v2_captioner_trains_frozen_and_round_trips(tmp_path):
    # The encoder, at 139 px (a 3x3 grid; 75 px, the smallest it
    # takes, leaves one position to attend over). Random weights: no download.
    size = 139
    model = _tiny(encoder="inception_resnet_v2", image_size=size)
    assert model.image_encoder.count_params() > 50_000_000
    assert not model.image_encoder.trainable_weights  # frozen by default
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, size, size, 3), "uint8")
    captions = np.asarray(["a dog on the grass", "the red cat"], dtype=object)
    data = MultimodalData(
        {"image": images, "caption": captions}, captions, 0, "captioning"
    )
    ds = tf.data.Dataset.from_tensor_slices((data.features, data.labels)).batch(2)
    before = model.image_encoder.weights[0].numpy().copy()
    history = model.fit(ds, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.feature_cache.encoded == 2  # each image encoded once
    np.testing.assert_array_equal(before, model.image_encoder.weights[0].numpy())
    x, _ = next(iter(cached_feature_dataset(model, ds)))
    assert x["image_features"].shape == (2, 9, 1536)
    path = tmp_path / "irv2.keras"
    model.save(path)
    again = load_keras_model(path)
    assert again.caption(images) == model.caption(images)
    assert all(isinstance(c, str) for c in model.caption(images, method="beam"))


def test_every_layer_is_built_at_construction_and_reload(tmp_path):
    # Keras' distributed `fit` builds unbuilt layers from a data batch, which
    # for the frozen-encoder fit holds `image_features`, not `image`.
    model = _tiny()
    unbuilt = [layer.name for layer in model._flatten_layers() if not layer.built]
    assert unbuilt == []
    model.save(tmp_path / "c.keras")
    again = load_keras_model(tmp_path / "c.keras")
    assert [layer.name for layer in again._flatten_layers() if not layer.built] == []
