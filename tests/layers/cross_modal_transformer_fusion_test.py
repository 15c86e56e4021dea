import math

import numpy as np
import pytest

from mmzoo.layers import CrossModalTransformerFusion
from mmzoo.testing import run_layer_test

_erf = np.vectorize(math.erf)


def _inputs(batch=4, seed=0):
    """A sequence of 3 tokens, a sequence of 2 tokens and a vector."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32")
            for s in ((batch, 3, 3), (batch, 2, 4), (batch, 2))]


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], "float32")


def _w(layer):
    return [v.numpy().astype("float64") for v in layer.weights]


def _ln(x, norm):
    gamma, beta = _w(norm)
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + norm.epsilon) * gamma + beta


def _dense(x, dense, gelu=False):
    y = x @ dense.kernel.numpy() + (dense.bias.numpy() if dense.use_bias else 0)
    return 0.5 * y * (1 + _erf(y / np.sqrt(2))) if gelu else y


def _block(b, x, c, keys=None, present=None):
    """Pre-LN block in NumPy; `keys` (batch, S) marks the usable keys."""
    q_in = _ln(x, b.norm_query)
    c_in = _ln(c, b.norm_context) if b.cross else q_in
    wq, wk, wv, wo = _w(b.attention)
    q, k, v = (np.einsum("bsd,dnh->bsnh", t, w)
               for t, w in ((q_in, wq), (c_in, wk), (c_in, wv)))
    scores = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    if keys is not None:
        scores = scores + (1 - keys[:, None, None, :]) * -1e9
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p = p / p.sum(-1, keepdims=True)
    a = np.einsum("btnh,nhu->btu", np.einsum("bnts,bsnh->btnh", p, v), wo)
    x = x + (a if present is None else a * present[:, None, None])
    return x + _dense(_dense(_ln(x, b.norm_ffn), b.ffn_in, gelu=True), b.ffn_out)


def _reference(layer, xs, mask=None):
    xs = [x if x.ndim == 3 else x[:, None] for x in xs]
    us = [_dense(x, p) for x, p in zip(xs, layer.projections)]
    if mask is None:
        mask = np.ones((len(xs[0]), len(xs)))
    if layer.mode == "cross":
        out = []
        for (i, j), blocks, norm in zip(layer.pairs, layer.pair_blocks,
                                        layer.pair_norms):
            y = us[i]
            for b in blocks:
                y = _block(b, y, us[j], present=mask[:, j])
            out.append(_ln(y, norm).mean(1) * mask[:, i : i + 1])
        return np.concatenate(out, -1)
    emb = layer.modality_embedding.numpy()
    x = np.concatenate([u + emb[i] for i, u in enumerate(us)], axis=1)
    keep = np.concatenate([np.repeat(mask[:, i : i + 1], u.shape[1], 1)
                           for i, u in enumerate(us)], axis=1)
    for b in layer.blocks:
        x = _block(b, x, x, keys=keep)
    x = _ln(x, layer.final_norm)
    total = keep.sum(1, keepdims=True)
    return (x * keep[..., None]).sum(1) / np.where(total > 0, total, 1)


@pytest.mark.parametrize(
    "mode,n,out,weights",
    [
        # projections 2n; per ordered pair: 7 LayerNorm/attention/FFN pieces of
        # 2 weights (query/context/ffn norms, 4 attention kernels, 2 dense)
        # = 14, plus the pair's final norm (2).
        ("cross", 2, 2 * 8, 2 * 2 + 2 * (14 + 2)),
        # projections 2n, modality embedding, one self block (12), final norm.
        ("early", 3, 8, 2 * 3 + 1 + 12 + 2),
    ],
)
def test_harness(mode, n, out, weights):
    # Sequence inputs: with a single key token the softmax is constant and the
    # query/key kernels get no gradient (a property of attention, not a bug).
    xs = _inputs()[:n] if mode == "cross" else _inputs()
    run_layer_test(
        CrossModalTransformerFusion,
        {"units": 8, "num_heads": 2, "mode": mode, "dropout": 0.1},
        input_data=dict(zip("abc", xs)),
        call_kwargs={"mask": MASK[:, :n]},
        expected_output_shape=(4, out),
        expected_num_trainable_weights=weights,
    )


@pytest.mark.parametrize("mode", ["cross", "early"])
def test_matches_numpy_reference(mode):
    xs = _inputs()
    layer = CrossModalTransformerFusion(8, mode=mode, num_layers=2)
    for mask in (None, MASK):
        np.testing.assert_allclose(layer(xs, mask=mask), _reference(layer, xs, mask),
                                   rtol=1e-4, atol=1e-5)


def test_early_mask_equals_leaving_the_modality_out():
    xs = _inputs()
    layer = CrossModalTransformerFusion(8, mode="early")
    masked = layer(xs, mask=np.array([[1, 0, 1]] * 4, "float32"))
    two = CrossModalTransformerFusion(8, mode="early")
    two([xs[0], xs[2]])
    two.projections[0].set_weights(layer.projections[0].get_weights())
    two.projections[1].set_weights(layer.projections[2].get_weights())
    two.modality_embedding.assign(layer.modality_embedding.numpy()[[0, 2]])
    two.blocks[0].set_weights(layer.blocks[0].get_weights())
    two.final_norm.set_weights(layer.final_norm.get_weights())
    np.testing.assert_allclose(masked, two([xs[0], xs[2]]), rtol=1e-5, atol=1e-6)


def test_cross_mask_zeroes_missing_targets_and_ignores_missing_sources():
    xs = _inputs()
    layer = CrossModalTransformerFusion(8)
    out = np.asarray(layer(xs, mask=MASK)).reshape(4, 6, 8)
    # Pairs (0,1) (0,2) (1,0) (1,2) (2,0) (2,1); row 1 misses modality 1.
    np.testing.assert_array_equal(out[1, 2:4], 0.0)
    np.testing.assert_array_equal(out[3], 0.0)
    garbage = [xs[0], xs[1] * 100 + 5, xs[2]]
    again = np.asarray(layer(garbage, mask=MASK)).reshape(4, 6, 8)
    np.testing.assert_allclose(again[1:], out[1:], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "inputs,kwargs,match",
    [
        ([np.ones((2, 3), "float32")], {}, "at least 2 modalities"),
        ([np.ones((2, 3), "float32"), np.ones((3, 4, 3), "float32")], {}, "leading"),
        ([np.ones((2, 3), "float32"), np.ones((2, 3), "int32")], {}, "floating"),
        ([np.ones((2, 3), "float32"), np.ones((2, 3, 4, 5), "float32")], {},
         r"\(batch, d\) or \(batch, T, d\). Received shape \(2, 3, 4, 5\)"),
        ([np.ones((2, 3), "float32")] * 2, {"mask": np.ones((2, 3), "float32")},
         r"`mask` of shape \(batch, 2\). Received shape \(2, 3\)"),
    ],
)
def test_bad_inputs(inputs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CrossModalTransformerFusion(4)(inputs, **kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"units": 0}, "units=0"), ({"units": 6, "num_heads": 4}, "num_heads=4"),
     ({"units": 4, "mode": "late"}, "mode='late'"),
     ({"units": 4, "num_layers": 0}, "num_layers=0"),
     ({"units": 4, "dropout": -0.1}, "dropout=-0.1")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CrossModalTransformerFusion(**kwargs)
