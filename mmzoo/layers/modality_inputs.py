"""Checks shared by the fusion layers: modality lists or dicts, and masks."""

import keras
from keras import ops


def unpack_modalities(
    inputs, layer_name, min_modalities=2, max_modalities=None, same_last_dim=False
):
    """Turn a list, tuple or dict of modality tensors into a list and names.

    Dict inputs are ordered by key (sorted) so that the order does not depend on
    how a user built the dict; the same order is used for masks and gates.

    Returns:
        (tensors, names): a list of tensors and a list of names (`None` for a list).

    Raises:
        ValueError: if `inputs` is not a list/dict, holds too few or too many
            modalities, the leading (batch, sequence) dimensions differ, or a
            modality is not floating point.
    """
    if isinstance(inputs, dict):
        names = sorted(inputs)
        tensors = [inputs[n] for n in names]
    elif isinstance(inputs, (list, tuple)):
        names = None
        tensors = list(inputs)
    else:
        raise ValueError(
            f"{layer_name} expects `inputs` to be a list or dict of modality "
            f"tensors. Received: inputs={inputs!r}"
        )
    n = len(tensors)
    if n < min_modalities or (max_modalities is not None and n > max_modalities):
        expected = f"at least {min_modalities}"
        if max_modalities is not None:
            expected = (
                f"exactly {min_modalities}"
                if max_modalities == min_modalities
                else f"{min_modalities} to {max_modalities}"
            )
        raise ValueError(
            f"{layer_name} expects {expected} modalities in `inputs`. Received "
            f"{n}: shapes {[tuple(t.shape) for t in tensors]}"
        )
    shapes = [tuple(t.shape) for t in tensors]
    for i, (tensor, shape) in enumerate(zip(tensors, shapes)):
        label = names[i] if names else i
        if len(shape) < 2:
            raise ValueError(
                f"{layer_name}: modality {label!r} in `inputs` must have rank >= 2 "
                f"(batch, ..., features). Received shape {shape}"
            )
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if "float" not in dtype:
            raise ValueError(
                f"{layer_name}: modality {label!r} in `inputs` must be floating "
                f"point. Received dtype {dtype}"
            )
    leading = [s[:-1] for s in shapes]
    if not all(_compatible(leading[0], other) for other in leading[1:]):
        raise ValueError(
            f"{layer_name}: all modalities in `inputs` must share their leading "
            f"(batch, ...) dimensions. Received shapes {shapes}"
        )
    if same_last_dim and len({s[-1] for s in shapes}) > 1:
        raise ValueError(
            f"{layer_name}: all modalities in `inputs` must have the same feature "
            f"size. Received shapes {shapes}"
        )
    return tensors, names


def modality_mask(mask, num_modalities, layer_name, dtype):
    """Check a per-example modality mask and cast it to `dtype`.

    Args:
        mask: None, or a tensor of shape (batch, num_modalities): 1 (or True)
            where a modality is present, 0 where it is missing.

    Returns:
        None, or the mask as a `dtype` tensor of shape (batch, num_modalities).
    """
    if mask is None:
        return None
    shape = tuple(mask.shape)
    if len(shape) != 2 or (shape[1] is not None and shape[1] != num_modalities):
        raise ValueError(
            f"{layer_name} expects `mask` of shape (batch, {num_modalities}). "
            f"Received shape {shape}"
        )
    return ops.cast(mask, dtype)


def shape_list(input_shape, layer_name="The layer"):
    """Shapes of a list or dict (sorted keys) of modality shapes."""
    if isinstance(input_shape, dict):
        return [tuple(input_shape[k]) for k in sorted(input_shape)]
    if not isinstance(input_shape, (list, tuple)) or any(
        not isinstance(s, (list, tuple)) for s in input_shape
    ):
        raise ValueError(
            f"{layer_name} expects `inputs` to be a list or dict of modality "
            f"tensors. Received a single input of shape {input_shape}"
        )
    return [tuple(s) for s in input_shape]


def explicit_mask(mask):
    """Keras fills `mask` with a structure of Nones for list inputs."""
    if (
        mask is None
        or isinstance(mask, (list, tuple, dict))
        and all(m is None for m in keras.tree.flatten(mask))
    ):
        return None
    return mask


def broadcast_to_rank(column, rank):
    """(batch,) -> (batch, 1, ..., 1) of the given rank."""
    return ops.reshape(column, (-1,) + (1,) * (rank - 1))


def _compatible(a, b):
    if len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b))


# --- helpers shared by the fusion layers (added with the fusion library) ------


def check_positive_int(value, name):
    """Raise unless `value` is a positive int; the message quotes `name=value`."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return value


def check_choice(value, name, choices):
    """Raise unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {tuple(choices)}. Received: {name}={value!r}"
        )
    return value


def check_rate(value, name):
    """Raise unless `value` is a float in [0, 1)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (0.0 <= value < 1.0)
    ):
        raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")
    return float(value)


def check_num_modalities(tensors, expected, layer_name):
    """Raise if a built layer is called with another number of modalities."""
    if len(tensors) != expected:
        raise ValueError(
            f"{layer_name} was built for {expected} modalities; `inputs` has "
            f"{len(tensors)}: shapes {[tuple(t.shape) for t in tensors]}"
        )


def present_columns(mask, rank):
    """Columns of a (batch, n) mask as n tensors of shape (batch, 1, ..., 1)."""
    return [broadcast_to_rank(mask[:, i], rank) for i in range(mask.shape[1])]


def mask_modalities(tensors, mask):
    """Zero the missing modalities: x_i * m_i (no-op when `mask` is None)."""
    if mask is None:
        return list(tensors)
    columns = present_columns(mask, len(tensors[0].shape))
    return [x * c for x, c in zip(tensors, columns)]


def broadcast_mask_to(mask, rank):
    """(batch, n) -> (batch, 1, ..., 1, n) of the given rank."""
    return ops.reshape(mask, (-1,) + (1,) * (rank - 2) + (mask.shape[-1],))


def with_leading_one(x):
    """[1; x] along the last axis: (..., d) -> (..., d + 1)."""
    return ops.concatenate([ops.ones_like(x[..., :1]), x], axis=-1)


def normalize_over_present(weights, mask):
    """Multiply (..., n) non-negative weights by the mask and renormalise.

    Rows with no modality present get all-zero weights (not NaN).
    """
    if mask is None:
        return weights
    weights = weights * broadcast_mask_to(mask, len(weights.shape))
    total = ops.sum(weights, axis=-1, keepdims=True)
    safe = ops.where(total > 0, total, ops.ones_like(total))
    return weights / safe


def unpack_token_modalities(inputs, layer_name, min_modalities=2):
    """Like `unpack_modalities`, for token inputs of possibly different lengths.

    Each modality is (batch, d_i) (one token) or (batch, T_i, d_i); the T_i may
    differ, the batch size must agree. Count and dtype are checked as in
    `unpack_modalities` (on the first token of each modality).

    Returns:
        (tensors, names): every tensor of rank 3, a vector becoming one token.
    """
    if isinstance(inputs, (list, tuple, dict)):
        names = sorted(inputs) if isinstance(inputs, dict) else None
        tensors = [inputs[n] for n in names] if names else list(inputs)
        for i, t in enumerate(tensors):
            if len(t.shape) not in (2, 3):
                raise ValueError(
                    f"{layer_name}: modality {names[i] if names else i!r} in "
                    "`inputs` must be (batch, d) or (batch, T, d). Received "
                    f"shape {tuple(t.shape)}"
                )
        firsts = [t if len(t.shape) == 2 else t[:, 0] for t in tensors]
        unpack_modalities(
            dict(zip(names, firsts)) if names else firsts, layer_name, min_modalities
        )
    else:
        tensors, names = unpack_modalities(inputs, layer_name, min_modalities)
    tensors = [t if len(t.shape) == 3 else ops.expand_dims(t, 1) for t in tensors]
    return tensors, names


def project_to_factors(x, factors, axis):
    """`x @ factors` contracted over `factors`' axis `axis` (size d = x's last).

    Returns x's leading dimensions followed by `factors`' other axes, in order
    (e.g. (..., d) with (rank, d, units) and `axis=1` -> (..., rank, units)).
    One matmul against the reshaped factors: TensorFlow's einsum for these
    patterns is ~10x slower (benchmarks/fusion_scaling.py measured it).
    """
    shape = tuple(factors.shape)
    rest = shape[:axis] + shape[axis + 1 :]
    order = (axis,) + tuple(i for i in range(len(shape)) if i != axis)
    size = 1
    for n in rest:
        size *= n
    flat = ops.reshape(ops.transpose(factors, order), (shape[axis], size))
    out = ops.matmul(x, flat)
    return ops.reshape(out, tuple(ops.shape(out)[:-1]) + rest)
