import keras
from keras import ops

from mmzoo.layers.modality_inputs import (
    check_choice,
    check_num_modalities,
    explicit_mask,
    modality_mask,
    normalize_over_present,
    shape_list,
    unpack_modalities,
)

LATE_MODES = ("mean", "weighted", "learned")


@keras.saving.register_keras_serializable(package="mmzoo")
class LateFusion(keras.layers.Layer):
    """Late fusion: a weighted mean of per-modality predictions.

    Each modality brings its own prediction p_i of shape (batch, ..., k)
    (logits, probabilities or regression outputs, computed elsewhere):

        y = sum_i w_i p_i,   sum_i w_i = 1

    - `mode="mean"`: w_i = 1 / n.
    - `mode="weighted"`: fixed w_i = c_i / sum_j c_j, `c = modality_weights`
      from the config (non-negative, not all zero). No trainable weights.
    - `mode="learned"`: w = softmax(a), `a` a trainable (n,) vector (starts at 0,
      i.e. at the mean).

    Missing modalities: with `mask` (batch, n), a missing modality gets weight
    0 and the weights are renormalised over the present ones, so masking equals
    late fusion of the present predictions alone. With none present, y = 0.

    Args:
        mode: str. `"mean"`, `"weighted"` or `"learned"`.
        modality_weights: list of n floats. Required by (and only used with)
            `mode="weighted"`.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of n >= 2 tensors of shape (batch, ..., k), all the
            same shape. A dict is taken in sorted key order.
        mask: optional (batch, n) tensor of 0/1 or booleans.

    Returns:
        y of shape (batch, ..., k).

    Example:

    >>> import numpy as np
    >>> late = LateFusion(mode="weighted", modality_weights=[3.0, 1.0])
    >>> p = [np.ones((1, 2), "float32"), np.zeros((1, 2), "float32")]
    >>> np.asarray(late(p)).tolist()
    [[0.75, 0.75]]

    References:
        Snoek, Worring, Smeulders. "Early versus Late Fusion in Semantic Video
        Analysis." ACM Multimedia 2005.
    """

    def __init__(self, mode="mean", modality_weights=None, **kwargs):
        super().__init__(**kwargs)
        check_choice(mode, "mode", LATE_MODES)
        if mode == "weighted":
            ok = isinstance(modality_weights, (list, tuple)) and all(
                isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0
                for w in modality_weights
            )
            if not ok or len(modality_weights) < 2 or sum(modality_weights) <= 0:
                raise ValueError(
                    "`modality_weights` must be a list of n >= 2 non-negative "
                    "numbers, not all zero, with mode='weighted'. Received: "
                    f"modality_weights={modality_weights!r}"
                )
            modality_weights = [float(w) for w in modality_weights]
        elif modality_weights is not None:
            raise ValueError(
                f"`modality_weights` is only used with mode='weighted'. Received: "
                f"modality_weights={modality_weights!r} with mode={mode!r}"
            )
        self.mode = mode
        self.modality_weights = modality_weights

    def build(self, input_shape):
        shapes = shape_list(input_shape, "LateFusion")
        self.num_modalities = len(shapes)
        if self.mode == "weighted" and len(self.modality_weights) != len(shapes):
            raise ValueError(
                f"LateFusion got {len(shapes)} modalities but "
                f"modality_weights={self.modality_weights!r} has "
                f"{len(self.modality_weights)} entries"
            )
        if self.mode == "learned":
            self.logits = self.add_weight(
                shape=(len(shapes),), initializer="zeros", name="logits"
            )

    def _weights(self):
        n = self.num_modalities
        if self.mode == "mean":
            return ops.full((n,), 1.0 / n, dtype=self.compute_dtype)
        if self.mode == "weighted":
            total = sum(self.modality_weights)
            w = [c / total for c in self.modality_weights]
            return ops.convert_to_tensor(w, dtype=self.compute_dtype)
        w = ops.softmax(ops.cast(self.logits, "float32"))
        return ops.cast(w, self.compute_dtype)

    def call(self, inputs, mask=None):
        ps, _ = unpack_modalities(inputs, "LateFusion", same_last_dim=True)
        check_num_modalities(ps, self.num_modalities, "LateFusion")
        m = modality_mask(explicit_mask(mask), len(ps), "LateFusion",
                          self.compute_dtype)
        stacked = ops.stack(ps, axis=-1)  # (batch, ..., k, n)
        w = self._weights()
        if m is not None:
            w = normalize_over_present(ops.expand_dims(w, 0) * ops.ones_like(m), m)
            w = ops.reshape(w, (-1,) + (1,) * (len(stacked.shape) - 2) + (len(ps),))
        return ops.sum(stacked * w, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(shape_list(input_shape, "LateFusion")[0])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "modality_weights": self.modality_weights})
        return config
