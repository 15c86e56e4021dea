"""Bad requests to exported serving signatures: a clear error, bounded memory, and
the process keeps answering good requests (issue 9, serving)."""

import json
import os
import struct
import subprocess
import sys
import time
import zlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmzoo
from mmzoo.data.coco import decode_image, load_coco_captions
from mmzoo.errors import DataError
from mmzoo.export import export_saved_model, load_predictor
from mmzoo.models.captioner import Captioner

WORDS = ["a", "dog", "cat", "on", "the", "grass", "startseq", "endseq", "red"]
SIZE = 16  # small_cnn: a 2x2 grid of positions


def _rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


# --- a classifier: gmu ------------------------------------------------------


@pytest.fixture(scope="module")
def gmu(tmp_path_factory):
    model = mmzoo.build("gmu")
    path = export_saved_model(model, tmp_path_factory.mktemp("sm") / "gmu")
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    return model, path, signature


def _x(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "textual": rng.normal(size=(n, 1)).astype("float32"),
        "visual": rng.normal(size=(n, 1)).astype("float32"),
    }


def _still_answers(model, call):
    x = _x(5, seed=7)
    got = np.asarray(call(x)["probabilities"])
    want = np.asarray(model(x, training=False)["probabilities"])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


GOOD = _x()
SIGNATURE_CASES = {
    # case: (request, error type, key words in the message)
    "missing modality": (
        {"visual": GOOD["visual"]},
        TypeError,
        ["missing a required argument", "textual"],
    ),
    "unknown input": (
        {**GOOD, "audio": GOOD["visual"]},
        TypeError,
        ["unexpected keyword argument", "audio"],
    ),
    "wrong width": (
        {**GOOD, "visual": np.ones((3, 2), "float32")},
        TypeError,
        ["Can not cast", "shape=(3, 2)", "shape=(None, 1)", "visual"],
    ),
    "wrong dtype": (
        {**GOOD, "visual": tf.constant([["a"]] * 3)},
        TypeError,
        ["Can not cast", "tf.string", "tf.float32", "visual"],
    ),
    "empty batch": (
        {k: v[:0] for k, v in GOOD.items()},
        tf.errors.InvalidArgumentError,
        ["is an empty batch (0 examples)", "Input `"],
    ),
}


@pytest.mark.parametrize("case", sorted(SIGNATURE_CASES))
def test_signature_refuses_bad_request_and_survives(gmu, case):
    model, _, signature = gmu
    request, error, words = SIGNATURE_CASES[case]
    with pytest.raises(error) as info:
        signature(**request)
    for word in words:
        assert word in str(info.value), (word, str(info.value)[:500])
    _still_answers(model, lambda x: signature(**x))


PREDICTOR_CASES = {
    "missing modality": (
        {"visual": GOOD["visual"]},
        ["Missing input 'textual'", "received visual", "takes textual, visual"],
    ),
    "unknown input": (
        {**GOOD, "audio": GOOD["visual"]},
        ["Unknown input 'audio'", "takes textual, visual"],
    ),
    "wrong width": (
        {**GOOD, "visual": np.ones((3, 2), "float32")},
        ["Input 'visual' has shape (3, 2)", "expected float32", "(batch, 1)"],
    ),
    "wrong dtype": (
        {**GOOD, "visual": np.array([["a"]] * 3)},
        ["Input 'visual' has dtype <U1", "expected float32", "(batch, 1)"],
    ),
    "empty batch": (
        {k: v[:0] for k, v in GOOD.items()},
        ["is an empty batch (shape (0, 1))", "at least one example"],
    ),
    "different batch sizes": (
        {**GOOD, "visual": GOOD["visual"][:2]},
        ["different batch sizes", "visual=2"],
    ),
}


@pytest.mark.parametrize("fmt", ["savedmodel", "keras"])
def test_predictor_refuses_bad_inputs_in_one_line(gmu, fmt, tmp_path):
    model, path, _ = gmu
    if fmt == "keras":
        path = tmp_path / "gmu.keras"
        model.save(path)
    predictor = load_predictor(path)
    for case, (request, words) in PREDICTOR_CASES.items():
        with pytest.raises(DataError) as info:
            predictor(request)
        message = str(info.value)
        assert "\n" not in message, (case, message)
        for word in words:
            assert word in message, (case, word, message)
    _still_answers(model, predictor)


# --- the captioner: image bytes ---------------------------------------------


@pytest.fixture(scope="module")
def captioner(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = Captioner(
        vocabulary=WORDS,
        image_size=SIZE,
        encoder="small_cnn",
        embedding_dim=8,
        attention_dim=8,
        max_length=5,
    )
    path = model.export_for_serving(tmp_path_factory.mktemp("sm") / "captioner")
    loaded = tf.saved_model.load(str(path))
    return model, path, loaded.signatures["serving_default"], loaded


def _images(n=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 20, 24, 3), "uint8")


def _good_bytes():
    raw = _images()
    return [tf.io.encode_png(raw[0]).numpy(), tf.io.encode_jpeg(raw[1]).numpy()]


def png_bomb(width=50000, height=50000):
    """A 33-byte PNG: signature and an IHDR chunk (with its CRC) declaring
    `width` x `height` RGB pixels, and no pixel data."""
    chunk = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


def jpeg_bomb(width=50000, height=50000):
    """A small real JPEG whose SOF0 header is edited to declare the size."""
    data = tf.io.encode_jpeg(_images(1)[0]).numpy()
    sof = data.index(b"\xff\xc0")  # marker, length (2), precision (1), H, W
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def test_bombs_declare_what_we_think():
    assert tf.image.extract_jpeg_shape(jpeg_bomb()).numpy().tolist() == [
        50000,
        50000,
        3,
    ]
    assert len(png_bomb()) == 33


BOMB = ["declares 50000 x 50000 pixels", "the limit is 16777216 pixels"]
CAPTIONER_CASES = {
    "not an image": (
        [b"hello, world"],
        ["Input `image_bytes` is not a JPEG or PNG image", "received 12 bytes"],
    ),
    "empty bytes": ([b""], ["not a JPEG or PNG image", "received 0 bytes"]),
    "truncated PNG header": (
        [b"\x89PNG\r\n\x1a\n\0\0"],
        ["Input `image_bytes` is a truncated PNG", "received 10 bytes"],
    ),
    "PNG bomb": ([png_bomb()], BOMB),
    "JPEG bomb": ([jpeg_bomb()], BOMB),
    "bomb among good images": ([*_good_bytes(), png_bomb()], BOMB),
    "empty batch": (
        tf.zeros([0], tf.string),
        ["Input `image_bytes` is an empty batch (0 examples)"],
    ),
}


def _captions(signature, encoded):
    out = signature(image_bytes=tf.constant(encoded))
    return [c.decode() for c in out["captions"].numpy()]


def test_captioner_refuses_bad_bytes_quickly_with_bounded_memory(captioner):
    model, _, signature, _ = captioner
    good = _good_bytes()
    expected = _captions(signature, good)  # also warms up the signature
    assert expected == model.caption(
        np.stack([decode_image(b, SIZE).numpy() for b in good])
    )
    before = _rss_mib()
    for case, (request, words) in CAPTIONER_CASES.items():
        start = time.perf_counter()
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            signature(image_bytes=tf.constant(request))
        seconds = time.perf_counter() - start
        message = str(info.value)
        for word in words:
            assert word in message, (case, word, message[:500])
        assert seconds < 2.0, (case, seconds)
        # 50000 x 50000 RGB would be 7 GiB: nothing of that size was allocated.
        assert _rss_mib() - before < 200, (case, _rss_mib() - before)
        assert _captions(signature, good) == expected, case  # still answers


def test_caption_from_features_refuses_empty_batch(captioner):
    fn = captioner[3].signatures["caption_from_features"]
    _, specs = fn.structured_input_signature
    shape = specs["image_features"].shape
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty batch"):
        fn(image_features=tf.zeros([0, *shape[1:]]))
    out = fn(image_features=tf.zeros([2, *shape[1:]]))
    assert out["captions"].shape == (2,)


@pytest.mark.parametrize(
    "content, words",
    [
        (png_bomb(), ["declares 50000 x 50000 pixels", "decompression bomb"]),
        (jpeg_bomb(), ["declares 50000 x 50000 pixels", "decompression bomb"]),
        (b"GIF89a not allowed", ["is not a JPEG or PNG image", "received 18 bytes"]),
    ],
)
def test_training_loader_refuses_bad_images_in_one_line(tmp_path, content, words):
    root = tmp_path / "coco_captions_mini"
    (root / "annotations").mkdir(parents=True)
    (root / "train2017").mkdir()
    (root / "train2017" / "0.jpg").write_bytes(content)
    (root / "annotations" / "captions_train2017.json").write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "0.jpg"}],
                "annotations": [{"image_id": 1, "caption": "a dog"}],
            }
        )
    )
    with pytest.raises(DataError) as info:
        load_coco_captions("train", tmp_path, image_size=SIZE)
    message = str(info.value)
    assert "\n" not in message and "assertion failed" not in message, message
    assert message.startswith(f"Cannot decode image {root / 'train2017' / '0.jpg'}: ")
    for word in words:
        assert word in message, (word, message)


def test_predict_cli_answers_not_an_image_in_one_line(captioner, tmp_path):
    path = captioner[1]
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"instances": [{"image_bytes": "not an image"}]}))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmzoo.cli",
            "predict",
            "captioner",
            "--model",
            str(path),
            "--input",
            str(request),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=120,
    )
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert lines == [
        "mmzoo: error: The model refused the request: Input `image_bytes` is not "
        "a JPEG or PNG image: received 12 bytes that start with neither the JPEG "
        "(FF D8 FF) nor the PNG (89 50 4E 47) signature"
    ], proc.stderr[-2000:]
