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
class HybridFusion(keras.layers.Layer):
    """Hybrid fusion: early fused features next to late per-modality predictions.

        e   = activation(W_e [x_1; ...; x_n] + b_e)       (early, `units`)
        p_i = W_i x_i + b_i                                (late, `late_units` each)
        h   = [e; p_1; ...; p_n]

    The early branch sees every modality jointly; each late branch sees one
    modality only (a unimodal "prediction" head, linear so that a downstream
    head can treat p_i as logits). The output keeps both, so the downstream
    head can weigh joint features against the unimodal opinions.

    Missing modalities: with `mask` (batch, n), a missing x_i is zeroed in the
    early concatenation (as in `ConcatFusion`) and its late prediction p_i is
    set to 0 (bias included): it gives no opinion.

    Args:
        units: int. Size of the early fused features e.
        late_units: int. Size of each per-modality prediction p_i.
        activation: str. Activation of the early branch (`"relu"`).
        use_bias: bool. Biases in both branches.
        kernel_initializer, bias_initializer: initializers of all kernels/biases.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of n >= 2 tensors (batch, ..., d_i) with the same
            leading dimensions. A dict is taken in sorted key order.
        mask: optional (batch, n) tensor of 0/1 or booleans.

    Returns:
        h of shape (batch, ..., units + n * late_units).

    Example:

    >>> import numpy as np
    >>> x = [np.ones((2, 3), "float32"), np.ones((2, 5), "float32")]
    >>> tuple(HybridFusion(units=4, late_units=2)(x).shape)
    (2, 8)

    References:
        Atrey, Hossain, El Saddik, Kankanhalli. "Multimodal fusion for multimedia
        analysis: a survey." Multimedia Systems 16, 2010 (hybrid fusion).
    """

    def __init__(
        self,
        units,
        late_units,
        activation="relu",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.late_units = check_positive_int(late_units, "late_units")
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _dense(self, units, activation, name):
        return keras.layers.Dense(
            units,
            activation=activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        shapes = shape_list(input_shape, "HybridFusion")
        self.num_modalities = len(shapes)
        self.early = self._dense(self.units, self.activation, "early")
        total = sum(int(s[-1]) for s in shapes)
        self.early.build(tuple(shapes[0][:-1]) + (total,))
        self.late = []
        for i, shape in enumerate(shapes):
            dense = self._dense(self.late_units, None, f"late_{i}")
            dense.build(shape)
            self.late.append(dense)

    def call(self, inputs, mask=None):
        xs, _ = unpack_modalities(inputs, "HybridFusion")
        check_num_modalities(xs, self.num_modalities, "HybridFusion")
        m = modality_mask(explicit_mask(mask), len(xs), "HybridFusion",
                          self.compute_dtype)
        xs = mask_modalities(xs, m)
        early = self.early(ops.concatenate(xs, axis=-1))
        late = mask_modalities([dense(x) for dense, x in zip(self.late, xs)], m)
        return ops.concatenate([early] + late, axis=-1)

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "HybridFusion")
        size = self.units + len(shapes) * self.late_units
        return tuple(shapes[0][:-1]) + (size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "late_units": self.late_units,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
