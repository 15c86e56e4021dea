"""`ClassifierModel`: what the classifier factories share."""

import numpy as np
import pytest

import mmzoo
from mmzoo.data.base import MultimodalData
from mmzoo.errors import ConfigError
from mmzoo.models import FusionClassifier, GMUClassifier, ZooModel
from mmzoo.models.base import ClassifierModel

# The saved configs as they were before `ClassifierModel` (FusionClassifier
# gained `use_mask_input` and `modality_dropout`, both off by default).
GMU_KEYS = [
    "input_dims", "num_classes", "task", "encoder_units", "hidden_dim", "gate_on",
    "head_units", "dropout", "use_mask_input", "encoders", "name",
]
FUSION_KEYS = [
    "input_dims", "num_classes", "task", "encoder_units", "fusion", "head_units",
    "dropout", "use_mask_input", "modality_dropout", "encoders", "name",
]


@pytest.mark.parametrize("cls", [GMUClassifier, FusionClassifier])
def test_classifiers_share_the_base(cls):
    assert issubclass(cls, ClassifierModel) and issubclass(cls, ZooModel)
    for name in ("default_compile_args", "data_overrides", "check_classifier_args"):
        assert name not in vars(cls)  # inherited, not redefined


def test_configs_are_unchanged():
    gmu = GMUClassifier({"b": 4, "a": 3}, num_classes=3, encoder_units=[5])
    assert list(gmu.get_config()) == GMU_KEYS
    assert gmu.get_config() == {
        "input_dims": {"a": 3, "b": 4},
        "num_classes": 3,
        "task": "multiclass",
        "encoder_units": [5],
        "hidden_dim": 32,
        "gate_on": "inputs",
        "head_units": [],
        "dropout": 0.0,
        "use_mask_input": False,
        "encoders": None,
        "name": "gmu_classifier",
    }
    fusion = FusionClassifier({"b": 4, "a": 3}, encoder_units=[5])
    assert list(fusion.get_config()) == FUSION_KEYS
    assert fusion.get_config()["fusion"] == {"name": "concat"}
    assert fusion.modalities == gmu.modalities == ["a", "b"]


@pytest.mark.parametrize("name", ["gmu_mosi", "concat", "late"])
def test_zoo_configs_round_trip_through_get_config(name):
    cfg = mmzoo.load_config(name)
    model = mmzoo.build(name, compile=False)
    config = model.get_config()
    for key, value in cfg.config.items():
        assert config[key] == value, key


def test_compile_args_and_data_overrides():
    model = GMUClassifier({"a": 3, "b": 4}, num_classes=4, task="multilabel")
    assert model.default_compile_args()["loss"] == "binary_crossentropy"
    data = MultimodalData(
        features={"x": np.zeros((2, 7), "float32"), "y": np.zeros((2, 2), "float32")},
        labels=np.array([0, 2]),
        num_classes=3,
    )
    assert FusionClassifier.data_overrides(data) == {
        "input_dims": {"x": 7, "y": 2},
        "num_classes": 3,
        "task": "multiclass",
    }
    multiclass = FusionClassifier({"x": 7, "y": 2}, num_classes=3)
    assert multiclass.default_compile_args() == {
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["sparse_categorical_accuracy"],
    }


@pytest.mark.parametrize(
    "cls,kwargs,match",
    [
        (GMUClassifier, {"input_dims": {"a": 3}}, "at least 2 modality names"),
        (FusionClassifier, {"input_dims": {}}, "at least 1 modality name"),
        (FusionClassifier, {"input_dims": {"a": True}}, r"input_dims\['a'\]"),
        (GMUClassifier, {"input_dims": {"a": 3, "b": 2}, "dropout": 1.0},
         "dropout=1.0"),
        (FusionClassifier, {"input_dims": {"a": 3, "b": 2}, "num_classes": 1},
         "num_classes=1"),
        (GMUClassifier, {"input_dims": {"a": 3, "b": 2}, "hidden_dim": 0},
         "hidden_dim=0"),
    ],
)
def test_shared_argument_checks(cls, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        cls(**kwargs)
