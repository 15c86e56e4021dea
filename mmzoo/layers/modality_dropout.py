import keras
from keras import ops

from mmzoo.layers.modality_inputs import (
    check_rate,
    explicit_mask,
    modality_mask,
    shape_list,
    unpack_modalities,
)


@keras.saving.register_keras_serializable(package="mmzoo")
class ModalityDropout(keras.layers.Layer):
    """Modality dropout: mark whole modalities missing at random while training.

    Returns a (batch, n) modality mask (1 = present, 0 = missing) for a fusion
    layer's `mask` argument. While training, each present modality of each
    example is dropped independently with probability `rate`; when that would
    drop every present modality of an example, one of them, drawn uniformly,
    is kept instead, so an example never loses all its modalities. Outside
    training the mask is passed through (all ones without one). Unlike
    `keras.layers.Dropout` nothing is rescaled: the fusion layer's own
    missing-modality rule decides what a missing modality means.

    Args:
        rate: float in [0, 1). Probability of dropping each modality.
        seed: int, optional. Seed of the random draws.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of n >= 2 modality tensors (batch, ..., d_i); only
            their number and batch size are used. A dict is taken in sorted key
            order.
        mask: optional (batch, n) tensor of 0/1 or booleans: modalities already
            missing (they stay missing and are never the one kept).
        training: bool. Drop modalities or pass the mask through.

    Returns:
        The mask, shape (batch, n), in the layer's compute dtype.

    Example:

    >>> import numpy as np
    >>> drop = ModalityDropout(rate=0.9, seed=0)
    >>> x = [np.ones((5, 3), "float32"), np.ones((5, 2), "float32")]
    >>> kept = np.asarray(drop(x, training=True)).sum(axis=1)
    >>> bool(np.all(kept >= 1))
    True
    >>> np.asarray(drop(x, training=False)).tolist()[0]
    [1.0, 1.0]

    References:
        Neverova, Wolf, Taylor, Nebout. "ModDrop: Adaptive Multi-Modal Gesture
        Recognition." IEEE TPAMI 2016.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate(rate, "rate")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.num_modalities = len(shape_list(input_shape, "ModalityDropout"))

    def call(self, inputs, mask=None, training=None):
        xs, _ = unpack_modalities(inputs, "ModalityDropout")
        n = len(xs)
        m = modality_mask(explicit_mask(mask), n, "ModalityDropout", self.compute_dtype)
        if m is None:
            m = ops.ones((ops.shape(xs[0])[0], n), dtype=self.compute_dtype)
        if not training or self.rate == 0.0:
            return m
        u = keras.random.uniform(ops.shape(m), seed=self.seed_generator)
        present = m > 0
        keep = ops.logical_and(present, u >= self.rate)
        # The fallback keeps the present modality with the largest draw: uniform
        # among the present ones, since the draws are i.i.d.
        fallback = ops.one_hot(ops.argmax(ops.where(present, u, -1.0), axis=-1), n)
        fallback = ops.logical_and(present, fallback > 0)
        none_kept = ops.logical_not(ops.any(keep, axis=-1, keepdims=True))
        return ops.cast(ops.where(none_kept, fallback, keep), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "ModalityDropout")
        return (shapes[0][0], len(shapes))

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
