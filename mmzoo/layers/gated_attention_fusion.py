import keras
from keras import ops

from mmzoo.layers.modality_inputs import (
    check_num_modalities,
    check_positive_int,
    explicit_mask,
    mask_modalities,
    modality_mask,
    normalize_over_present,
    shape_list,
    unpack_modalities,
)


@keras.saving.register_keras_serializable(package="mmzoo")
class GatedAttentionFusion(keras.layers.Layer):
    """Attention over modalities: a softmax-weighted sum of projected modalities.

        h_i     = activation(W_i x_i + b_i)             (common size `units`)
        s_i     = v^T tanh(W_s h_i + b_s)               (shared scoring MLP)
        alpha   = softmax_i(s_1, ..., s_n)
        h       = sum_i alpha_i h_i

    The weights alpha depend on the example (and on the position, for
    sequences), so the layer learns which modality to trust where. The scoring
    vector v has no bias: a bias shared by all modalities cancels in the softmax
    (it would never get a gradient).

    Missing modalities: with `mask` (batch, n), a missing modality's input is
    zeroed and its weight is 0, the others renormalised (a softmax over the
    present modalities only), so masking equals leaving the modality out. With
    none present, alpha = 0 and h = 0.

    Args:
        units: int. Size of the projections and of h.
        attention_units: int or None. Hidden size of the scoring MLP
            (`None`: `units`).
        activation: str or None. Activation of the projections (default: none).
        return_weights: bool. Also return alpha, shape (batch, ..., n).
        kernel_initializer, bias_initializer: initializers of all kernels/biases.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of n >= 2 tensors (batch, ..., d_i) with the same
            leading dimensions. A dict is taken in sorted key order.
        mask: optional (batch, n) tensor of 0/1 or booleans.

    Returns:
        h of shape (batch, ..., units), or `(h, alpha)` when `return_weights`.

    Example:

    >>> import numpy as np
    >>> x = [np.ones((2, 3), "float32"), np.ones((2, 5), "float32")]
    >>> h, alpha = GatedAttentionFusion(units=4, return_weights=True)(x)
    >>> tuple(h.shape), tuple(alpha.shape)
    ((2, 4), (2, 2))

    References:
        Bahdanau, Cho, Bengio. "Neural Machine Translation by Jointly Learning to
        Align and Translate." ICLR 2015 (additive attention). Hori et al.
        "Attention-Based Multimodal Fusion for Video Description." ICCV 2017.
    """

    def __init__(
        self,
        units,
        attention_units=None,
        activation=None,
        return_weights=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        if attention_units is not None:
            check_positive_int(attention_units, "attention_units")
        self.attention_units = attention_units
        self.activation = keras.activations.get(activation)
        self.return_weights = bool(return_weights)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _dense(self, units, name, activation=None, use_bias=True):
        return keras.layers.Dense(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        shapes = shape_list(input_shape, "GatedAttentionFusion")
        self.num_modalities = len(shapes)
        self.projections = []
        for i, shape in enumerate(shapes):
            dense = self._dense(self.units, f"projection_{i}", self.activation)
            dense.build(shape)
            self.projections.append(dense)
        projected = tuple(shapes[0][:-1]) + (self.units,)
        hidden = self.attention_units or self.units
        self.score_hidden = self._dense(hidden, "score_hidden", "tanh")
        self.score_hidden.build(projected)
        self.score = self._dense(1, "score", use_bias=False)
        self.score.build(tuple(shapes[0][:-1]) + (hidden,))

    def call(self, inputs, mask=None):
        xs, _ = unpack_modalities(inputs, "GatedAttentionFusion")
        check_num_modalities(xs, self.num_modalities, "GatedAttentionFusion")
        m = modality_mask(explicit_mask(mask), len(xs), "GatedAttentionFusion",
                          self.compute_dtype)
        xs = mask_modalities(xs, m)
        hs = ops.stack([p(x) for p, x in zip(self.projections, xs)], axis=-2)
        scores = self.score(self.score_hidden(hs))[..., 0]  # (batch, ..., n)
        alpha = normalize_over_present(ops.softmax(scores, axis=-1), m)
        h = ops.sum(ops.expand_dims(alpha, -1) * hs, axis=-2)
        if self.return_weights:
            return h, alpha
        return h

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "GatedAttentionFusion")
        leading = tuple(shapes[0][:-1])
        out = leading + (self.units,)
        if self.return_weights:
            return out, leading + (len(shapes),)
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "attention_units": self.attention_units,
                "activation": keras.activations.serialize(self.activation),
                "return_weights": self.return_weights,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
