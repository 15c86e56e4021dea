"""Load a `.keras` file or a SavedModel and predict from named inputs."""

import zipfile
from pathlib import Path

import keras
import numpy as np

from mmzoo.errors import ModelFileError
from mmzoo.export.saved_model import load_serving_signature


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
        n = len(next(iter(inputs.values())))
        chunks = []
        for start in range(0, n, batch_size):
            batch = {k: v[start : start + batch_size] for k, v in inputs.items()}
            out = self._fn(batch)
            chunks.append({k: np.asarray(v) for k, v in out.items()})
        return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def load_predictor(path, safe_mode=True):
    """A `Predictor` from a `.keras` file or a SavedModel version directory."""
    path = Path(path)
    if path.is_dir():
        signature = load_serving_signature(path)
        _, kwargs = signature.structured_input_signature
        specs = {k: (tuple(s.shape[1:]), s.dtype.name) for k, s in kwargs.items()}

        def fn(batch):
            return signature(
                **{
                    k: np.asarray(v, dtype=_np_dtype(specs[k][1]))
                    for k, v in batch.items()
                }
            )

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


def _np_dtype(dtype):
    """NumPy has no "string" dtype: string inputs (raw text) are object arrays."""
    return object if dtype == "string" else dtype
