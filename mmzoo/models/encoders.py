"""Modality encoders built from a config value."""

import keras

from mmzoo.errors import ConfigError


def mlp_encoder(units, dropout=0.0, activation="relu", name="encoder", dtype=None):
    """A `keras.Sequential` of Dense layers (and dropout) for vector features."""
    if not isinstance(units, (list, tuple)) or not all(
        isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in units
    ):
        raise ConfigError(
            f"`encoder_units` must be a list of positive integers. Received {units!r}"
        )
    layers = []
    for i, width in enumerate(units):
        layers.append(
            keras.layers.Dense(
                width, activation=activation, name=f"{name}_dense_{i}", dtype=dtype
            )
        )
        if dropout:
            layers.append(
                keras.layers.Dropout(dropout, name=f"{name}_dropout_{i}", dtype=dtype)
            )
    return keras.Sequential(layers, name=name)
