"""Model factories; importing this package registers every architecture."""

from mmzoo.models.base import ClassifierModel, ZooModel, compile_model
from mmzoo.models.captioner import Captioner
from mmzoo.models.fusion_classifier import FusionClassifier
from mmzoo.models.gmu_classifier import GMUClassifier
from mmzoo.models.mmim import MMIM
from mmzoo.models.mvae import MVAE

__all__ = [
    "Captioner",
    "ClassifierModel",
    "FusionClassifier",
    "GMUClassifier",
    "MMIM",
    "MVAE",
    "ZooModel",
    "compile_model",
]
