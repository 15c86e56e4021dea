"""Data sources for the zoo models, read through their tfds builders.

`load_data(source, split, data_dir, seed, **options)` reads the prepared
records of the source's builder (`mmzoo.data.tfds_builders`), preparing them
from the files in `data_dir` the first time.
"""

from mmzoo.data import coco, coco_captions, digits3, mosi, synthetic  # noqa: F401
from mmzoo.data.base import (
    SPLITS,
    MultimodalData,
    list_sources,
    load_data,
    read_source,
    register_source,
    resolve_data_dir,
    to_dataset,
)

__all__ = [
    "SPLITS",
    "MultimodalData",
    "list_sources",
    "load_data",
    "read_source",
    "register_source",
    "resolve_data_dir",
    "to_dataset",
]
from mmzoo.data import tfds_builders  # noqa: E402, F401  (registers the tfds builders)
