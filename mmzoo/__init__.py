"""mmzoo: a Keras 3 model zoo for multimodal learning.

    >>> import mmzoo
    >>> model = mmzoo.build("gmu")          # compiled, ready for fit
    >>> names = mmzoo.list_models()         # every zoo config

The public names below load on first use (PEP 562), so that `import mmzoo.cli`
can start TensorFlow on its own terms; each is listed explicitly.
"""

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "build": ("mmzoo.builder", "build"),
    "list_models": ("mmzoo.config", "list_models"),
    "load_config": ("mmzoo.config", "load_config"),
    "list_architectures": ("mmzoo.registry", "list_architectures"),
    "register_model": ("mmzoo.registry", "register_model"),
    "data": ("mmzoo.data", None),
    "export": ("mmzoo.export", None),
    "layers": ("mmzoo.layers", None),
    "losses": ("mmzoo.losses", None),
    "models": ("mmzoo.models", None),
    "viz": ("mmzoo.viz", None),
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'mmzoo' has no attribute {name!r}")
    module_name, attr = _PUBLIC[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
