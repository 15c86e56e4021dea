import keras

from mmzoo.layers.modality_inputs import (
    check_num_modalities,
    check_positive_int,
    explicit_mask,
    modality_mask,
    present_columns,
    shape_list,
    unpack_modalities,
)


@keras.saving.register_keras_serializable(package="mmzoo")
class MultiplicativeFusion(keras.layers.Layer):
    """Multiplicative fusion: the elementwise product of per-modality projections.

        f_i = W_i x_i + b_i              (plus_one=False)
        f_i = 1 + W_i x_i + b_i          (plus_one=True, the default)
        h   = f_1 * f_2 * ... * f_n

    With `plus_one=True` the product expands into every subset of modalities:
    h = 1 + sum_i g_i + sum_{i<j} g_i g_j + ... (g_i = W_i x_i + b_i), so the
    unimodal terms survive next to the interactions (as the constant 1 does in
    `TensorFusion`), and gradients do not vanish when one factor is near 0.

    Missing modalities: with `mask` (batch, n), a missing modality's factor is
    set to 1, the neutral element of the product: masking modality i equals the
    multiplicative fusion of the other modalities with the same weights (in both
    settings of `plus_one`; with `plus_one=True` this is g_i = 0, i.e. what a
    zero input gives when there is no bias).

    Args:
        units: int. Size of the fused representation h.
        plus_one: bool. Use f_i = 1 + W_i x_i + b_i.
        use_bias: bool. The biases b_i.
        kernel_initializer, bias_initializer: initializers of W_i and b_i.
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
    >>> tuple(MultiplicativeFusion(units=4)(x).shape)
    (2, 4)

    References:
        Jayakumar et al. "Multiplicative Interactions and Where to Find Them."
        ICLR 2020. Liu et al. "Learn to Combine Modalities in Multimodal Deep
        Learning." arXiv:1805.11730, 2018.
    """

    def __init__(
        self,
        units,
        plus_one=True,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.plus_one = bool(plus_one)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        shapes = shape_list(input_shape, "MultiplicativeFusion")
        self.num_modalities = len(shapes)
        self.projections = []
        for i, shape in enumerate(shapes):
            dense = keras.layers.Dense(
                self.units,
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                bias_initializer=self.bias_initializer,
                dtype=self.dtype_policy,
                name=f"projection_{i}",
            )
            dense.build(shape)
            self.projections.append(dense)

    def call(self, inputs, mask=None):
        xs, _ = unpack_modalities(inputs, "MultiplicativeFusion")
        check_num_modalities(xs, self.num_modalities, "MultiplicativeFusion")
        m = modality_mask(explicit_mask(mask), len(xs), "MultiplicativeFusion",
                          self.compute_dtype)
        factors = [dense(x) for dense, x in zip(self.projections, xs)]
        if self.plus_one:
            factors = [1.0 + f for f in factors]
        if m is not None:
            # f_i -> 1 where missing: m_i * f_i + (1 - m_i).
            columns = present_columns(m, len(xs[0].shape))
            factors = [c * f + (1.0 - c) for c, f in zip(columns, factors)]
        h = factors[0]
        for f in factors[1:]:
            h = h * f
        return h

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "MultiplicativeFusion")
        return tuple(shapes[0][:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "plus_one": self.plus_one,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
