"""Load a `.keras` file or a SavedModel and predict from named inputs."""

import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mmzoo.errors import DataError, ModelFileError
from mmzoo.export.saved_model import load_serving_signature, op_error_line


class Predictor:
    """`predictor(inputs) -> {output name: np.ndarray}` for either model format.

    Attributes:
        specs: `{input name: (shape without batch, dtype)}`.
    """

    def __init__(self, fn, specs, model=None):
        self._fn = fn
        self.specs = specs
        self.model = model

    def __call__(self, inputs, batch_size=256):
        """Outputs for `inputs`, `{input name: array (batch, ...)}`.

        Raises:
            DataError: a missing or unknown input name, a wrong shape or dtype,
                an empty batch, inputs of different batch sizes, or a request
                the served graph refuses (e.g. image bytes that are not an
                image); one line naming the input, what was received and what
                is expected.
        """
        inputs = check_inputs(inputs, self.specs)
        n = len(next(iter(inputs.values())))
        chunks = []
        for start in range(0, n, batch_size):
            batch = {k: v[start : start + batch_size] for k, v in inputs.items()}
            try:
                out = self._fn(batch)
            except tf.errors.InvalidArgumentError as e:
                raise DataError(f"The model refused the request: {op_error_line(e)}")
            chunks.append({k: np.asarray(v) for k, v in out.items()})
        return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def check_inputs(inputs, specs):
    """`inputs` as arrays of the served dtypes, checked against `specs`.

    Args:
        inputs: `{input name: array-like (batch, ...)}`.
        specs: `{input name: (shape without batch, dtype name)}`.

    Raises:
        DataError: one line naming the input, the value received and what is
            expected.
    """
    names = ", ".join(sorted(specs))
    if not isinstance(inputs, dict):
        raise DataError(
            f"Inputs must be a dict {{input name: array}}; received "
            f"{type(inputs).__name__}. The model takes {names}."
        )
    for name in specs:
        if name not in inputs:
            received = ", ".join(sorted(map(str, inputs))) or "no input"
            raise DataError(
                f"Missing input {name!r}: received {received}; the model takes {names}."
            )
    unknown = sorted(set(map(str, inputs)) - set(specs))
    if unknown:
        raise DataError(f"Unknown input {unknown[0]!r}; the model takes {names}.")
    arrays = {name: _checked_array(name, inputs[name], *specs[name]) for name in specs}
    sizes = {name: len(a) for name, a in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise DataError(
            "Inputs have different batch sizes: "
            + ", ".join(f"{k}={v}" for k, v in sizes.items())
            + "; expected one batch size."
        )
    return arrays


def _checked_array(name, value, shape, dtype):
    expected = f"{dtype} values of shape (batch, {', '.join(map(str, shape))})"
    expected = expected.replace(", )", ")")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise DataError(f"Input {name!r} is not an array ({e}); expected {expected}.")
    is_text = array.dtype.kind in "OSU"
    if dtype == "string":
        if array.size and not is_text:
            raise DataError(
                f"Input {name!r} has dtype {array.dtype}; expected {expected}."
            )
        array = array.astype(object)
    else:
        if array.dtype.kind not in "biuf":
            if array.dtype.kind == "O":
                try:
                    array = array.astype(dtype)
                except (TypeError, ValueError):
                    pass
            if array.dtype.kind not in "biuf":
                raise DataError(
                    f"Input {name!r} has dtype {array.dtype}; expected {expected}."
                )
        array = array.astype(dtype, copy=False)
    if array.ndim == 0 or len(array) == 0:
        raise DataError(
            f"Input {name!r} is an empty batch (shape {array.shape}); expected "
            f"{expected} with at least one example."
        )
    got = tuple(array.shape[1:])
    want = tuple(shape)
    if len(got) != len(want) or any(
        w is not None and w != g for w, g in zip(want, got)
    ):
        raise DataError(
            f"Input {name!r} has shape {tuple(array.shape)}; expected {expected}."
        )
    return array


def load_predictor(path, safe_mode=True):
    """A `Predictor` from a `.keras` file or a SavedModel version directory."""
    path = Path(path)
    if path.is_dir():
        signature = load_serving_signature(path)
        _, kwargs = signature.structured_input_signature
        specs = {k: (tuple(s.shape[1:]), s.dtype.name) for k, s in kwargs.items()}

        def fn(batch):
            return signature(**batch)

        return Predictor(fn, specs)
    model = load_keras_model(path, safe_mode=safe_mode)
    specs = {
        k: (tuple(t.shape[1:]), keras.backend.standardize_dtype(t.dtype))
        for k, t in model.input.items()
    }
    return Predictor(lambda batch: model(batch, training=False), specs, model=model)


def load_keras_model(path, safe_mode=True):
    """`keras.saving.load_model` in safe mode, with clear errors."""
    import mmzoo.layers  # noqa: F401  (registers the serialisable classes)
    import mmzoo.models  # noqa: F401

    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"Model file not found: {path}")
    if path.suffix != ".keras":
        raise ModelFileError(
            f"{path} is neither a .keras file nor a SavedModel directory"
        )
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is truncated or not a .keras archive")
    try:
        return keras.saving.load_model(path, safe_mode=safe_mode)
    except ValueError as e:
        first = str(e).strip().splitlines()[0]
        raise ModelFileError(f"Refused to load {path}: {first}")
    except (OSError, KeyError, TypeError, zipfile.BadZipFile) as e:
        raise ModelFileError(f"Cannot load {path}: {type(e).__name__}: {e}")
