"""Property tests: every fusion layer gives finite outputs and finite gradients.

Random batch sizes (1, 2, 3, 7), numbers of modalities (2..4 where a layer takes
any number), feature widths (1..9), sequence lengths, masks, and values that are
normal, all zeros, constant over the batch, or +-1e4 extremes; in float32 and
under the mixed_bfloat16 and mixed_float16 policies (see `numerics_strategies`
for why mixed_float16 leaves out the +-1e4 extremes). Gradients are those of
the float32 sum of every output, w.r.t. the inputs and every trainable weight.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numerics_strategies import (
    POLICIES,
    WIDTHS,
    assert_finite,
    assert_finite_gradients,
    batch_sizes,
    gradients,
    kinds_for,
    masks,
    property_settings,
    values,
)

from mmzoo import layers as L

MAX_EXAMPLES = 5
# The transformer is ~10x slower per example than the other layers.
SLOW = {"CrossModalTransformerFusion": 3}


def _multi(**kw):
    return dict(inputs="multi", mask=True, seq=True, min_n=2, max_n=4, **kw)


# name -> how to build the layer (policy, config) and which inputs it takes.
SPECS = {
    "GatedMultimodalUnit": _multi(
        make=lambda p, c: L.GatedMultimodalUnit(
            4, gate_on=c[0], bimodal_gate=c[1], return_gates=True, dtype=p
        ),
        configs=[("inputs", True), ("projections", True), ("inputs", False)],
    ),
    "ConcatFusion": _multi(
        make=lambda p, c: L.ConcatFusion(units=c, activation="relu", dtype=p),
        configs=[None, 3],
    ),
    "AdditiveFusion": _multi(
        make=lambda p, c: L.AdditiveFusion(3, activation=c, dtype=p),
        configs=[None, "tanh"],
    ),
    "MultiplicativeFusion": _multi(
        make=lambda p, c: L.MultiplicativeFusion(3, plus_one=c, dtype=p),
        configs=[True, False],
    ),
    "BilinearFusion": dict(
        inputs="multi", mask=True, seq=True, min_n=2, max_n=2,
        make=lambda p, c: L.BilinearFusion(
            units=3 if c == "matrix" else None, form=c, dtype=p
        ),
        configs=["matrix", "vector", "scalar"],
    ),
    "TensorFusion": _multi(make=lambda p, c: L.TensorFusion(dtype=p), configs=[None]),
    "LowRankFusion": _multi(
        make=lambda p, c: L.LowRankFusion(3, rank=c, dtype=p), configs=[1, 4]
    ),
    "PolynomialFusion": _multi(
        make=lambda p, c: L.PolynomialFusion(3, order=c, rank=2, dtype=p),
        configs=[1, 2, 3],
    ),
    "GatedAttentionFusion": _multi(
        make=lambda p, c: L.GatedAttentionFusion(
            4, activation=c, return_weights=True, dtype=p
        ),
        configs=[None, "relu"],
    ),
    "ModalityShiftingFusion": _multi(
        make=lambda p, c: L.ModalityShiftingFusion(beta=c, dropout=0.1, dtype=p),
        configs=[1.0, 0.5],
    ),
    "CrossModalTransformerFusion": dict(
        inputs="tokens", mask=True, min_n=2, max_n=3,
        make=lambda p, c: L.CrossModalTransformerFusion(4, num_heads=2, mode=c,
                                                        dtype=p),
        configs=["cross", "early"],
    ),
    "LateFusion": dict(
        inputs="same", mask=True, seq=True, min_n=2, max_n=4,
        make=lambda p, c: L.LateFusion(mode=c, dtype=p),
        configs=["mean", "learned"],
    ),
    "HybridFusion": _multi(
        make=lambda p, c: L.HybridFusion(3, 2, activation=c, dtype=p),
        configs=["relu", "tanh"],
    ),
    "ProductOfExperts": dict(
        inputs="experts", mask=True, min_n=1, max_n=4,
        make=lambda p, c: L.ProductOfExperts(use_prior_expert=c, dtype=p),
        configs=[True, False],
    ),
    "GaussianSample": dict(
        inputs="gaussian", mask=False, min_n=1, max_n=1,
        make=lambda p, c: L.GaussianSample(seed=3, dtype=p), configs=[None],
    ),
    "ModalityDropout": _multi(
        make=lambda p, c: L.ModalityDropout(rate=c, seed=3, dtype=p),
        configs=[0.5, 0.9],
    ),
}


def test_every_public_layer_is_covered():
    assert sorted(SPECS) == sorted(L.__all__)


@st.composite
def cases(draw, spec, policy):
    """(config, arrays, kinds, mask): one call of the layer."""
    kinds = kinds_for(policy)
    config = draw(st.sampled_from(spec["configs"]))
    batch = draw(batch_sizes())
    n = draw(st.integers(spec["min_n"], spec["max_n"]))
    kind = spec["inputs"]
    if kind in ("experts", "gaussian"):
        lead = (batch, n) if kind == "experts" else (batch,)
        shape = lead + (draw(WIDTHS),)
        arrays = [draw(values(shape, kinds)) for _ in range(2)]  # mu, logvar
    elif kind == "tokens":
        shapes = []
        for _ in range(n):
            d = draw(WIDTHS)
            t = draw(st.one_of(st.none(), st.integers(1, 5)))
            shapes.append((batch, d) if t is None else (batch, t, d))
        arrays = [draw(values(s, kinds)) for s in shapes]
    else:
        lead = (batch,)
        if spec.get("seq") and draw(st.booleans()):
            lead = (batch, draw(st.integers(1, 4)))
        if kind == "same":
            d = draw(WIDTHS)
            widths = [d] * n
        else:
            widths = [draw(WIDTHS) for _ in range(n)]
        arrays = [draw(values(lead + (w,), kinds)) for w in widths]
    mask = None
    if spec["mask"] and draw(st.booleans()):
        mask = draw(masks(batch, n))
        if kind == "experts" and not config:
            # Without a prior expert, an example with every expert masked has
            # no Gaussian at all (documented: log-variance +inf); keep one.
            mask[:, 0] = 1.0
    return config, [a for _, a in arrays], [k for k, _ in arrays], mask


def _call(name, layer, arrays, mask):
    spec = SPECS[name]
    kw = {} if mask is None else {"mask": mask}
    if spec["inputs"] in ("experts",):
        return lambda mu, logvar: layer(mu, logvar, **kw)
    if spec["inputs"] == "gaussian":
        return lambda mu, logvar: layer(mu, logvar, training=True)
    if name == "ModalityDropout":
        return lambda *xs: layer(list(xs), training=True, **kw)
    if name == "ModalityShiftingFusion":
        return lambda *xs: layer(list(xs), training=True, **kw)
    return lambda *xs: layer(list(xs), **kw)


def _check(name, policy, case):
    config, arrays, kinds, mask = case
    layer = SPECS[name]["make"](policy, config)
    fn = _call(name, layer, arrays, mask)
    outputs, input_grads, weight_grads, weights = gradients(
        fn, arrays, lambda: layer.trainable_weights
    )
    assert_finite(outputs, f"{name} output")
    # ModalityDropout returns a mask: its inputs only give their shapes.
    no_input_grad = name == "ModalityDropout"
    names = [f"input {i} ({k})" for i, k in enumerate(kinds)]
    assert_finite_gradients(
        input_grads, names, allow_none=names if no_input_grad else ()
    )
    assert_finite_gradients(weight_grads, [w.path for w in weights])
    if name == "ModalityDropout":
        m = np.asarray(outputs, "float32")
        assert set(np.unique(m)) <= {0.0, 1.0}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_finite_outputs_and_gradients(name, policy):
    spec = SPECS[name]

    @property_settings(SLOW.get(name, MAX_EXAMPLES))
    @given(case=cases(spec, policy))
    def check(case):
        _check(name, policy, case)

    check()
