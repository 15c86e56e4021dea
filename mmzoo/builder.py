"""`build`: zoo config -> registry -> a compiled `keras.Model`."""

from mmzoo.config import load_config
from mmzoo.models.base import compile_model
from mmzoo.registry import get_architecture


def build(name, data=None, compile=True, **overrides):
    """Build the zoo model `name`, compiled and ready for `fit`.

    Args:
        name: str or path. A name from `mmzoo.list_models()` or a YAML config.
        data: `MultimodalData`, optional. Input sizes and classes are taken from
            it (they win over the config's).
        compile: bool. Compile with the config's `train` block.
        **overrides: constructor arguments, `train={...}`/`data={...}` blocks
            or dotted keys (see `mmzoo.load_config`).

    Returns:
        A `keras.Model` (a `ZooModel`); its zoo config is `model.zoo_config`.
    """
    cfg = load_config(name, overrides)
    return build_from_config(cfg, data=data, compile=compile)


def build_from_config(cfg, data=None, compile=True):
    """Build from a loaded `ZooConfig` (see `build`)."""
    cls = get_architecture(cfg.model)
    if data is not None:
        cfg.config.update(cls.data_overrides(data))
    model = cls(**cfg.config)
    model.zoo_config = cfg
    if compile:
        compile_model(model, cfg.train)
    return model
