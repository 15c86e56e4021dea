"""Encoders and decoders of the MVAE, one pair per modality, by modality type.

- `image` (H, W) in [0, 1]: a convolutional encoder (stride-2 4x4 convolutions,
  as the authors' MNIST code), a transposed-convolution decoder, Bernoulli
  pixels (the decoder returns logits).
- `features` (any shape, e.g. MFCC frames x coefficients): an MLP on the
  flattened values, a Gaussian decoder (returns the mean; unit variance).
- `label` (num_classes,) one-hot: an MLP encoder, a categorical decoder
  (returns logits).
"""

import math

import keras

from mmzoo.errors import ConfigError

MODALITY_TYPES = ("image", "features", "label")
LIKELIHOODS = {"image": "bernoulli", "features": "gaussian", "label": "categorical"}


def check_network_args(name, kind, shape, hidden_units, conv_filters):
    if kind not in MODALITY_TYPES:
        raise ConfigError(
            f"`modality_types[{name!r}]` must be one of {MODALITY_TYPES}. "
            f"Received {kind!r}"
        )
    if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ConfigError(
            f"`input_shapes[{name!r}]` must be a list of positive integers. "
            f"Received {shape!r}"
        )
    if kind == "image":
        factor = 2 ** len(conv_filters)
        if len(shape) != 2 or shape[0] % factor or shape[1] % factor:
            raise ConfigError(
                f"Image modality {name!r} needs shape [H, W] divisible by "
                f"2**len(conv_filters) = {factor}. Received {shape!r}"
            )
    if kind == "label" and len(shape) != 1:
        raise ConfigError(
            f"Label modality {name!r} needs shape [num_classes]. Received {shape!r}"
        )


def build_encoder(name, kind, shape, latent_dim, hidden_units, conv_filters):
    """`keras.Model`: modality input -> (mu, logvar), each (batch, latent_dim)."""
    inputs = keras.Input(tuple(shape), name=f"{name}_input")
    x = inputs
    if kind == "image":
        x = keras.layers.Reshape((*shape, 1), name=f"{name}_channels")(x)
        for i, filters in enumerate(conv_filters):
            x = keras.layers.Conv2D(
                filters,
                4,
                strides=2,
                padding="same",
                activation="relu",
                name=f"{name}_conv_{i}",
            )(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"{name}_dense_{i}")(x)
    mu = keras.layers.Dense(latent_dim, name=f"{name}_mu")(x)
    logvar = keras.layers.Dense(latent_dim, name=f"{name}_logvar")(x)
    return keras.Model(inputs, [mu, logvar], name=f"{name}_encoder")


def build_decoder(name, kind, shape, latent_dim, hidden_units, conv_filters):
    """`keras.Model`: z (batch, latent_dim) -> logits or mean of the modality."""
    z = keras.Input((latent_dim,), name=f"{name}_z")
    x = z
    for i, units in enumerate(reversed(hidden_units)):
        x = keras.layers.Dense(units, activation="relu", name=f"{name}_dense_{i}")(x)
    if kind == "image" and conv_filters:
        factor = 2 ** len(conv_filters)
        h, w, top = shape[0] // factor, shape[1] // factor, conv_filters[-1]
        x = keras.layers.Dense(h * w * top, activation="relu", name=f"{name}_seed")(x)
        x = keras.layers.Reshape((h, w, top), name=f"{name}_grid")(x)
        for i, filters in enumerate(reversed(conv_filters[:-1])):
            x = keras.layers.Conv2DTranspose(
                filters,
                4,
                strides=2,
                padding="same",
                activation="relu",
                name=f"{name}_deconv_{i}",
            )(x)
        x = keras.layers.Conv2DTranspose(
            1, 4, strides=2, padding="same", name=f"{name}_logits"
        )(x)
    else:
        x = keras.layers.Dense(math.prod(shape), name=f"{name}_out")(x)
    x = keras.layers.Reshape(tuple(shape), name=f"{name}_shape")(x)
    return keras.Model(z, x, name=f"{name}_decoder")


def output_activation(kind, name):
    """Logits/mean -> what a user reads: probabilities or the Gaussian mean."""
    activation = {"image": "sigmoid", "features": "linear", "label": "softmax"}[kind]
    return keras.layers.Activation(
        activation, dtype="float32", name=f"reconstruction_{name}"
    )
