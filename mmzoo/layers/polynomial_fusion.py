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
class PolynomialFusion(keras.layers.Layer):
    """Polynomial Tensor Pooling (PTP): a low-rank order-P polynomial of all
    modalities.

    With z' = [1; z_1; ...; z_M] of size D = 1 + sum_m d_m, the order-P pooling
    is a linear map of the P-fold outer product z' (x) ... (x) z' (every
    monomial of degree <= P, across and within modalities, thanks to the 1).
    Its weight tensor (D^P x units) is held in rank-r CP form, which gives

        h = sum_{r=1..rank} w_r * prod_{p=1..P} (z' U_{p,r}) + b

    with factors U of shape (P, rank, D, units) (U_{p,r} a D x units matrix,
    one column u_{r,p,k} per output unit k, so h_k = sum_r w_r prod_p
    u_{r,p,k}^T z' + b_k), fusion weights w (rank,) and a bias b (units,); the
    product over p is elementwise. Unlike `LowRankFusion`, each factor sees all
    modalities at once, so it also models intra-modality powers. This is the
    PTP block of Hou et al.; the hierarchical windows of their HPFN are not
    included.

    Missing modalities: with `mask` (batch, M), a missing z_m is zeroed inside
    z', so h is the same polynomial of the present modalities (the constant 1
    keeps their lower-order terms); it equals calling the layer with z_m = 0.

    Args:
        units: int. Size of the fused representation h.
        order: int. Polynomial order P (>= 1; 1 is a linear layer).
        rank: int. CP rank r.
        factor_initializer: initializer of U.
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
    >>> layer = PolynomialFusion(units=4, order=3, rank=2)
    >>> tuple(layer(x).shape), tuple(layer.factors.shape)
    ((2, 4), (3, 2, 9, 4))

    References:
        Hou, Tang, Yu, Li, Zhou, Zhu. "Deep Multimodal Multilinear Fusion with
        High-order Polynomial Pooling." NeurIPS 2019.
    """

    def __init__(
        self,
        units,
        order=2,
        rank=4,
        factor_initializer="glorot_normal",
        fusion_weights_initializer="glorot_normal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.order = check_positive_int(order, "order")
        self.rank = check_positive_int(rank, "rank")
        self.factor_initializer = keras.initializers.get(factor_initializer)
        self.fusion_weights_initializer = keras.initializers.get(
            fusion_weights_initializer
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        shapes = shape_list(input_shape, "PolynomialFusion")
        self.num_modalities = len(shapes)
        size = 1 + sum(int(s[-1]) for s in shapes)
        self.factors = self.add_weight(
            shape=(self.order, self.rank, size, self.units),
            initializer=self.factor_initializer,
            name="factors",
        )
        self.fusion_weights = self.add_weight(
            shape=(self.rank,),
            initializer=self.fusion_weights_initializer,
            name="fusion_weights",
        )
        self.bias = self.add_weight(
            shape=(self.units,), initializer=self.bias_initializer, name="bias"
        )

    def call(self, inputs, mask=None):
        zs, _ = unpack_modalities(inputs, "PolynomialFusion")
        check_num_modalities(zs, self.num_modalities, "PolynomialFusion")
        m = modality_mask(explicit_mask(mask), len(zs), "PolynomialFusion",
                          self.compute_dtype)
        z = with_leading_one(ops.concatenate(mask_modalities(zs, m), axis=-1))
        terms = project_to_factors(z, self.factors, axis=2)  # (..., P, rank, units)
        product = ops.prod(terms, axis=-3)  # (..., rank, units)
        return ops.einsum("r,...ru->...u", self.fusion_weights, product) + self.bias

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "PolynomialFusion")
        return tuple(shapes[0][:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "order": self.order,
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
