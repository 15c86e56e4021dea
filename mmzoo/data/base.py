"""Data sources: a registry of readers returning `MultimodalData`.

A source is a function `(split, data_dir, seed, **options) -> MultimodalData`
that reads the files, registered with `register_source(name)`. Splits are
`train`, `val`, `test` and `all` (every sample the source holds).

`load_data` is the one way in: a source with a `tfds` builder (every zoo
source; `register_records`) is read from the builder's prepared records,
prepared by its reader the first time (see `mmzoo.data.tfds_builders`); a
source without one (a user's own) calls its reader (`read_source`).
"""

import dataclasses
import inspect
import os
from pathlib import Path

import numpy as np

from mmzoo import envvars
from mmzoo.errors import DataError

SPLITS = ("train", "val", "test", "all")
_SOURCES = {}  # name -> reader
_RECORDS = {}  # name -> records reader (load_data's path for the source)


@dataclasses.dataclass
class MultimodalData:
    """Features per modality, labels, and what the labels mean.

    Attributes:
        features: dict of modality name -> float32 array (num_samples, ...).
        labels: int array (num_samples,) for `multiclass`, or float array
            (num_samples, num_classes) for `multilabel`.
        num_classes: int.
        task: `"multiclass"` or `"multilabel"`.
        class_names: optional list of str.
        origin: optional str: where the samples were read from (records
            path, prepared or read, seconds), for logs.
    """

    features: dict
    labels: np.ndarray
    num_classes: int
    task: str = "multiclass"
    class_names: list = None
    origin: str = None

    def __post_init__(self):
        sizes = {k: len(v) for k, v in self.features.items()}
        sizes["labels"] = len(self.labels)
        if len(set(sizes.values())) != 1:
            raise DataError(f"Modalities and labels differ in length: {sizes}")

    def __len__(self):
        return len(self.labels)

    @property
    def feature_dims(self):
        return {k: tuple(v.shape[1:]) for k, v in self.features.items()}

    def subset(self, index):
        return dataclasses.replace(
            self,
            features={k: v[index] for k, v in self.features.items()},
            labels=self.labels[index],
        )


def register_source(name):
    """Decorator registering a data source function under `name`."""

    def decorator(fn):
        if name in _SOURCES:
            raise ValueError(f"Data source {name!r} is already registered.")
        _SOURCES[name] = fn
        return fn

    return decorator


def source_reader(name):
    """The registered reader function of source `name`."""
    return _SOURCES[name]


def list_sources():
    return sorted(_SOURCES)


def resolve_data_dir(data_dir=None):
    """`data_dir`, else `$MMZOO_DATA_DIR`, else `./data`."""
    if data_dir:
        return Path(data_dir).expanduser()
    return Path(os.environ.get(envvars.DATA_DIR) or "data").expanduser()


def register_records(name, reader):
    """Make `load_data(name, ...)` call `reader` (same arguments) instead of
    the source's file reader: the prepared-records path of the tfds builders."""
    _RECORDS[name] = reader


def check_source(source, split):
    if source not in _SOURCES:
        raise DataError(
            f"Unknown data source {source!r}. Available sources: "
            f"{', '.join(list_sources())}."
        )
    if split not in SPLITS:
        raise DataError(
            f"Unknown split {split!r}. Expected one of {', '.join(SPLITS)}."
        )


def check_options(source, options):
    """Refuse options the source's reader does not take."""
    valid = [
        p
        for p in inspect.signature(_SOURCES[source]).parameters
        if p not in ("split", "data_dir", "seed")
    ]
    for key in options:
        if key not in valid:
            raise DataError(
                f"Unknown option {key!r} for data source {source!r}. Valid "
                f"options: {', '.join(valid) or 'none'}."
            )


def load_data(source, split="train", data_dir=None, seed=0, **options):
    """Load `split` of the data `source` as `MultimodalData`.

    A source with a tfds builder is read from its prepared records (prepared
    on first use under `$MMZOO_TFDS_DIR`, see `mmzoo.data.tfds_builders`);
    others from their files.

    Raises:
        DataError: unknown source, split or option, or unusable files.
    """
    check_source(source, split)
    if source in _RECORDS:
        return _RECORDS[source](source, split, data_dir, seed, **options)
    return read_source(source, split, data_dir, seed, **options)


def read_source(source, split="train", data_dir=None, seed=0, **options):
    """`split` of `source` read from its files by the registered reader."""
    check_source(source, split)
    check_options(source, options)
    fn = _SOURCES[source]
    data = fn(split=split, data_dir=resolve_data_dir(data_dir), seed=seed, **options)
    check_data(data, f"{source}/{split}")
    return data


def check_data(data, what):
    """Refuse empty splits, non-finite features and out-of-range labels."""
    if len(data) == 0:
        raise DataError(f"{what}: the split is empty.")
    for name, values in data.features.items():
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            bad = int(np.sum(~np.isfinite(values)))
            raise DataError(
                f"{what}: modality {name!r} has {bad} NaN or Inf values; expected "
                "finite features."
            )
    if data.task == "multiclass":
        labels = np.asarray(data.labels)
        if labels.min() < 0 or labels.max() >= data.num_classes:
            raise DataError(
                f"{what}: labels range over [{labels.min()}, {labels.max()}]; "
                f"expected 0..{data.num_classes - 1}."
            )


def to_dataset(data, batch_size, shuffle=False, seed=0, cache=True):
    """A batched `tf.data.Dataset` of `(features_dict, labels)`."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((data.features, data.labels))
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
