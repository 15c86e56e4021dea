import keras
from keras import ops

from mmzoo.layers.modality_inputs import (
    check_num_modalities,
    check_positive_int,
    explicit_mask,
    mask_modalities,
    modality_mask,
    shape_list,
    unpack_modalities,
)


@keras.saving.register_keras_serializable(package="mmzoo")
class ConcatFusion(keras.layers.Layer):
    """Early fusion: concatenate the modalities, optionally project them.

        h = [x_1; x_2; ...; x_n]                      (units=None)
        h = activation(W [x_1; x_2; ...; x_n] + b)    (units=k)

    Missing modalities: with `mask` (batch, n), 1 = present, 0 = missing, a
    missing modality is replaced by zeros before the concatenation (and before
    the projection, so it contributes nothing but the bias).

    Args:
        units: int or None. Size of the projection; `None` returns the plain
            concatenation (no weights).
        activation: str or None. Activation of the projection.
        use_bias: bool. Bias in the projection.
        kernel_initializer, bias_initializer: initializers of the projection.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of n >= 2 tensors (batch, ..., d_i) with the same
            leading dimensions. A dict is taken in sorted key order.
        mask: optional (batch, n) tensor of 0/1 or booleans.

    Returns:
        (batch, ..., sum_i d_i), or (batch, ..., units) with a projection.

    Example:

    >>> import numpy as np
    >>> x = [np.ones((2, 3), "float32"), np.ones((2, 5), "float32")]
    >>> tuple(ConcatFusion()(x).shape), tuple(ConcatFusion(units=4)(x).shape)
    ((2, 8), (2, 4))

    References:
        Baltrusaitis, Ahuja, Morency. "Multimodal Machine Learning: A Survey and
        Taxonomy." IEEE TPAMI 2019 (early fusion).
    """

    def __init__(
        self,
        units=None,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units is not None:
            check_positive_int(units, "units")
        self.units = units
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        shapes = shape_list(input_shape, "ConcatFusion")
        self.num_modalities = len(shapes)
        self.projection = None
        if self.units is not None:
            self.projection = keras.layers.Dense(
                self.units,
                activation=self.activation,
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                bias_initializer=self.bias_initializer,
                dtype=self.dtype_policy,
                name="projection",
            )
            total = sum(int(s[-1]) for s in shapes)
            self.projection.build(tuple(shapes[0][:-1]) + (total,))

    def call(self, inputs, mask=None):
        xs, _ = unpack_modalities(inputs, "ConcatFusion")
        check_num_modalities(xs, self.num_modalities, "ConcatFusion")
        m = modality_mask(explicit_mask(mask), len(xs), "ConcatFusion",
                          self.compute_dtype)
        h = ops.concatenate(mask_modalities(xs, m), axis=-1)
        return h if self.projection is None else self.projection(h)

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "ConcatFusion")
        size = self.units or sum(int(s[-1]) for s in shapes)
        return tuple(shapes[0][:-1]) + (size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
