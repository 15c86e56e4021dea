import keras
from keras import ops

from mmzoo.layers.modality_inputs import (
    check_num_modalities,
    check_positive_int,
    explicit_mask,
    mask_modalities,
    modality_mask,
    project_to_factors,
    shape_list,
    unpack_modalities,
    with_leading_one,
)


@keras.saving.register_keras_serializable(package="mmzoo")
class LowRankFusion(keras.layers.Layer):
    """Low-rank Multimodal Fusion (LMF): tensor fusion with rank-r factors.

        h = sum_{r=1..rank} w_r * prod_m ([1; z_m] W_m^(r)) + b

    with modality-specific factors W_m of shape (rank, d_m + 1, units), fusion
    weights w of shape (1, rank) and a bias b (1, units); the product over m is
    elementwise. This equals a Dense layer on `TensorFusion` whose weight tensor
    is the rank-r CP tensor sum_r w_r W_1^(r) (x) ... (x) W_M^(r), without ever
    forming the prod_m (d_m + 1)-sized tensor.

    Every factor is a tracked weight of this layer (`factor_0`, `factor_1`, ...)
    and trains (a widely used PyTorch version keeps its factors in a plain list,
    where they are never registered and stay at their initial values).

    Missing modalities: with `mask` (batch, M), a missing z_m is zeroed, so its
    factor term is [1; 0] W_m^(r) = W_m^(r)[0] (the bias row): the same
    as `TensorFusion` with z_m -> [1; 0], i.e. only the other modalities' terms
    of the tensor are kept.

    Args:
        units: int. Size of the fused representation h.
        rank: int. CP rank r of the fusion tensor.
        factor_initializer: initializer of W_m (`"glorot_normal"`, as the paper's
            code uses Xavier normal).
        fusion_weights_initializer: initializer of w.
        bias_initializer: initializer of b.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of M >= 2 tensors (batch, ..., d_m) with the same
            leading dimensions. A dict is taken in sorted key order.
        mask: optional (batch, M) tensor of 0/1 or booleans.

    Returns:
        h of shape (batch, ..., units).

    Example:

    >>> import numpy as np
    >>> x = [np.ones((2, 3), "float32"), np.ones((2, 5), "float32")]
    >>> layer = LowRankFusion(units=4, rank=2)
    >>> tuple(layer(x).shape), tuple(layer.factors[1].shape)
    ((2, 4), (2, 6, 4))

    References:
        Liu, Shen, Lakshminarasimhan, Liang, Zadeh, Morency. "Efficient Low-rank
        Multimodal Fusion with Modality-Specific Factors." ACL 2018.
    """

    def __init__(
        self,
        units,
        rank=4,
        factor_initializer="glorot_normal",
        fusion_weights_initializer="glorot_normal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.rank = check_positive_int(rank, "rank")
        self.factor_initializer = keras.initializers.get(factor_initializer)
        self.fusion_weights_initializer = keras.initializers.get(
            fusion_weights_initializer
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        shapes = shape_list(input_shape, "LowRankFusion")
        self.num_modalities = len(shapes)
        self.factors = [
            self.add_weight(
                shape=(self.rank, int(s[-1]) + 1, self.units),
                initializer=self.factor_initializer,
                name=f"factor_{i}",
            )
            for i, s in enumerate(shapes)
        ]
        self.fusion_weights = self.add_weight(
            shape=(1, self.rank),
            initializer=self.fusion_weights_initializer,
            name="fusion_weights",
        )
        self.fusion_bias = self.add_weight(
            shape=(1, self.units), initializer=self.bias_initializer, name="fusion_bias"
        )

    def call(self, inputs, mask=None):
        zs, _ = unpack_modalities(inputs, "LowRankFusion")
        check_num_modalities(zs, self.num_modalities, "LowRankFusion")
        m = modality_mask(explicit_mask(mask), len(zs), "LowRankFusion",
                          self.compute_dtype)
        zs = [with_leading_one(z) for z in mask_modalities(zs, m)]
        product = None
        for z, factor in zip(zs, self.factors):
            term = project_to_factors(z, factor, axis=1)  # (..., rank, units)
            product = term if product is None else product * term
        h = ops.einsum("r,...ru->...u", self.fusion_weights[0], product)
        return h + self.fusion_bias[0]

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "LowRankFusion")
        return tuple(shapes[0][:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "rank": self.rank,
                "factor_initializer": keras.initializers.serialize(
                    self.factor_initializer
                ),
                "fusion_weights_initializer": keras.initializers.serialize(
                    self.fusion_weights_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
