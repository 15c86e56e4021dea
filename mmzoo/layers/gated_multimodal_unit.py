import keras
from keras import ops

from mmzoo.layers.modality_inputs import (
    broadcast_to_rank,
    explicit_mask,
    modality_mask,
    shape_list,
    unpack_modalities,
)

GATE_INPUTS = ("inputs", "projections")


@keras.saving.register_keras_serializable(package="mmzoo")
class GatedMultimodalUnit(keras.layers.Layer):
    """Gated Multimodal Unit (GMU): a learned, per-feature gate over modalities.

    For two modalities (the paper's bimodal unit):

        h_v = tanh(W_v x_v),  h_t = tanh(W_t x_t)
        z = sigmoid(W_z [x_v; x_t])
        h = z * h_v + (1 - z) * h_t

    For n modalities (the paper's general form), one gate per modality, each
    computed from all inputs: z_i = sigmoid(W_zi [x_1; ...; x_n]),
    h = sum_i z_i * h_i. The n gate matrices are held as one kernel of shape
    (sum_i d_i, n * units), which is the same map computed in one matmul.

    The paper gates on the raw inputs `[x_1; ...; x_n]` (`gate_on="inputs"`, the
    default, followed here). The authors' released code gates on the projected
    features `[h_1; ...; h_n]`; `gate_on="projections"` gives that variant.

    Missing modalities: with `mask` (batch, n), 1 = present, 0 = missing, a missing
    modality's input is zeroed before any projection and its gate is set to 0, so
    it contributes nothing. In the bimodal form the remaining modality's gate
    becomes 1 (`h = h_present`); in the n-modal form the other gates keep their
    values (they are independent sigmoids). With every modality missing, h = 0.

    Args:
        units: int. Size of the fused representation h.
        gate_on: str. `"inputs"` (paper) or `"projections"` (authors' code).
        bimodal_gate: bool. With exactly two modalities, use the paper's single
            complementary gate (z, 1 - z). `False` uses independent gates.
        activation: str. Activation of the modality projections (`"tanh"`).
        use_bias: bool. Biases in the projections and gates.
        return_gates: bool. Also return the gates, shape (batch, ..., n, units).
        kernel_initializer, bias_initializer: initializers of all kernels/biases.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of n >= 2 tensors of shape (batch, ..., d_i), the
            leading dimensions shared. A dict is taken in sorted key order.
        mask: optional (batch, n) tensor of 0/1 or booleans.

    Returns:
        h of shape (batch, ..., units), or `(h, gates)` when `return_gates`.

    Example:

    >>> import numpy as np
    >>> gmu = GatedMultimodalUnit(units=4, return_gates=True)
    >>> h, z = gmu([np.ones((2, 3), "float32"), np.ones((2, 5), "float32")])
    >>> tuple(h.shape), tuple(z.shape)
    ((2, 4), (2, 2, 4))

    References:
        Arevalo, Solorio, Montes-y-Gomez, Gonzalez. "Gated Multimodal Units for
        Information Fusion." ICLR 2017 workshop (arXiv:1702.01992).
    """

    def __init__(
        self,
        units,
        gate_on="inputs",
        bimodal_gate=True,
        activation="tanh",
        use_bias=True,
        return_gates=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ValueError(
                f"`units` must be a positive integer. Received: units={units!r}"
            )
        if gate_on not in GATE_INPUTS:
            raise ValueError(
                f"`gate_on` must be one of {GATE_INPUTS}. Received: gate_on={gate_on!r}"
            )
        self.units = units
        self.gate_on = gate_on
        self.bimodal_gate = bool(bimodal_gate)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.return_gates = return_gates
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _dense(self, units, name):
        return keras.layers.Dense(
            units,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        shapes = shape_list(input_shape, "GatedMultimodalUnit")
        self.num_modalities = len(shapes)
        if self.num_modalities < 2:
            raise ValueError(
                "GatedMultimodalUnit expects at least 2 modalities in `inputs`. "
                f"Received {self.num_modalities}: shapes {shapes}"
            )
        self.projections = []
        for i, shape in enumerate(shapes):
            dense = self._dense(self.units, name=f"projection_{i}")
            dense.build(shape)
            self.projections.append(dense)
        if self.gate_on == "inputs":
            gate_in = sum(int(s[-1]) for s in shapes)
        else:
            gate_in = self.units * self.num_modalities
        num_gates = 1 if self._complementary else self.num_modalities
        self.gate = self._dense(self.units * num_gates, name="gate")
        self.gate.build(tuple(shapes[0][:-1]) + (gate_in,))

    @property
    def _complementary(self):
        return self.bimodal_gate and self.num_modalities == 2

    def call(self, inputs, mask=None):
        xs, _ = unpack_modalities(inputs, "GatedMultimodalUnit")
        if len(xs) != self.num_modalities:
            raise ValueError(
                f"GatedMultimodalUnit was built for {self.num_modalities} "
                f"modalities; `inputs` has {len(xs)}."
            )
        mask = explicit_mask(mask)
        m = modality_mask(
            mask, self.num_modalities, "GatedMultimodalUnit", self.compute_dtype
        )
        rank = len(xs[0].shape)
        if m is not None:
            present = [
                broadcast_to_rank(m[:, i], rank) for i in range(self.num_modalities)
            ]
            xs = [x * p for x, p in zip(xs, present)]
        hs = [self.activation(proj(x)) for proj, x in zip(self.projections, xs)]
        gate_input = xs if self.gate_on == "inputs" else hs
        logits = self.gate(ops.concatenate(gate_input, axis=-1))
        if self._complementary:
            z = ops.sigmoid(logits)
            gates = [z, 1.0 - z]
            if m is not None:
                pv, pt = present
                gates = [pv * (1.0 - pt * (1.0 - z)), pt * (1.0 - pv * z)]
        else:
            z = ops.sigmoid(logits)
            gates = ops.split(z, self.num_modalities, axis=-1)
            if m is not None:
                gates = [g * p for g, p in zip(gates, present)]
        h = gates[0] * hs[0]
        for g, h_i in zip(gates[1:], hs[1:]):
            h = h + g * h_i
        if self.return_gates:
            return h, ops.stack(gates, axis=-2)
        return h

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape)
        leading = tuple(shapes[0][:-1])
        out = leading + (self.units,)
        if self.return_gates:
            return out, leading + (len(shapes), self.units)
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "gate_on": self.gate_on,
                "bimodal_gate": self.bimodal_gate,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "return_gates": self.return_gates,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
