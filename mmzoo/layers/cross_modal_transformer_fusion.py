import keras
from keras import ops

from mmzoo.layers.modality_inputs import (
    check_choice,
    check_num_modalities,
    check_positive_int,
    check_rate,
    explicit_mask,
    modality_mask,
    shape_list,
    unpack_token_modalities,
)

TRANSFORMER_MODES = ("cross", "early")


class _AttentionBlock(keras.layers.Layer):
    """Pre-LayerNorm attention block (MulT's): x + MHA(LN(x), LN(c)), then
    x + FFN(LN(x)). Built from its parent's config; not serialised alone."""

    def __init__(self, units, num_heads, intermediate_dim, dropout, cross, **kwargs):
        super().__init__(**kwargs)
        self.units, self.num_heads = units, num_heads
        self.intermediate_dim, self.rate, self.cross = intermediate_dim, dropout, cross

    def build(self, query_shape, context_shape):
        kw = {"dtype": self.dtype_policy}
        self.norm_query = keras.layers.LayerNormalization(name="norm_query", **kw)
        self.norm_query.build(query_shape)
        if self.cross:
            self.norm_context = keras.layers.LayerNormalization(
                name="norm_context", **kw)
            self.norm_context.build(context_shape)
        # No attention biases: a key bias shifts all scores equally, cancels in
        # the softmax and would never train.
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, self.units // self.num_heads, dropout=self.rate,
            use_bias=False, name="attention", **kw)
        self.attention.build(query_shape, context_shape)
        self.norm_ffn = keras.layers.LayerNormalization(name="norm_ffn", **kw)
        self.norm_ffn.build(query_shape)
        self.ffn_in = keras.layers.Dense(
            self.intermediate_dim, activation="gelu", name="ffn_in", **kw)
        self.ffn_in.build(query_shape)
        self.ffn_out = keras.layers.Dense(self.units, name="ffn_out", **kw)
        self.ffn_out.build(tuple(query_shape[:-1]) + (self.intermediate_dim,))
        self.drop = keras.layers.Dropout(self.rate, **kw)

    def call(self, x, context, attention_mask=None, source_present=None,
             training=None):
        q = self.norm_query(x)
        c = self.norm_context(context) if self.cross else q
        a = self.attention(q, c, attention_mask=attention_mask, training=training)
        if source_present is not None:
            a = a * source_present
        x = x + self.drop(a, training=training)
        f = self.ffn_out(self.ffn_in(self.norm_ffn(x)))
        return x + self.drop(f, training=training)


@keras.saving.register_keras_serializable(package="mmzoo")
class CrossModalTransformerFusion(keras.layers.Layer):
    """Transformer fusion of token modalities: cross-modal (MulT) or early.

    Every modality is first projected to `units`: u_i = W_i x_i + b_i (a vector
    (batch, d) is one token, a sequence (batch, T_i, d_i) keeps its T_i tokens;
    lengths may differ). Blocks are pre-LayerNorm:
    y <- y + MHA(LN(y), LN(c)); y <- y + FFN(LN(y)).

    - `mode="cross"` (MulT): for every ordered pair (target i, source j), i != j,
      `num_layers` blocks where u_i attends to u_j (queries from the target,
      keys and values from the source), then LayerNorm and a mean over the
      target's tokens: p_ij. Output: [p_01; p_02; ...] (pairs ordered by target,
      then source), of size n (n - 1) units.
    - `mode="early"`: tokens [u_1 + e_1; ...; u_n + e_n] with learned modality
      embeddings e_i, `num_layers` self-attention blocks, LayerNorm, mean over
      all tokens. Output size `units`.

    No positional encodings are added (MulT adds sinusoidal ones; add them to
    the inputs when order matters) and there are no token-level padding masks.

    Missing modalities: with `mask` (batch, n), in the early mode a missing
    modality's tokens are removed from the attention keys and from the mean, so
    masking equals leaving the modality out (same weights); with none present
    the output is 0. In the cross mode a pair whose target is missing gives
    p_ij = 0, and a pair whose source is missing drops its attention term (the
    block keeps the residual and feed-forward path of the target).

    Args:
        units: int. Model width (divisible by `num_heads`).
        num_heads: int. Attention heads.
        mode: str. `"cross"` or `"early"`.
        num_layers: int. Blocks per pair (cross) or in the stack (early).
        intermediate_dim: int or None. Feed-forward width (`None`: 2 * units).
        dropout: float in [0, 1). Attention and residual dropout.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of n >= 2 tensors (batch, d_i) or (batch, T_i, d_i)
            with the same batch size. A dict is taken in sorted key order.
        mask: optional (batch, n) tensor of 0/1 or booleans.
        training: bool. Dropout on or off.

    Returns:
        (batch, n (n - 1) units) in the cross mode, (batch, units) in the early.

    Example:

    >>> import numpy as np
    >>> x = [np.ones((2, 5, 3), "float32"), np.ones((2, 4), "float32")]
    >>> tuple(CrossModalTransformerFusion(8)(x).shape)
    (2, 16)
    >>> tuple(CrossModalTransformerFusion(8, mode="early")(x).shape)
    (2, 8)

    References:
        Tsai, Bai, Liang, Kolter, Morency, Salakhutdinov. "Multimodal Transformer
        for Unaligned Multimodal Language Sequences." ACL 2019.
    """

    def __init__(self, units, num_heads=2, mode="cross", num_layers=1,
                 intermediate_dim=None, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.num_heads = check_positive_int(num_heads, "num_heads")
        if units % num_heads:
            raise ValueError(
                f"`units` must be divisible by `num_heads`. Received: units={units}"
                f", num_heads={num_heads}")
        self.mode = check_choice(mode, "mode", TRANSFORMER_MODES)
        self.num_layers = check_positive_int(num_layers, "num_layers")
        if intermediate_dim is not None:
            check_positive_int(intermediate_dim, "intermediate_dim")
        self.intermediate_dim = intermediate_dim
        self.dropout = check_rate(dropout, "dropout")

    def _block(self, cross, name):
        return _AttentionBlock(
            self.units, self.num_heads, self.intermediate_dim or 2 * self.units,
            self.dropout, cross, dtype=self.dtype_policy, name=name)

    def build(self, input_shape):
        name = "CrossModalTransformerFusion"
        shapes = [s if len(s) == 3 else (s[0], 1, s[1])
                  for s in shape_list(input_shape, name)]
        n = self.num_modalities = len(shapes)
        self.projections = []
        for i, shape in enumerate(shapes):
            dense = keras.layers.Dense(self.units, dtype=self.dtype_policy,
                                       name=f"projection_{i}")
            dense.build(shape)
            self.projections.append(dense)
        tokens = [tuple(s[:-1]) + (self.units,) for s in shapes]
        norm = lambda nm: keras.layers.LayerNormalization(  # noqa: E731
            dtype=self.dtype_policy, name=nm)
        if self.mode == "cross":
            self.pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
            self.pair_blocks, self.pair_norms = [], []
            for i, j in self.pairs:
                blocks = [self._block(True, f"block_{i}_{j}_{k}")
                          for k in range(self.num_layers)]
                for block in blocks:
                    block.build(tokens[i], tokens[j])
                self.pair_blocks.append(blocks)
                self.pair_norms.append(norm(f"norm_{i}_{j}"))
                self.pair_norms[-1].build(tokens[i])
        else:
            self.modality_embedding = self.add_weight(
                shape=(n, self.units), initializer="random_normal",
                name="modality_embedding")
            seq = (shapes[0][0], None, self.units)
            self.blocks = [self._block(False, f"block_{k}")
                           for k in range(self.num_layers)]
            for block in self.blocks:
                block.build(seq, seq)
            self.final_norm = norm("final_norm")
            self.final_norm.build(seq)

    def call(self, inputs, mask=None, training=None):
        name = "CrossModalTransformerFusion"
        xs, _ = unpack_token_modalities(inputs, name)
        check_num_modalities(xs, self.num_modalities, name)
        m = modality_mask(explicit_mask(mask), len(xs), name, self.compute_dtype)
        us = [proj(x) for proj, x in zip(self.projections, xs)]
        if self.mode == "cross":
            return self._cross(us, m, training)
        return self._early(us, m, training)

    def _cross(self, us, m, training):
        outputs = []
        for (i, j), blocks, norm in zip(self.pairs, self.pair_blocks, self.pair_norms):
            present = None if m is None else ops.reshape(m[:, j], (-1, 1, 1))
            y = us[i]
            for block in blocks:
                y = block(y, us[j], source_present=present, training=training)
            pooled = ops.mean(norm(y), axis=1)
            outputs.append(pooled if m is None else pooled * m[:, i : i + 1])
        return ops.concatenate(outputs, axis=-1)

    def _early(self, us, m, training):
        emb = ops.cast(self.modality_embedding, self.compute_dtype)
        x = ops.concatenate([u + emb[i] for i, u in enumerate(us)], axis=1)
        keep, attention_mask = None, None
        if m is not None:
            keep = ops.concatenate(
                [ops.ones_like(u[..., 0]) * m[:, i : i + 1] for i, u in enumerate(us)],
                axis=1)  # (batch, tokens)
            attention_mask = ops.cast(
                ops.expand_dims(ops.ones_like(keep), -1) * ops.expand_dims(keep, 1),
                "bool")
        for block in self.blocks:
            x = block(x, x, attention_mask=attention_mask, training=training)
        x = self.final_norm(x)
        if keep is None:
            return ops.mean(x, axis=1)
        total = ops.sum(keep, axis=1, keepdims=True)
        summed = ops.sum(x * ops.expand_dims(keep, -1), axis=1)
        return summed / ops.where(total > 0, total, ops.ones_like(total))

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "CrossModalTransformerFusion")
        n = len(shapes)
        return (shapes[0][0], self.units * (n * (n - 1) if self.mode == "cross" else 1))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_heads": self.num_heads,
                "mode": self.mode,
                "num_layers": self.num_layers,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
            }
        )
        return config
