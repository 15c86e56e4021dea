"""TF Serving REST predict payloads: decode requests, encode responses.

Two request formats (TF Serving's REST API):
- row: `{"instances": [{"visual": [..], "textual": [..]}, ...]}`
- columnar: `{"inputs": {"visual": [[..], ..], "textual": [[..], ..]}}`
"""

import numpy as np

from mmzoo.errors import DataError


def decode_predict_request(payload, specs):
    """Turn a REST predict payload into `{input name: np.ndarray}`.

    Args:
        payload: the decoded JSON object of the request.
        specs: `{name: (shape without batch, dtype)}` of the served inputs.

    Returns:
        (inputs, format) with format `"row"` or `"columnar"`.

    Raises:
        DataError: unknown format, missing or unknown inputs, wrong shape or
            dtype, or an empty batch.
    """
    if not isinstance(payload, dict):
        raise DataError("A predict request must be a JSON object.")
    if "instances" in payload:
        rows = payload["instances"]
        if not isinstance(rows, list) or not rows:
            raise DataError("`instances` must be a non-empty list (empty batch).")
        if not all(isinstance(r, dict) for r in rows):
            raise DataError("Each of `instances` must be an object of named inputs.")
        columns = {}
        for name in specs:
            if any(name not in r for r in rows):
                raise DataError(f"Missing input {name!r} in `instances`.")
            columns[name] = [r[name] for r in rows]
        _reject_unknown({k for r in rows for k in r}, specs)
        fmt = "row"
    elif "inputs" in payload:
        columns = payload["inputs"]
        if not isinstance(columns, dict):
            raise DataError("`inputs` must be an object of named inputs.")
        for name in specs:
            if name not in columns:
                raise DataError(f"Missing input {name!r} in `inputs`.")
        _reject_unknown(set(columns), specs)
        fmt = "columnar"
    else:
        raise DataError(
            "A predict request needs `instances` (row) or `inputs` (columnar)."
        )
    return {name: _to_array(name, columns[name], *specs[name]) for name in specs}, fmt


def encode_predict_response(outputs, fmt):
    """TF Serving's response: `predictions` (row) or `outputs` (columnar)."""
    outputs = {k: np.asarray(v).tolist() for k, v in outputs.items()}
    if fmt == "columnar":
        return {"outputs": outputs}
    n = len(next(iter(outputs.values())))
    return {"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(n)]}


def _reject_unknown(names, specs):
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise DataError(
            f"Unknown input {unknown[0]!r}; the model takes {', '.join(sorted(specs))}."
        )


def _to_array(name, value, shape, dtype):
    try:
        # NumPy has no "string" dtype: string inputs (raw text) are object arrays.
        array = np.asarray(value, dtype=object if dtype == "string" else dtype)
    except (TypeError, ValueError):
        raise DataError(
            f"Input {name!r} must be {dtype} values of shape "
            f"(batch, {', '.join(map(str, shape))})."
        )
    if array.ndim == 0 or len(array) == 0:
        raise DataError(f"Input {name!r} is an empty batch.")
    expected = tuple(shape)
    if tuple(array.shape[1:]) != expected and not (
        len(array.shape[1:]) == len(expected)
        and all(e is None or e == a for e, a in zip(expected, array.shape[1:]))
    ):
        raise DataError(
            f"Input {name!r} has shape {tuple(array.shape)}; expected "
            f"(batch, {', '.join(map(str, expected))})."
        )
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise DataError(f"Input {name!r} holds NaN or Inf values.")
    return array
