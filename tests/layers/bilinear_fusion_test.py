import numpy as np
import pytest

from mmzoo.layers import BilinearFusion
from mmzoo.testing import run_layer_test


def _inputs(dims=(3, 5), batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, d)).astype("float32") for d in dims]


MASK = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], "float32")


def _reference(layer, x, y):
    """z = x^T W y + x^T U + V y + b in each form."""
    w, u, v, b = (t.numpy().astype("float64")
                  for t in (layer.w, layer.u, layer.v, layer.b))
    if layer.form == "matrix":
        bilinear = np.einsum("ni,ijk,nj->nk", x, w, y) + y @ v
    elif layer.form == "vector":
        bilinear = (x @ w + v) * y
    else:
        bilinear = (x @ w[:, None] + v) * y
    return bilinear + x @ u + b


@pytest.mark.parametrize(
    "init,out", [({"units": 4}, 4), ({"form": "vector"}, 5), ({"form": "scalar"}, 5)]
)
def test_harness(init, out):
    x, y = _inputs()
    run_layer_test(
        BilinearFusion,
        {**init, "bias_initializer": "random_normal"},
        input_data={"a_context": x, "b_input": y},
        call_kwargs={"mask": MASK},
        expected_output_shape=(4, out),
        expected_num_trainable_weights=4,  # W, U, V, b
    )


@pytest.mark.parametrize("init", [{"units": 4}, {"form": "vector"}, {"form": "scalar"}])
def test_matches_numpy_reference(init):
    x, y = _inputs()
    layer = BilinearFusion(**init, bias_initializer="random_normal")
    np.testing.assert_allclose(layer([x, y]), _reference(layer, x, y),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("init", [{"units": 4}, {"form": "vector"}, {"form": "scalar"}])
def test_mask_reduces_to_the_linear_terms(init):
    x, y = _inputs()
    layer = BilinearFusion(**init, bias_initializer="random_normal")
    out = np.asarray(layer([x, y], mask=MASK))
    u, v, b = layer.u.numpy(), layer.v.numpy(), layer.b.numpy()
    # Without y: z = x^T U + b. Without both: z = b.
    np.testing.assert_allclose(out[1], x[1] @ u + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[3], b, rtol=1e-6)
    # Without x: z = V y + b (V a matrix, a vector of gates, or a scalar).
    vy = y[2] @ v if layer.form == "matrix" else v * y[2]
    np.testing.assert_allclose(out[2], vy + b, rtol=1e-5, atol=1e-6)


def test_sequences():
    rng = np.random.default_rng(1)
    x, y = (rng.normal(size=(2, 6, d)).astype("float32") for d in (3, 4))
    for layer, out in [(BilinearFusion(5), 5), (BilinearFusion(form="scalar"), 4)]:
        assert tuple(layer([x, y]).shape) == (2, 6, out)


@pytest.mark.parametrize(
    "inputs,kwargs,match",
    [
        ([np.ones((2, 3), "float32")], {}, "exactly 2 modalities"),
        ([np.ones((2, 3), "float32")] * 3, {}, "exactly 2 modalities"),
        ([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")], {}, "leading"),
        ([np.ones((2, 3), "float32"), np.ones((2, 3), "int32")], {}, "floating"),
        ([np.ones((2, 3), "float32")] * 2, {"mask": np.ones((2, 3), "float32")},
         r"`mask` of shape \(batch, 2\). Received shape \(2, 3\)"),
    ],
)
def test_bad_inputs(inputs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        BilinearFusion(4)(inputs, **kwargs)


def test_vector_form_refuses_another_output_size():
    with pytest.raises(ValueError, match="units=4"):
        BilinearFusion(4, form="vector")(_inputs())


@pytest.mark.parametrize(
    "kwargs,match",
    [({}, "units=None"), ({"units": 0}, "units=0"),
     ({"units": 4, "form": "tensor"}, "form='tensor'")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BilinearFusion(**kwargs)
