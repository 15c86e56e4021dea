"""COCO captions (`<data-dir>/coco_captions_mini`, or the full COCO 2017 layout).

Layout: `train2017/*.jpg`, `val2017/*.jpg` and the official caption JSON files
`annotations/captions_{train,val}2017.json`. Annotations whose image file is
missing are skipped (the mini set ships the full 5,000-image val JSON).

Splits: `train` = the train2017 images; `val` and `test` = the val2017 images
shuffled with `split_seed` and cut in two (`val_fraction` to val); `all` =
every image. One example per (image, caption) pair: features `image` (uint8,
(n, image_size, image_size, 3)) and `caption` (str); the labels are the
captions too (task `captioning`).

Reference: Chen et al., "Microsoft COCO Captions", arXiv:1504.00325 (2015).
"""

import contextlib
import functools
import json
import os
import sys
import tempfile

import numpy as np

from mmzoo.data.base import MultimodalData, register_source
from mmzoo.errors import DataError

FOLDER = "coco_captions_mini"
TASK = "captioning"
DEFAULT_IMAGE_SIZE = 139


# A decompression bomb is a small file whose header declares a huge image; the
# header is checked before decoding, so nothing that size is ever allocated.
MAX_IMAGE_PIXELS = 4096 * 4096
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def image_header_size(encoded, max_pixels=MAX_IMAGE_PIXELS, what="image"):
    """Check an encoded image's header in the graph; return its (height, width).

    Raises `tf.errors.InvalidArgumentError` (at run time, in the graph, so TF
    Serving answers it too) when `encoded` is neither JPEG nor PNG (magic
    bytes), when a PNG header is truncated, or when the size it declares
    exceeds `max_pixels`. Only the header is read: `tf.image.extract_jpeg_shape`
    for JPEG, the IHDR width and height (big-endian) for PNG.
    """
    import tensorflow as tf

    length = tf.strings.length(encoded)
    is_jpeg = tf.equal(tf.strings.substr(encoded, 0, 3), JPEG_MAGIC)
    is_png = tf.equal(tf.strings.substr(encoded, 0, 8), PNG_MAGIC)
    magic = tf.debugging.Assert(
        tf.logical_or(is_jpeg, is_png),
        [
            tf.strings.format(
                what + " is not a JPEG or PNG image: received {} bytes that start "
                "with neither the JPEG (FF D8 FF) nor the PNG (89 50 4E 47) "
                "signature",
                [length],
            )
        ],
    )

    def jpeg_size():
        return tf.image.extract_jpeg_shape(encoded)[:2]

    def png_size():
        header = tf.debugging.Assert(
            tf.cond(  # substr past the end would fail, quoting the bytes
                length >= 24,
                lambda: tf.equal(tf.strings.substr(encoded, 12, 4), b"IHDR"),
                lambda: tf.constant(False),
            ),
            [
                tf.strings.format(
                    what + " is a truncated PNG: received {} bytes without an "
                    "IHDR header chunk",
                    [length],
                )
            ],
        )
        with tf.control_dependencies([header]):
            raw = tf.strings.substr(encoded, 16, 8)
        width_height = tf.io.decode_raw(raw, tf.int32, little_endian=False)
        return tf.stack([width_height[1], width_height[0]])

    with tf.control_dependencies([magic]):
        size = tf.cond(is_jpeg, jpeg_size, png_size)
    height, width = size[0], size[1]
    pixels = tf.cast(height, tf.int64) * tf.cast(width, tf.int64)
    limit = tf.debugging.Assert(
        tf.logical_and(pixels <= max_pixels, pixels > 0),
        [
            tf.strings.format(
                what + " declares {} x {} pixels (width x height), {} in all; "
                "the limit is " + f"{max_pixels} pixels" + " (a possible "
                "decompression bomb): refused without decoding",
                [width, height, pixels],
            )
        ],
    )
    with tf.control_dependencies([limit]):
        return tf.identity(height), tf.identity(width)


def decode_image(encoded, size, max_pixels=MAX_IMAGE_PIXELS, what="image"):
    """Encoded JPEG/PNG bytes -> uint8 (size, size, 3), bilinear resize (TF ops,
    shared by the loader and the exported serving signature).

    The header is checked first (`image_header_size`): bytes that are not a
    JPEG or PNG, and images declaring more than `max_pixels`, raise
    `tf.errors.InvalidArgumentError` before any pixel is decoded.
    """
    import tensorflow as tf

    height, width = image_header_size(encoded, max_pixels, what)
    with tf.control_dependencies([height, width]):
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image = tf.image.resize(image, [size, size], method="bilinear", antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def check_jpeg_complete(data, path):
    """Refuse a JPEG file cut short (no end-of-image marker FF D9 at its end).

    Checked in Python before decoding: libjpeg would print "Improper call to
    JPEG library" on stderr (C level) besides TF's error.
    """
    if data[:3] == JPEG_MAGIC and b"\xff\xd9" not in data[-1024:]:
        raise DataError(
            f"Cannot decode image {path}: truncated JPEG ({len(data)} bytes, no "
            "end-of-image marker FF D9)"
        )


@contextlib.contextmanager
def _stderr_captured():
    """Hold what C libraries write on fd 2; replay it unless decoding failed."""
    sys.stderr.flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if not failed:
                tmp.seek(0)
                noise = tmp.read()
                if noise:
                    os.write(2, noise)


@functools.lru_cache(maxsize=None)
def _decoder(image_size):
    import tensorflow as tf

    return tf.function(
        lambda encoded: decode_image(encoded, image_size),
        input_signature=[tf.TensorSpec([], tf.string)],
    )


def _decode_file(path, image_size):
    import tensorflow as tf

    from mmzoo.export.saved_model import op_error_line

    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"Cannot read image {path}: {e}")
    check_jpeg_complete(data, path)
    try:
        with _stderr_captured():
            return _decoder(image_size)(tf.constant(data)).numpy()
    except tf.errors.OpError as e:
        raise DataError(f"Cannot decode image {path}: {op_error_line(e)}")


def read_annotations(path, image_dir):
    """{file name: [captions]} of the images of `path` present in `image_dir`."""
    if not path.is_file():
        raise DataError(f"Missing caption annotations: {path}")
    try:
        raw = json.loads(path.read_text())
        files = {im["id"]: im["file_name"] for im in raw["images"]}
        present = {f for f in files.values() if (image_dir / f).is_file()}
        captions = {}
        for ann in raw["annotations"]:
            name = files.get(ann["image_id"])
            if name in present:
                captions.setdefault(name, []).append(str(ann["caption"]).strip())
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(f"Corrupt COCO caption file {path}: {e}")
    return dict(sorted(captions.items()))


def _split_files(root, split, split_seed, val_fraction):
    parts = []
    if split in ("train", "all"):
        parts.append(
            (
                "train2017",
                list(
                    read_annotations(
                        root / "annotations" / "captions_train2017.json",
                        root / "train2017",
                    ).items()
                ),
            )
        )
    if split in ("val", "test", "all"):
        items = list(
            read_annotations(
                root / "annotations" / "captions_val2017.json", root / "val2017"
            ).items()
        )
        order = np.random.default_rng(split_seed).permutation(len(items))
        cut = int(round(val_fraction * len(items)))
        if split == "val":
            order = order[:cut]
        elif split == "test":
            order = order[cut:]
        parts.append(("val2017", [items[i] for i in sorted(order)]))
    return [
        (root / folder / name, caps) for folder, items in parts for name, caps in items
    ]


def check_image_size(image_size):
    if not isinstance(image_size, int) or image_size < 8:
        raise DataError(
            f"`image_size` must be an integer >= 8. Received {image_size!r}"
        )


@register_source("coco_mini")
def load_coco_captions(
    split,
    data_dir,
    seed=0,
    image_size=DEFAULT_IMAGE_SIZE,
    folder=FOLDER,
    max_images=None,
    split_seed=0,
    val_fraction=0.5,
):
    """Load `split` of COCO captions as `MultimodalData` (see the module doc).

    Options: `image_size` (pixels of the square resize), `folder` (under the
    data dir), `max_images` (first n images of the split, for quick runs),
    `split_seed` and `val_fraction` (the val/test cut of val2017).
    """
    root = data_dir / folder
    if not root.is_dir():
        raise DataError(f"COCO caption folder not found: {root}")
    check_image_size(image_size)
    files = _split_files(root, split, split_seed, val_fraction)
    if max_images is not None:
        files = files[: int(max_images)]
    pairs = ((_decode_file(path, image_size), caps) for path, caps in files)
    data = captioning_data(pairs)
    if data is None:
        raise DataError(f"coco_mini/{split}: no image with captions under {root}")
    return data


def captioning_data(pairs):
    """`MultimodalData` of one (image, caption) row per caption, from
    `(image, captions)` pairs; None when there is no caption."""
    images, captions = [], []
    for image, caps in pairs:
        for caption in caps:
            images.append(image)
            captions.append(caption)
    if not images:
        return None
    captions = np.asarray(captions, dtype=object)
    return MultimodalData(
        features={"image": np.stack(images), "caption": captions},
        labels=captions,
        num_classes=0,
        task=TASK,
    )
