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

import json

import numpy as np

from mmzoo.data.base import MultimodalData, register_source
from mmzoo.errors import DataError

FOLDER = "coco_captions_mini"
TASK = "captioning"


def decode_image(encoded, size):
    """Encoded JPEG/PNG bytes -> uint8 (size, size, 3), bilinear resize (TF ops,
    shared by the loader and the exported serving signature)."""
    import tensorflow as tf

    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image = tf.image.resize(image, [size, size], method="bilinear", antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


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


@register_source("coco_mini")
def load_coco_captions(
    split,
    data_dir,
    seed=0,
    image_size=139,
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
    import tensorflow as tf

    root = data_dir / folder
    if not root.is_dir():
        raise DataError(f"COCO caption folder not found: {root}")
    if not isinstance(image_size, int) or image_size < 8:
        raise DataError(
            f"`image_size` must be an integer >= 8. Received {image_size!r}"
        )
    files = _split_files(root, split, split_seed, val_fraction)
    if max_images is not None:
        files = files[: int(max_images)]
    images, captions = [], []
    for path, caps in files:
        try:
            image = decode_image(tf.io.read_file(str(path)), image_size).numpy()
        except tf.errors.OpError as e:
            raise DataError(f"Cannot decode image {path}: {e.message}")
        for caption in caps:
            images.append(image)
            captions.append(caption)
    if not images:
        raise DataError(f"coco_mini/{split}: no image with captions under {root}")
    captions = np.asarray(captions, dtype=object)
    return MultimodalData(
        features={"image": np.stack(images), "caption": captions},
        labels=captions,
        num_classes=0,
        task=TASK,
    )
