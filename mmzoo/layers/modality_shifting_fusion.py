import keras
from keras import ops

from mmzoo.layers.modality_inputs import (
    check_num_modalities,
    check_rate,
    explicit_mask,
    mask_modalities,
    modality_mask,
    shape_list,
    unpack_modalities,
)


def _safe_norm(x):
    """L2 norm over the last axis with a zero (not NaN) gradient at 0."""
    s = ops.sum(ops.square(x), axis=-1, keepdims=True)
    positive = s > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, s, 1.0)), 0.0)


@keras.saving.register_keras_serializable(package="mmzoo")
class ModalityShiftingFusion(keras.layers.Layer):
    """Multimodal Adaptation Gate (MAG): shift the primary modality (text) by a
    gated displacement computed from the other modalities.

    With t the primary modality and m the others:

        g_m   = relu(W_gm [t; m] + b_gm)
        H     = sum_m g_m * (W_m m) + b_H
        alpha = min(beta * ||t||_2 / (||H||_2 + epsilon), 1)
        e     = dropout(LayerNorm(t + alpha * H))

    H is a displacement in the primary space, and alpha caps its norm at
    beta * ||t|| so the shift cannot drown the primary representation. Works per
    token on sequences (batch, T, d) and on vectors (batch, d). The norms and
    alpha are computed in float32 under mixed precision; the LayerNorm epsilon
    is 1e-5 (PyTorch's default, as in the authors' code).

    Missing modalities: with `mask` (batch, n), a missing non-primary modality's
    term g_m * (W_m m) is 0, which equals leaving it out (same weights). A
    missing primary zeroes t; then alpha = 0 and e = LayerNorm(0) = its offset
    (MAG is not defined without its primary modality).

    Args:
        beta: float > 0. Scale of the allowed shift (beta_shift in the paper).
        dropout: float in [0, 1). Dropout on the output.
        epsilon: float > 0. Added to ||H|| in alpha.
        primary: str or None. Dict key of the primary modality; `None` takes the
            first modality (the first list entry, or the first sorted key).
        kernel_initializer, bias_initializer: initializers of all kernels/biases.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of n >= 2 tensors (batch, ..., d_i) with the same
            leading dimensions. A dict is taken in sorted key order.
        mask: optional (batch, n) tensor of 0/1 or booleans (same order).
        training: bool. Dropout on or off.

    Returns:
        e of the primary's shape (batch, ..., d_t).

    Example:

    >>> import numpy as np
    >>> x = {"text": np.ones((2, 7, 8), "float32"),
    ...      "audio": np.ones((2, 7, 3), "float32")}
    >>> tuple(ModalityShiftingFusion(primary="text")(x).shape)
    (2, 7, 8)

    References:
        Rahman, Hasan, Lee, Zadeh, Mao, Morency, Hoque. "Integrating Multimodal
        Information in Large Pretrained Transformers." ACL 2020.
    """

    def __init__(
        self,
        beta=1.0,
        dropout=0.5,
        epsilon=1e-6,
        primary=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("beta", beta), ("epsilon", epsilon)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                value <= 0
            ):
                raise ValueError(
                    f"`{name}` must be a positive number. Received: {name}={value!r}"
                )
        if primary is not None and not isinstance(primary, str):
            raise ValueError(
                f"`primary` must be a dict key (str) or None. Received: "
                f"primary={primary!r}"
            )
        self.beta = float(beta)
        self.dropout = check_rate(dropout, "dropout")
        self.epsilon = float(epsilon)
        self.primary = primary
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _primary_index(self, inputs):
        if self.primary is None:
            return 0
        if not isinstance(inputs, dict) or self.primary not in inputs:
            keys = sorted(inputs) if isinstance(inputs, dict) else "a list"
            raise ValueError(
                f"ModalityShiftingFusion: primary={self.primary!r} must be a key of "
                f"the `inputs` dict. Received inputs with keys {keys}"
            )
        return sorted(inputs).index(self.primary)

    def _dense(self, units, name, activation=None, use_bias=True):
        return keras.layers.Dense(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy, name=name,
        )

    def build(self, input_shape):
        shapes = shape_list(input_shape, "ModalityShiftingFusion")
        self.num_modalities = len(shapes)
        self.primary_index = self._primary_index(input_shape)
        d_t = int(shapes[self.primary_index][-1])
        lead = tuple(shapes[0][:-1])
        self.gates, self.shifts = [], []
        for i, shape in enumerate(shapes):
            if i == self.primary_index:
                continue
            gate = self._dense(d_t, f"gate_{i}", "relu")
            gate.build(lead + (d_t + int(shape[-1]),))
            shift = self._dense(d_t, f"shift_{i}", use_bias=False)
            shift.build(shape)
            self.gates.append(gate)
            self.shifts.append(shift)
        self.shift_bias = self.add_weight(
            shape=(d_t,), initializer=self.bias_initializer, name="shift_bias"
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-5, dtype=self.dtype_policy, name="layer_norm"
        )
        self.layer_norm.build(lead + (d_t,))
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )

    def call(self, inputs, mask=None, training=None):
        xs, _ = unpack_modalities(inputs, "ModalityShiftingFusion")
        check_num_modalities(xs, self.num_modalities, "ModalityShiftingFusion")
        p = self._primary_index(inputs)
        m = modality_mask(explicit_mask(mask), len(xs), "ModalityShiftingFusion",
                          self.compute_dtype)
        xs = mask_modalities(xs, m)
        t = xs[p]
        others = [i for i in range(len(xs)) if i != p]
        h = self.shift_bias
        for i, gate, shift in zip(others, self.gates, self.shifts):
            h = h + gate(ops.concatenate([t, xs[i]], axis=-1)) * shift(xs[i])
        t32, h32 = ops.cast(t, "float32"), ops.cast(h, "float32")
        alpha = ops.minimum(
            self.beta * _safe_norm(t32) / (_safe_norm(h32) + self.epsilon), 1.0
        )
        e = self.layer_norm(t + ops.cast(alpha, self.compute_dtype) * h)
        return self.dropout_layer(e, training=training)

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "ModalityShiftingFusion")
        return tuple(shapes[self._primary_index(input_shape)])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta": self.beta,
                "dropout": self.dropout,
                "epsilon": self.epsilon,
                "primary": self.primary,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
