"""COCO captions from TensorFlow Datasets' own `coco_captions` (already prepared).

For users who have prepared TFDS's `coco_captions` (COCO 2014 images with the
Karpathy & Li 2015 splits) under a TFDS data directory. Nothing is downloaded:
when the dataset is not prepared there, a `DataError` names the directory
looked in and the command that prepares it on a connected machine.

Splits (Karpathy & Li): `train` = TFDS `train` (the 82,783 COCO 2014 train
images; `restval`, the ~30k val2014 images outside Karpathy's val and test, is
NOT included); `val` = TFDS `val` (5,000 images); `test` = TFDS `test` (5,000
images); `all` = `train`, `val`, `test` and `restval`, in that order.

The records are the same `MultimodalData` layout as `coco_mini`
(`mmzoo.data.coco`), so the captioner trains on either unchanged: one example
per (image, caption) pair, features `image` (uint8, (n, image_size,
image_size, 3), resized by `coco.decode_image` from the stored JPEG bytes, the
same header checks and bilinear antialiased resize as `coco_mini`) and
`caption` (str, stripped); the labels are the captions too (task
`captioning`, `num_classes` 0). Images are kept in the order TFDS reads the
split with `shuffle_files=False`. Every row holds its own copy of its image:
the full train split at image_size 139 needs about 5 x 82,783 x 58 KB = 24 GB
of memory; `max_images` caps it for quick runs.

Preparing (on a machine with network access): `tfds build coco_captions/2014
--data_dir DIR` (or `tfds.builder("coco_captions", data_dir=DIR)
.download_and_prepare()`), then copy `DIR/coco_captions` over. With
tensorflow-datasets 4.9.10 on Python >= 3.9 that step may stop at "No module
named 'importlib_resources'": `pip install importlib_resources` first.

Reference: Chen et al., "Microsoft COCO Captions", arXiv:1504.00325 (2015);
Karpathy & Fei-Fei, "Deep visual-semantic alignments for generating image
descriptions", CVPR 2015.
"""

import os
import time

import numpy as np

from mmzoo.data import coco
from mmzoo.data.base import MultimodalData, register_source
from mmzoo.errors import DataError

TFDS_NAME = "coco_captions"
TASK = coco.TASK
# The zoo's split -> the TFDS splits read for it, in order.
SPLIT_MAP = {
    "train": ("train",),
    "val": ("val",),
    "test": ("test",),
    "all": ("train", "val", "test", "restval"),
}


def resolve_tfds_data_dir(tfds_data_dir=None):
    """`tfds_data_dir`, else `$TFDS_DATA_DIR` (read now), else None (TFDS's
    default, `~/tensorflow_datasets`)."""
    if tfds_data_dir:
        return os.path.expanduser(str(tfds_data_dir))  # keeps gs://...
    return os.environ.get("TFDS_DATA_DIR") or None


def prepare_command(config, data_dir):
    """The command that prepares the dataset (on a machine with network)."""
    return f"tfds build {TFDS_NAME}/{config} --data_dir {data_dir}"


def _builder(tfds_data_dir, config):
    import tensorflow_datasets as tfds

    configs = [c.name for c in tfds.builder_cls(TFDS_NAME).BUILDER_CONFIGS]
    if config is not None and config not in configs:
        raise DataError(
            f"Unknown config {config!r} of the TFDS dataset {TFDS_NAME!r}. "
            f"Available configs: {', '.join(configs)}."
        )
    try:
        builder = tfds.builder(TFDS_NAME, data_dir=tfds_data_dir, config=config)
    except Exception as e:  # tfds raises plain ValueError, OSError, ...
        raise DataError(f"Cannot open the TFDS dataset {TFDS_NAME!r}: {e}")
    if not builder.is_prepared():
        root = builder.data_path.parent.parent.parent
        raise DataError(
            f"The TFDS dataset {TFDS_NAME!r} (config "
            f"{builder.builder_config.name}, version {builder.version}) is not "
            f"prepared under {root} (looked for {builder.data_path}); it is never "
            "downloaded here. Prepare it on a machine with network access (COCO "
            "2014 images and the Karpathy splits, tens of GB): `"
            f"{prepare_command(builder.builder_config.name, root)}`, then copy "
            f"{root / TFDS_NAME} to this machine, or point the `tfds_data_dir` "
            "option (or $TFDS_DATA_DIR) at a directory that holds it."
        )
    return builder


def _decode_bytes(data, where, image_size):
    """JPEG/PNG bytes -> uint8 (image_size, image_size, 3), as `coco_mini`."""
    import tensorflow as tf

    from mmzoo.export.saved_model import op_error_line

    coco.check_jpeg_complete(data, where)
    try:
        with coco._stderr_captured():
            return coco._decoder(image_size)(tf.constant(data)).numpy()
    except tf.errors.OpError as e:
        raise DataError(f"Cannot decode image {where}: {op_error_line(e)}")


def _read_split(builder, tfds_splits, image_size, max_images, what):
    """(unique images (m, s, s, 3), row -> image index, captions) of the splits."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from mmzoo.export.saved_model import op_error_line

    decoders = tfds.decode.PartialDecoding(
        {"image": True, "image/filename": True, "captions": {"text": True}},
        decoders={"image": tfds.decode.SkipDecoding()},
    )
    ds = builder.as_dataset(
        split="+".join(tfds_splits), shuffle_files=False, decoders=decoders
    )
    if max_images is not None:
        ds = ds.take(max_images)
    images, index, captions = [], [], []
    try:
        for example in ds.as_numpy_iterator():
            name = example["image/filename"].decode("utf-8", "replace")
            texts = [t.decode("utf-8").strip() for t in example["captions"]["text"]]
            if not texts:
                continue
            where = f"{name} ({what}, {builder.data_path})"
            images.append(_decode_bytes(example["image"], where, image_size))
            index.extend([len(images) - 1] * len(texts))
            captions.extend(texts)
    except tf.errors.OpError as e:
        raise DataError(
            f"{what}: cannot read the prepared records under {builder.data_path}: "
            f"{op_error_line(e)}"
        )
    return images, np.asarray(index, dtype=np.int64), captions


@register_source("coco_captions")
def load_tfds_coco_captions(
    split,
    data_dir,
    seed=0,
    image_size=139,
    tfds_data_dir=None,
    config=None,
    max_images=None,
):
    """Load `split` of TFDS's prepared `coco_captions` (see the module doc).

    Options: `image_size` (pixels of the square resize, as `coco_mini`),
    `tfds_data_dir` (the TFDS data directory; default `$TFDS_DATA_DIR`, else
    TFDS's default `~/tensorflow_datasets`), `config` (the builder config; default
    the builder's default, `2014`), `max_images` (first n images of the split,
    for quick runs). The zoo data dir (`data_dir`) and `seed` are not used.
    """
    del data_dir, seed  # the records live in the TFDS data dir; no sampling
    coco.check_image_size(image_size)
    if max_images is not None and (
        isinstance(max_images, bool)
        or not isinstance(max_images, int)
        or max_images < 1
    ):
        raise DataError(
            f"`max_images` must be a positive integer or null. Received {max_images!r}"
        )
    what = f"coco_captions/{split}"
    start = time.perf_counter()
    builder = _builder(resolve_tfds_data_dir(tfds_data_dir), config)
    available = set(builder.info.splits)
    tfds_splits = [s for s in SPLIT_MAP[split] if s in available]
    missing = [s for s in SPLIT_MAP[split] if s not in available]
    if not tfds_splits or (split != "all" and missing):
        raise DataError(
            f"{what}: the prepared dataset under {builder.data_path} has no split "
            f"{', '.join(missing)} (it has {', '.join(sorted(available)) or 'none'})."
        )
    images, index, captions = _read_split(
        builder, tfds_splits, image_size, max_images, what
    )
    if not captions:
        raise DataError(f"{what}: no image with captions under {builder.data_path}")
    captions = np.asarray(captions, dtype=object)
    data = MultimodalData(
        features={"image": np.stack(images)[index], "caption": captions},
        labels=captions,
        num_classes=0,
        task=TASK,
    )
    data.origin = f"read {builder.data_path} ({time.perf_counter() - start:.2f} s)"
    return data
