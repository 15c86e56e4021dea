"""`run_layer_test`: the checks every mmzoo layer goes through (DESIGN.md).

1. `get_config`/`from_config` round trip, and `serialize_keras_object` ->
   `deserialize_keras_object` with no custom-object scope (proves registration).
2. `.keras` save and load (safe mode) of a small functional model: same outputs.
3. Symbolic shape == `compute_output_shape` == eager shape, at two batch sizes.
4. Exact trainable weight count; every trainable weight gets a finite, non-zero
   gradient, and one `fit` step changes it.
5. `mixed_bfloat16` and `mixed_float16`: outputs in the compute dtype (or float32
   where the layer says so), variables in float32, everything finite.
6. XLA: `jit_compile=True` output equals eager output.

Correctness (a NumPy reference), bad input and masks are layer specific: the
layer's own test adds them, usually with `expected_output`.
"""

import os
import tempfile

import keras
import numpy as np

# Gradients are taken with tf.GradientTape: the project runs on the TensorFlow
# backend, and the tape gives every weight's gradient directly.
import tensorflow as tf
from keras import ops, tree

MIXED_POLICIES = ("mixed_bfloat16", "mixed_float16")


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    call_kwargs=None,
    expected_output_shape=None,
    expected_output=None,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    float32_outputs=(),
    rtol=1e-5,
    atol=1e-5,
    run_training_check=True,
    run_mixed_precision_check=True,
    run_xla_check=True,
    run_saving_check=True,
):
    """Run the shared layer checks; raises `AssertionError` on the first failure.

    Args:
        layer_cls: class. The layer to test.
        init_kwargs: dict. Constructor arguments.
        input_data: array, or list/dict of arrays. The first call argument.
        call_kwargs: dict, optional. Further call arguments; arrays among them
            (a modality mask, say) become model inputs in the functional checks.
        expected_output_shape: shape or structure of shapes (batch included).
        expected_output: array or structure, optional. Compared to the eager
            output with `rtol`/`atol`.
        expected_num_trainable_weights: int, optional. Exact count once built.
        expected_num_non_trainable_weights: int, optional.
        float32_outputs: output paths (indices or keys into a tuple/dict output,
            or `()` -> none) that stay float32 under mixed precision.
        run_*_check: bool. Turn a group of checks off (say why in the test).

    Returns:
        The layer built and called on `input_data`.
    """
    call_kwargs = dict(call_kwargs or {})
    tensor_kwargs = {k: v for k, v in call_kwargs.items() if _is_array(v)}
    static_kwargs = {k: v for k, v in call_kwargs.items() if not _is_array(v)}

    layer = layer_cls(**init_kwargs)
    output = layer(
        _to_tensors(input_data), **_to_tensors(tensor_kwargs), **static_kwargs
    )
    _assert_all_finite(output, "eager output")

    if expected_output_shape is not None:
        _assert_shapes_equal(_shapes(output), expected_output_shape, "eager output")
    if expected_output is not None:
        _assert_close(output, expected_output, rtol, atol, "eager output")
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights, (
            f"{layer_cls.__name__}: expected {expected_num_trainable_weights} "
            f"trainable weights, found {len(layer.trainable_weights)}: "
            f"{[w.path for w in layer.trainable_weights]}"
        )
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights, (
            f"{layer_cls.__name__}: non-trainable weights {layer.non_trainable_weights}"
        )

    _check_config_round_trip(layer_cls, layer)
    _check_shapes(layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs)
    if run_saving_check:
        _check_saving(layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs)
    if run_training_check and layer.trainable_weights:
        _check_gradients(
            layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs
        )
    if run_mixed_precision_check:
        for policy in MIXED_POLICIES:
            _check_mixed_precision(
                layer_cls,
                init_kwargs,
                input_data,
                tensor_kwargs,
                static_kwargs,
                policy,
                float32_outputs,
            )
    if run_xla_check:
        _check_xla(layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs)
    return layer


# --- the checks --------------------------------------------------------------


def _check_config_round_trip(layer_cls, layer):
    config = layer.get_config()
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config, "from_config(get_config()) differs"
    serialized = keras.saving.serialize_keras_object(layer)
    deserialized = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(deserialized, layer_cls), (
        f"deserialize_keras_object gave {type(deserialized)}: is {layer_cls.__name__}"
        " registered with keras.saving.register_keras_serializable?"
    )
    assert deserialized.get_config() == config


def _check_shapes(layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs):
    for batch_data, batch_kwargs in _two_batches(input_data, tensor_kwargs):
        layer = layer_cls(**init_kwargs)
        symbolic_inputs = _symbolic(batch_data, batch_size=None)
        symbolic_kwargs = _symbolic(batch_kwargs, batch_size=None)
        symbolic = layer(symbolic_inputs, **symbolic_kwargs, **static_kwargs)
        eager = layer(
            _to_tensors(batch_data), **_to_tensors(batch_kwargs), **static_kwargs
        )
        eager_shapes = _shapes(eager)
        symbolic_shapes = _shapes(symbolic)
        _assert_shapes_equal(
            symbolic_shapes, eager_shapes, "symbolic output", allow_none_batch=True
        )
        computed = layer.compute_output_shape(_shapes(batch_data))
        _assert_shapes_equal(_as_tuples(computed), eager_shapes, "compute_output_shape")


def _check_saving(layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs):
    model, feed = _functional_model(
        layer_cls(**init_kwargs), input_data, tensor_kwargs, static_kwargs
    )
    expected = model(feed)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    _assert_close(loaded(feed), expected, 1e-6, 1e-6, "reloaded .keras model")


def _check_gradients(layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs):
    layer = layer_cls(**init_kwargs)
    model, feed = _functional_model(layer, input_data, tensor_kwargs, static_kwargs)
    targets = _random_targets(model(feed))
    with tf.GradientTape() as tape:
        loss = _probe_loss(model(feed, training=True), targets)
    grads = tape.gradient(loss, layer.trainable_weights)
    for weight, grad in zip(layer.trainable_weights, grads):
        assert grad is not None, f"{weight.path} gets no gradient"
        grad = _np(grad)
        assert np.all(np.isfinite(grad)), f"{weight.path} has a non-finite gradient"
        assert np.any(grad != 0), f"{weight.path} has an all-zero gradient"

    before = [np.array(w.numpy()) for w in layer.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=_probe_loss)
    flat_targets = targets
    model.fit(
        feed, flat_targets, batch_size=_batch_size(input_data), epochs=1, verbose=0
    )
    for weight, old in zip(layer.trainable_weights, before):
        new = weight.numpy()
        assert np.all(np.isfinite(new)), f"{weight.path} became non-finite after fit"
        assert np.any(new != old), f"{weight.path} did not change after a fit step"


def _check_mixed_precision(
    layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs, policy, f32
):
    layer = layer_cls(**{**init_kwargs, "dtype": policy})
    output = layer(
        _to_tensors(input_data), **_to_tensors(tensor_kwargs), **static_kwargs
    )
    compute = keras.dtype_policies.get(policy).compute_dtype
    for path, value in _flatten_with_paths(output):
        if not _is_float(value):
            continue
        want = "float32" if _path_matches(path, f32) else compute
        got = keras.backend.standardize_dtype(value.dtype)
        assert got == want, f"{policy}: output {path} is {got}, expected {want}"
        assert np.all(np.isfinite(_np(value).astype("float32"))), (
            f"{policy}: output {path} is not finite"
        )
    for weight in layer.weights:
        if _is_float(weight):
            assert keras.backend.standardize_dtype(weight.dtype) == "float32", (
                f"{policy}: variable {weight.path} is {weight.dtype}, not float32"
            )


def _check_xla(layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs):
    model, feed = _functional_model(
        layer_cls(**init_kwargs), input_data, tensor_kwargs, static_kwargs
    )
    eager = model(feed)
    # "auto" does not compile on CPU: force XLA.
    model.compile(jit_compile=True)
    compiled = model.predict(feed, batch_size=_batch_size(input_data), verbose=0)
    _assert_close(compiled, eager, 1e-4, 1e-5, "XLA output")


# --- helpers -----------------------------------------------------------------


def _functional_model(layer, input_data, tensor_kwargs, static_kwargs):
    """A keras.Model around `layer`, and the feed dict for it."""
    inputs = _symbolic(input_data, batch_size=None, prefix="x")
    kw_inputs = {
        k: keras.Input(np.shape(v)[1:], dtype=_dtype(v), name=k)
        for k, v in tensor_kwargs.items()
    }
    outputs = layer(inputs, **kw_inputs, **static_kwargs)
    model_inputs = {"x": inputs, **kw_inputs}
    model = keras.Model(model_inputs, outputs)
    feed = {"x": _to_tensors(input_data), **_to_tensors(tensor_kwargs)}
    return model, feed


def _symbolic(data, batch_size=None, prefix=None):
    def make(path, value):
        name = None
        if prefix is not None:
            name = "_".join([prefix] + [str(p) for p in path])
        return keras.Input(
            np.shape(value)[1:], batch_size=batch_size, dtype=_dtype(value), name=name
        )

    return _map_with_paths(make, data)


def _map_with_paths(fn, data, path=()):
    if isinstance(data, dict):
        return {k: _map_with_paths(fn, v, path + (k,)) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(
            _map_with_paths(fn, v, path + (i,)) for i, v in enumerate(data)
        )
    return fn(path, data)


def _flatten_with_paths(data, path=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _flatten_with_paths(v, path + (k,))
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            yield from _flatten_with_paths(v, path + (i,))
    else:
        yield path, data


def _path_matches(path, float32_outputs):
    if float32_outputs == "all":
        return True
    return any(
        path[: len(p) if isinstance(p, tuple) else 1]
        == (p if isinstance(p, tuple) else (p,))
        for p in float32_outputs
    )


def _two_batches(input_data, tensor_kwargs):
    yield input_data, tensor_kwargs
    double = lambda x: np.concatenate([np.asarray(x), np.asarray(x)], axis=0)  # noqa: E731
    yield (
        tree.map_structure(double, input_data),
        tree.map_structure(double, tensor_kwargs),
    )


def _random_targets(outputs):
    rng = np.random.default_rng(0)

    def target(value):
        if not _is_float(value):
            return None
        return rng.normal(size=tuple(value.shape)).astype("float32")

    return tree.map_structure(target, outputs)


def _probe_loss(y_true, y_pred):
    """Mean squared error summed over every float output."""
    total = 0.0
    for t, p in zip(tree.flatten(y_true), tree.flatten(y_pred)):
        if t is None or not _is_float(p):
            continue
        total = total + ops.mean(ops.square(ops.cast(p, "float32") - t))
    return total


def _batch_size(input_data):
    return int(np.shape(tree.flatten(input_data)[0])[0])


def _shapes(data):
    return tree.map_structure(lambda x: tuple(x.shape), data)


def _as_tuples(shapes):
    if isinstance(shapes, dict):
        return {k: _as_tuples(v) for k, v in shapes.items()}
    if (
        isinstance(shapes, (list, tuple))
        and shapes
        and not isinstance(shapes[0], (int, type(None)))
    ):
        return type(shapes)(_as_tuples(s) for s in shapes)
    return tuple(shapes)


def _assert_shapes_equal(actual, expected, what, allow_none_batch=False):
    actual_flat = _flat_shapes(actual)
    expected_flat = _flat_shapes(expected)
    assert len(actual_flat) == len(expected_flat), f"{what}: {actual} vs {expected}"
    for a, e in zip(actual_flat, expected_flat):
        a, e = tuple(a), tuple(e)
        if allow_none_batch and a and a[0] is None:
            a = a[1:]
            e = e[1:]
        assert a == e, (
            f"{what}: shape {a} != expected {e} (all: {actual} vs {expected})"
        )


def _flat_shapes(shapes):
    if isinstance(shapes, dict):
        return [s for k in shapes for s in _flat_shapes(shapes[k])]
    if (
        isinstance(shapes, (list, tuple))
        and shapes
        and isinstance(shapes[0], (list, tuple, dict))
    ):
        return [s for x in shapes for s in _flat_shapes(x)]
    return [tuple(shapes)]


def _assert_close(actual, expected, rtol, atol, what):
    """Compare two output structures leaf by leaf (lists and tuples alike)."""
    actual, expected = tree.flatten(actual), tree.flatten(expected)
    assert len(actual) == len(expected), f"{what}: {len(actual)} != {len(expected)}"
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(
            _np(a), np.asarray(_np(e)), rtol=rtol, atol=atol, err_msg=what
        )


def _assert_all_finite(output, what):
    for path, value in _flatten_with_paths(output):
        if _is_float(value):
            assert np.all(np.isfinite(_np(value).astype("float32"))), (
                f"{what} {path} is not finite"
            )


def _to_tensors(data):
    return tree.map_structure(lambda x: ops.convert_to_tensor(x), data)


def _is_array(value):
    return (
        isinstance(value, np.ndarray)
        or hasattr(value, "shape")
        and hasattr(value, "dtype")
    )


def _is_float(value):
    if value is None or not hasattr(value, "dtype"):
        return False
    return "float" in keras.backend.standardize_dtype(value.dtype)


def _dtype(value):
    return keras.backend.standardize_dtype(np.asarray(value).dtype)


def _np(value):
    return np.asarray(keras.ops.convert_to_numpy(value))
