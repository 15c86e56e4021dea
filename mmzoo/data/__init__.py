"""Data sources (tf.data pipelines) for the zoo models."""

from mmzoo.data import coco, digits3, mosi, synthetic  # noqa: F401  (registers)
from mmzoo.data.base import (
    SPLITS,
    MultimodalData,
    list_sources,
    load_data,
    register_source,
    resolve_data_dir,
    to_dataset,
)

__all__ = [
    "SPLITS",
    "MultimodalData",
    "list_sources",
    "load_data",
    "register_source",
    "resolve_data_dir",
    "to_dataset",
]
from mmzoo.data import tfds_builders  # noqa: E402, F401  (registers the tfds builders)
