"""The model registry: architecture names -> model classes.

A *zoo model* is a name with a config in `zoo_configs/<name>.yaml`; the config's
`model` key names a registered architecture (several zoo models may share one
architecture, such as `tfn` and `lmf` over `fusion_classifier`).
"""

from mmzoo.errors import ConfigError

_ARCHITECTURES = {}


def register_model(name):
    """Class decorator registering a model architecture under `name`.

    Raises:
        ValueError: if `name` is already registered.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string. Received: name={name!r}")

    def decorator(cls):
        if name in _ARCHITECTURES and _ARCHITECTURES[name] is not cls:
            raise ValueError(
                f"Model architecture {name!r} is already registered "
                f"(by {_ARCHITECTURES[name].__qualname__})."
            )
        _ARCHITECTURES[name] = cls
        cls.registered_name = name
        return cls

    return decorator


def list_architectures():
    """Sorted names of the registered architectures."""
    _import_models()
    return sorted(_ARCHITECTURES)


def get_architecture(name):
    """The model class registered as `name`; the error lists what exists."""
    _import_models()
    if name not in _ARCHITECTURES:
        raise ConfigError(
            f"Unknown model architecture {name!r}. Registered architectures: "
            f"{', '.join(sorted(_ARCHITECTURES))}."
        )
    return _ARCHITECTURES[name]


def _import_models():
    # Importing the package registers every model module it lists.
    import mmzoo.models  # noqa: F401
