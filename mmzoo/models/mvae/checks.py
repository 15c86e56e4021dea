"""Argument checks of the MVAE constructor (messages quote the value)."""

from mmzoo.errors import ConfigError
from mmzoo.models.mvae import subsets as subset_lib

PRESENCE = subset_lib.PRESENCE


def check_model_args(
    input_shapes,
    modality_types,
    num_classes,
    latent_dim,
    subsets,
    num_random_subsets,
    modality_weights,
    classify_from,
):
    """Argument checks; returns the sorted modality names."""
    if not isinstance(input_shapes, dict) or len(input_shapes) < 1:
        raise ConfigError(
            "`input_shapes` must map modality names to shapes. "
            f"Received input_shapes={input_shapes!r}"
        )
    modalities = sorted(input_shapes)
    if PRESENCE in modalities:
        raise ConfigError(f"{PRESENCE!r} is reserved for the presence mask input.")
    if not isinstance(modality_types, dict) or sorted(modality_types) != modalities:
        raise ConfigError(
            f"`modality_types` must name the modalities {modalities}. "
            f"Received modality_types={modality_types!r}"
        )
    for key, value, low in (
        ("num_classes", num_classes, 2),
        ("latent_dim", latent_dim, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(
                f"`{key}` must be an integer >= {low}. Received {value!r}"
            )
    if subsets not in subset_lib.SCHEMES:
        raise ConfigError(
            f"`subsets` must be one of {subset_lib.SCHEMES}. "
            f"Received subsets={subsets!r}"
        )
    if subsets == "all" and len(modalities) > subset_lib.MAX_ALL:
        raise ConfigError(
            f"`subsets='all'` enumerates 2^N - 1 subsets, allowed for N <= "
            f"{subset_lib.MAX_ALL}; got N={len(modalities)}. Use subsets='sampled'."
        )
    if not isinstance(num_random_subsets, int) or num_random_subsets < 0:
        raise ConfigError(
            "`num_random_subsets` must be an integer >= 0. "
            f"Received {num_random_subsets!r}"
        )
    for key, value in (
        ("modality_weights", modality_weights),
        ("classify_from", classify_from),
    ):
        if value and not set(value) <= set(modalities):
            raise ConfigError(
                f"`{key}` must only name modalities {modalities}. Received {value!r}"
            )
    return modalities
