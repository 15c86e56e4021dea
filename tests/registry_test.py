import keras
import pytest

import mmzoo
from mmzoo.errors import ConfigError
from mmzoo.registry import get_architecture, register_model


def test_duplicate_registration_raises():
    class Other(keras.Model):
        pass

    get_architecture("gmu")  # imports the models: registers gmu (run alone)
    with pytest.raises(ValueError, match="'gmu' is already registered"):
        register_model("gmu")(Other)


def test_unknown_architecture_lists_registered():
    with pytest.raises(ConfigError, match="Registered architectures: .*gmu"):
        get_architecture("nope")


def test_every_zoo_config_names_a_registered_architecture():
    for name in mmzoo.list_models():
        assert mmzoo.load_config(name).model in mmzoo.list_architectures()


def test_public_api_is_pinned():
    assert sorted(mmzoo.__all__) == sorted(
        [
            "__version__",
            "build",
            "data",
            "export",
            "layers",
            "list_architectures",
            "list_models",
            "load_config",
            "losses",
            "models",
            "register_model",
            "viz",
        ]
    )
    for name in mmzoo.__all__:
        assert getattr(mmzoo, name) is not None
