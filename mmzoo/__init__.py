"""mmzoo: a Keras 3 model zoo for multimodal learning.

>>> import mmzoo
>>> model = mmzoo.build("gmu")          # compiled, ready for fit
>>> mmzoo.list_models()                 # every zoo config
"""

__version__ = "0.1.0"

from mmzoo import data, layers, losses, models  # noqa: E402
from mmzoo.builder import build  # noqa: E402
from mmzoo.config import list_models, load_config  # noqa: E402
from mmzoo.registry import list_architectures, register_model  # noqa: E402

__all__ = [
    "__version__",
    "build",
    "data",
    "layers",
    "list_architectures",
    "list_models",
    "load_config",
    "losses",
    "models",
    "register_model",
]
