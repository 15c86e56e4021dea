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
class AdditiveFusion(keras.layers.Layer):
    """Additive fusion: the sum of per-modality linear projections.

        h = activation(sum_i W_i x_i + b)

    One kernel W_i (d_i, units) per modality and one shared bias b. This is the
    same map as a Dense layer on the concatenation, written per modality so a
    modality can be dropped term by term.

    Missing modalities: with `mask` (batch, n), a missing modality's term
    W_i x_i is 0, so masking modality i is exactly the additive fusion of the
    other modalities with the same weights.

    Args:
        units: int. Size of the fused representation h.
        activation: str or None. Applied after the sum (default: none).
        use_bias: bool. The shared bias b.
        kernel_initializer, bias_initializer: initializers of W_i and b.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of n >= 2 tensors (batch, ..., d_i) with the same
            leading dimensions. A dict is taken in sorted key order.
        mask: optional (batch, n) tensor of 0/1 or booleans.

    Returns:
        h of shape (batch, ..., units).

    Example:

    >>> import numpy as np
    >>> x = [np.ones((2, 3), "float32"), np.ones((2, 5), "float32")]
    >>> tuple(AdditiveFusion(units=4)(x).shape)
    (2, 4)

    References:
        Baltrusaitis, Ahuja, Morency. "Multimodal Machine Learning: A Survey and
        Taxonomy." IEEE TPAMI 2019 (additive / linear fusion).
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        shapes = shape_list(input_shape, "AdditiveFusion")
        self.num_modalities = len(shapes)
        self.kernels = [
            self.add_weight(
                shape=(int(s[-1]), self.units),
                initializer=self.kernel_initializer,
                name=f"kernel_{i}",
            )
            for i, s in enumerate(shapes)
        ]
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), initializer=self.bias_initializer, name="bias"
            )

    def call(self, inputs, mask=None):
        xs, _ = unpack_modalities(inputs, "AdditiveFusion")
        check_num_modalities(xs, self.num_modalities, "AdditiveFusion")
        m = modality_mask(explicit_mask(mask), len(xs), "AdditiveFusion",
                          self.compute_dtype)
        xs = mask_modalities(xs, m)
        h = ops.matmul(xs[0], self.kernels[0])
        for x, kernel in zip(xs[1:], self.kernels[1:]):
            h = h + ops.matmul(x, kernel)
        if self.bias is not None:
            h = h + self.bias
        return self.activation(h)

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "AdditiveFusion")
        return tuple(shapes[0][:-1]) + (self.units,)

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
