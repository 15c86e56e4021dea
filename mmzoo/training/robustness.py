"""Robustness to a missing modality: remove one at test time and re-evaluate.

Two ways to remove modality `m` from evaluation data:

- `mask`: the model gets a `modality_mask` input with m's column at 0, and its
  fusion layer applies its own missing-modality rule (zeroing, renormalised
  weights, a neutral factor...). A model trained without the mask input is
  evaluated through `mask_input_model`, a copy with the same weights.
- `noise`: m's features are replaced by Gaussian noise with the per-feature
  mean and standard deviation of the *training* features: the model sees
  plausible-looking values that carry no information about the example.

Example:

    >>> stats = feature_statistics(train)
    >>> rows = robustness_metrics(model, val, stats)   # doctest: +SKIP
"""

import dataclasses

import numpy as np

from mmzoo.training.trainer import evaluate_model

MASK_INPUT = "modality_mask"
REMOVALS = ("mask", "noise")


def feature_statistics(data):
    """Per-feature mean and standard deviation of each modality of `data`.

    Returns:
        dict modality -> (mean, std), each of shape `features[m].shape[1:]`.
    """
    return {
        m: (np.mean(x, axis=0), np.std(x, axis=0))
        for m, x in data.features.items()
        if x.dtype.kind == "f"
    }


def replace_with_noise(data, modality, statistics, seed=0):
    """`data` with `modality` replaced by N(mean, std^2) noise, per feature.

    Args:
        data: `MultimodalData`.
        modality: str. The modality to replace.
        statistics: dict from `feature_statistics` (of the training data).
        seed: int. Seed of the noise.

    Returns:
        A new `MultimodalData`; the other modalities are shared, not copied.
    """
    if modality not in data.features or modality not in statistics:
        raise ValueError(
            f"Unknown modality {modality!r}: the data has {sorted(data.features)} "
            f"and the statistics {sorted(statistics)}"
        )
    mean, std = statistics[modality]
    rng = np.random.default_rng(seed)
    shape = data.features[modality].shape
    noise = (mean + std * rng.standard_normal(shape)).astype(
        data.features[modality].dtype
    )
    return dataclasses.replace(data, features={**data.features, modality: noise})


def with_modality_mask(data, modalities, missing=()):
    """`data` with a `modality_mask` feature: 0 for `missing`, 1 elsewhere.

    Args:
        modalities: list of str. The model's modalities, in its (sorted) order.
        missing: modality names to mark missing in every example.
    """
    unknown = sorted(set(missing) - set(modalities))
    if unknown:
        raise ValueError(f"Unknown modalities {unknown} in `missing`; use {modalities}")
    row = np.array([0.0 if m in missing else 1.0 for m in modalities], "float32")
    mask = np.tile(row, (len(data), 1))
    return dataclasses.replace(data, features={**data.features, MASK_INPUT: mask})


def mask_input_model(model):
    """`model` itself if it has a `modality_mask` input, else such a copy.

    The copy is built from `get_config()` with `use_mask_input=True` and takes
    the weights of `model` layer by layer (the mask input adds none).
    """
    if MASK_INPUT in model.input:
        return model
    config = model.get_config()
    if "use_mask_input" not in config:
        raise ValueError(
            f"{type(model).__name__} has no `use_mask_input` argument: it cannot "
            "take a modality mask"
        )
    masked = type(model).from_config({**config, "use_mask_input": True})
    for layer in model.layers:
        if layer.weights:
            masked.get_layer(layer.name).set_weights(layer.get_weights())
    return masked


def evaluate_without(model, data, modality, how, statistics=None, seed=0):
    """Metrics of `model` on `data` with `modality` removed (`mask` or `noise`).

    `modality=None` evaluates the full data (through the mask input for
    `mask`, with every modality present). Features of `data` that are not
    inputs of `model` are ignored.
    """
    data = dataclasses.replace(
        data, features={m: data.features[m] for m in model.modalities}
    )
    if how == "mask":
        masked = mask_input_model(model)
        missing = () if modality is None else (modality,)
        data = with_modality_mask(data, model.modalities, missing)
        return evaluate_model(masked, data)
    if how == "noise":
        if statistics is None:
            raise ValueError("`statistics` (of the training data) is needed for noise")
        if modality is not None:
            data = replace_with_noise(data, modality, statistics, seed)
        return evaluate_model(model, data)
    raise ValueError(f"`how` must be one of {REMOVALS}. Received how={how!r}")


def robustness_metrics(model, data, statistics, seed=0, removals=REMOVALS):
    """Metrics with each of the model's modalities removed each way.

    Returns:
        A list of dicts `{"removed": modality or None, "how": ..., **metrics}`:
        first the full data (`removed=None`, `how="none"`), then one row per
        (modality, removal).
    """
    rows = [{"removed": None, "how": "none"}]
    rows[0].update(evaluate_without(model, data, None, "noise", statistics, seed))
    masked = mask_input_model(model) if "mask" in removals else None
    for modality in model.modalities:
        for how in removals:
            target = masked if how == "mask" else model
            metrics = evaluate_without(target, data, modality, how, statistics, seed)
            rows.append({"removed": modality, "how": how, **metrics})
    return rows
