"""MultiModal InfoMax (Han, Chen, Poria, EMNLP 2021)."""

from mmzoo.models.mmim.metrics import binary_metrics, regression_metrics
from mmzoo.models.mmim.model import MMIM
from mmzoo.models.mmim.text import TranscriptTokenizer, build_vocabulary

__all__ = [
    "MMIM",
    "TranscriptTokenizer",
    "binary_metrics",
    "build_vocabulary",
    "regression_metrics",
]
