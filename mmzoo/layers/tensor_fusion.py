import math

import keras
from keras import ops

from mmzoo.layers.modality_inputs import (
    explicit_mask,
    mask_modalities,
    modality_mask,
    shape_list,
    unpack_modalities,
    with_leading_one,
)


@keras.saving.register_keras_serializable(package="mmzoo")
class TensorFusion(keras.layers.Layer):
    """Tensor Fusion: the flattened outer product of [1; z_m] over modalities.

        h = vec([1; z_1] (x) [1; z_2] (x) ... (x) [1; z_M])

    of size prod_m (d_m + 1). The constant 1 keeps every lower-order term: h
    holds the unimodal features z_m, all bimodal products z_i z_j, ..., and the
    M-modal products. No weights (follow it with a Dense layer, or use
    `LowRankFusion` for the same model without the large tensor). The flattening
    is row-major: entry (i_1, ..., i_M) is at sum_m i_m prod_{k>m} (d_k + 1).

    Missing modalities: with `mask` (batch, M), a missing z_m is zeroed, so its
    factor is [1; 0] and h keeps exactly the terms of the other modalities (the
    entries with i_m = 0 hold the tensor fusion of the present modalities, all
    other entries are 0).

    Args:
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of M >= 2 tensors (batch, ..., d_m) with the same
            leading dimensions. A dict is taken in sorted key order.
        mask: optional (batch, M) tensor of 0/1 or booleans.

    Returns:
        h of shape (batch, ..., prod_m (d_m + 1)).

    Example:

    >>> import numpy as np
    >>> x = [np.ones((2, 3), "float32"), np.ones((2, 4), "float32")]
    >>> tuple(TensorFusion()(x).shape)
    (2, 20)

    References:
        Zadeh, Chen, Poria, Cambria, Morency. "Tensor Fusion Network for
        Multimodal Sentiment Analysis." EMNLP 2017.
    """

    def build(self, input_shape):
        shape_list(input_shape, "TensorFusion")

    def call(self, inputs, mask=None):
        zs, _ = unpack_modalities(inputs, "TensorFusion")
        m = modality_mask(explicit_mask(mask), len(zs), "TensorFusion",
                          self.compute_dtype)
        zs = [with_leading_one(z) for z in mask_modalities(zs, m)]
        h = zs[0]
        for z in zs[1:]:
            outer = ops.expand_dims(h, -1) * ops.expand_dims(z, -2)
            lead = tuple(ops.shape(outer)[:-2])
            h = ops.reshape(outer, lead + (h.shape[-1] * z.shape[-1],))
        return h

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "TensorFusion")
        size = math.prod(int(s[-1]) + 1 for s in shapes)
        return tuple(shapes[0][:-1]) + (size,)
