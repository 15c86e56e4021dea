"""The image encoder: pixels (0..255) -> a grid of feature vectors.

`inception_resnet_v2` is `keras.applications.InceptionResNetV2(include_top=False)`
(1536 channels; an 8x8 grid at 299x299, 3x3 at 139, 1x1 at 75). `small_cnn` is a
three-layer CNN (stride 8) for tests and quick runs: InceptionResNetV2 takes
tens of seconds to build, save and trace on a small CPU.

A pretrained encoder is a dict spec (see `resolve_image_encoder`):

- `{"hub": HANDLE_OR_PATH, "trainable": False, "output_key": None,
  "signature": None, "input_shape": None, "pixel_scale": 1/255,
  "pixel_offset": 0.0}`: a TF2 SavedModel in the TF-Hub format
  (`mmzoo.models.pretrained.HubEncoder`). An image feature-vector module
  (batch, D) is a grid of one position; a module giving a spatial map
  (batch, h, w, C) gives h*w positions; (batch, P, C) is used as is.
- `{"keras_hub": CLASS_NAME, "preset": None, "config": {...}, "trainable":
  False, "input_shape": None, "pixel_scale": 1/255, "pixel_offset": 0.0}`:
  a keras-hub image backbone (`ResNetBackbone`, `EfficientNetBackbone`...)
  from a preset or its class and an explicit config; its output feature map
  (batch, h, w, C) is the grid. A preset's architecture replaces `preset` in
  the spec (a reloaded `.keras` file needs no download; weights are stored).

Pixel rule for pretrained encoders: pixels arrive in 0..255; the encoder
feeds the module `pixels * pixel_scale + pixel_offset` (scalars or one value
per RGB channel). The default `pixel_scale: 1/255` gives the [0, 1] floats
that TF-Hub image modules expect; for a keras-hub preset trained on
ImageNet-normalised inputs set e.g. `pixel_scale: [0.01712, 0.01751,
0.01743]`, `pixel_offset: [-2.1179, -2.0357, -1.8044]` ((x/255 - mean)/std).
When the module's (or `input_shape`'s) height and width are fixed and differ
from `image_size`, the scaled images are resized (bilinear) to them.
Pretrained encoders are frozen unless `trainable: true` (or the captioner's
`fine_tune_encoder`).
"""

import collections.abc
import hashlib
import json
import os
from pathlib import Path

import keras

from mmzoo.errors import ConfigError
from mmzoo.models.pretrained import plain_spec

ENCODERS = ("inception_resnet_v2", "small_cnn")
PRETRAINED_KINDS = ("hub", "keras_hub")
PIXEL_KEYS = ("pixel_scale", "pixel_offset")
DEFAULT_PIXEL_SCALE = 1.0 / 255.0
IMAGENET_FILE = "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "inception_resnet_v2/" + IMAGENET_FILE
)
SMALL_CNN_CHANNELS = 64


def keras_cache_dir():
    """`$KERAS_HOME/models`, else `~/.keras/models` (where Keras caches weights)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return Path(home) / "models"


def resolve_weights(encoder, weights):
    """The weights file to load (or None), with a clear error when offline.

    `"imagenet"` is looked up in the Keras cache only: nothing is downloaded.
    """
    if weights is None:
        return None
    if not isinstance(weights, str):
        raise ConfigError(
            f"`encoder_weights` must be None, 'imagenet' or a file path. "
            f"Received encoder_weights={weights!r}"
        )
    if weights == "imagenet":
        if encoder != "inception_resnet_v2":
            raise ConfigError(
                f"encoder_weights='imagenet' needs encoder='inception_resnet_v2'. "
                f"Received encoder={encoder!r}"
            )
        path = keras_cache_dir() / IMAGENET_FILE
        if not path.is_file():
            raise ConfigError(
                f"ImageNet weights for InceptionResNetV2 are not in the Keras cache "
                f"({path}) and this project never downloads at run time. On a "
                f"machine with internet access fetch {IMAGENET_URL} into {path.parent}"
                " (or pass its path as encoder_weights), or use encoder_weights=null "
                "for random weights."
            )
        return str(path)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"encoder_weights file not found: {path}")
    return str(path)


def feature_channels(encoder):
    return 1536 if encoder == "inception_resnet_v2" else SMALL_CNN_CHANNELS


def grid_size(encoder, image_size):
    """Side of the feature grid for square images of `image_size` pixels."""
    if encoder == "small_cnn":
        size = image_size
        for _ in range(3):
            size = (size + 1) // 2
        return size
    size = image_size
    for kernel_stride in (
        (3, 2),
        (3, 1),
        None,
        (3, 2),
        None,
        (3, 1),
        (3, 2),
        (3, 2),
        (3, 2),
    ):
        if kernel_stride:  # "valid" convolutions and poolings of the stem / reductions
            k, s = kernel_stride
            size = (size - k) // s + 1
    return size


def build_image_encoder(encoder, image_size, weights=None, name="image_encoder"):
    """A `keras.Model`: uint8/float images (S, S, 3) in 0..255 -> (positions, C).

    Pixels are scaled to [-1, 1] inside (InceptionResNetV2's preprocessing).
    """
    if encoder not in ENCODERS:
        raise ConfigError(f"`encoder` must be one of {ENCODERS}. Received {encoder!r}")
    minimum = 75 if encoder == "inception_resnet_v2" else 8
    if not isinstance(image_size, int) or image_size < minimum:
        raise ConfigError(
            f"`image_size` must be an integer >= {minimum} for encoder {encoder!r}. "
            f"Received image_size={image_size!r}"
        )
    images = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale_pixels")(images)
    if encoder == "inception_resnet_v2":
        backbone = keras.applications.InceptionResNetV2(
            include_top=False,
            weights=weights,
            input_shape=(image_size, image_size, 3),
        )
        x = backbone(x)
    else:
        for i, filters in enumerate((16, 32, SMALL_CNN_CHANNELS)):
            x = keras.layers.Conv2D(
                filters,
                3,
                strides=2,
                padding="same",
                activation="relu",
                name=f"conv_{i}",
            )(x)
    side = grid_size(encoder, image_size)
    channels = feature_channels(encoder)
    features = keras.layers.Reshape((side * side, channels), name="positions")(x)
    features = keras.layers.Activation("linear", dtype="float32", name="features")(
        features
    )
    return keras.Model(images, features, name=name)


# --------------------------------------------------------------------------
# Pretrained encoders (TF-Hub, keras-hub)


def resolve_image_encoder(encoder):
    """A built-in encoder name (str), or a checked copy of a pretrained spec.

    Raises `ConfigError` for an unknown name or a bad spec.
    """
    from mmzoo.models.pretrained import resolve_encoder_spec

    if isinstance(encoder, str):
        if encoder not in ENCODERS:
            raise ConfigError(
                f"`encoder` must be one of {ENCODERS} or a dict with one of the "
                f"keys {PRETRAINED_KINDS}. Received {encoder!r}"
            )
        return encoder
    if not isinstance(encoder, collections.abc.Mapping):
        raise ConfigError(
            f"`encoder` must be one of {ENCODERS} or a dict with one of the keys "
            f"{PRETRAINED_KINDS}. Received {encoder!r}"
        )
    spec = plain_spec(encoder)
    kinds = [k for k in PRETRAINED_KINDS if k in spec]
    if len(kinds) != 1:
        raise ConfigError(
            f"`encoder` must have exactly one of the keys {PRETRAINED_KINDS}. "
            f"Received {spec!r}"
        )
    pixels = {k: spec.pop(k) for k in PIXEL_KEYS if k in spec}
    for key, value in pixels.items():
        values = value if isinstance(value, list) else [value]
        if not (
            len(values) in (1, 3)
            and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
            )
        ):
            raise ConfigError(
                f"`encoder['{key}']` must be a number or a list of 3 numbers (one "
                f"per RGB channel). Received {value!r}"
            )
    if spec.get("units"):
        raise ConfigError(
            "`encoder['units']` is not used by the captioner (the decoder "
            f"projects the encoder features itself). Received {spec!r}"
        )
    spec.setdefault("trainable", False)  # frozen by default, hub or keras-hub
    try:
        spec = resolve_encoder_spec("image", spec)
    except ConfigError as e:
        raise ConfigError(f"Captioner `encoder`: {e}") from e
    spec.pop("units", None)
    spec.pop("output", None)  # an image backbone gives one feature map
    spec["pixel_scale"] = pixels.get("pixel_scale", DEFAULT_PIXEL_SCALE)
    spec["pixel_offset"] = pixels.get("pixel_offset", 0.0)
    return spec


def encoder_identity(encoder, image_size):
    """A short, stable string naming an encoder (name or spec) and input size,
    for feature-cache keys: features of one encoder are never reused for
    another (another handle, output, pixel scaling or size)."""
    text = json.dumps(
        {"encoder": plain_spec(encoder), "image_size": image_size}, sort_keys=True
    )
    return hashlib.sha1(text.encode("utf8")).hexdigest()[:16]


def _to_grid(x, name):
    """(batch, D) -> (batch, 1, D); (batch, h, w, C) -> (batch, h*w, C)."""
    rank = len(x.shape)
    channels = x.shape[-1]
    if channels is None or rank not in (2, 3, 4):
        raise ConfigError(
            f"The pretrained image encoder {name} gives features of shape "
            f"{tuple(x.shape)}; the captioner needs (batch, D), (batch, "
            "positions, C) or (batch, h, w, C) with a known channel count."
        )
    if rank == 2:
        return keras.layers.Reshape((1, channels), name="positions")(x)
    if rank == 4:
        return keras.layers.Reshape((-1, channels), name="positions")(x)
    return x


def _resize_to(x, shape, image_size):
    """Resize (bilinear) to `shape`'s height and width when fixed and different."""
    if shape is None or len(shape) != 3:
        return x
    height, width = shape[0], shape[1]
    if height is None or width is None or (height, width) == (image_size,) * 2:
        return x
    return keras.layers.Resizing(
        int(height), int(width), dtype="float32", name="resize"
    )(x)


def build_pretrained_encoder(spec, image_size, trainable, name="image_encoder"):
    """A `keras.Model`: images (S, S, 3) in 0..255 -> (positions, C) float32,
    from a resolved `hub` / `keras_hub` spec (see the module doc).

    A keras-hub spec with a `preset` is updated in place to the preset's
    architecture (`config`, `preset: None`), for the captioner's `get_config`.
    """
    from mmzoo.models.pretrained import (
        HubEncoder,
        freeze_preset,
        keras_hub_backbone,
    )

    if not isinstance(image_size, int) or image_size < 1:
        raise ConfigError(
            f"`image_size` must be a positive integer. Received {image_size!r}"
        )
    images = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.Rescaling(
        spec["pixel_scale"],
        offset=spec["pixel_offset"],
        dtype="float32",
        name="scale_pixels",
    )(images)
    if "hub" in spec:
        module = HubEncoder(
            spec["hub"],
            trainable=trainable,
            output_key=spec.get("output_key"),
            signature=spec.get("signature"),
            name="hub_module",
        )
        shape = spec.get("input_shape")
        if shape is None:
            module_spec = module.input_spec_of_module()
            if module_spec is not None and module_spec.shape.rank == 4:
                shape = list(module_spec.shape)[1:]
        x = module(_resize_to(x, shape, image_size))
        what = f"TF-Hub {spec['hub']!r}"
    else:
        backbone = keras_hub_backbone({**spec, "trainable": trainable}, "backbone")
        freeze_preset(spec, backbone)
        structure = backbone.input
        if isinstance(structure, dict):
            raise ConfigError(
                f"keras-hub {spec['keras_hub']} takes several inputs "
                f"{sorted(structure)}; the captioner needs an image backbone."
            )
        shape = spec.get("input_shape") or list(structure.shape[1:])
        x = backbone(_resize_to(x, shape, image_size))
        if isinstance(x, dict):
            raise ConfigError(
                f"keras-hub {spec['keras_hub']} returns a dict {sorted(x)}; the "
                "captioner needs an image backbone that returns a feature map."
            )
        what = f"keras-hub {spec['keras_hub']!r}"
    features = _to_grid(x, what)
    features = keras.layers.Activation("linear", dtype="float32", name="features")(
        features
    )
    return keras.Model(images, features, name=name)
