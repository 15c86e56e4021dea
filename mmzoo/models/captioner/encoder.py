"""The image encoder: pixels (0..255) -> a grid of feature vectors.

`inception_resnet_v2` is `keras.applications.InceptionResNetV2(include_top=False)`
(1536 channels; an 8x8 grid at 299x299, 3x3 at 139, 1x1 at 75). `small_cnn` is a
three-layer CNN (stride 8) for tests and quick runs: InceptionResNetV2 takes
tens of seconds to build, save and trace on a small CPU.
"""

import os
from pathlib import Path

import keras

from mmzoo.errors import ConfigError

ENCODERS = ("inception_resnet_v2", "small_cnn")
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
