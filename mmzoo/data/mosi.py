"""CMU-MOSI utterance features (bc-LSTM release) from `<data-dir>/cmu_mosi_bclstm`.

Layout (see the shared data README): `transcripts.csv` (utt_id, transcript,
video_no, label; no header), `text_train.csv` (row index into transcripts, then
100 text features), `{text,audio,video}_train0.csv` (features then the label, in
the row order of `text_train.csv`). Test files, when a data directory has them,
follow the same names with `test` for `train`.

Splits: `train` and `val` come from the train files, split **by video** (never
by utterance): the videos are shuffled with `split_seed` and `val_fraction` of
them are held out. `test` reads the test files and fails clearly when they are
absent. `all` is every utterance of the directory.

Reference: Zadeh et al., "MOSI: Multimodal Corpus of Sentiment Intensity and
Subjectivity Analysis in Online Opinion Videos", IEEE Intelligent Systems 2016;
features from Poria et al., "Context-Dependent Sentiment Analysis in
User-Generated Videos", ACL 2017.
"""

import csv

import numpy as np

from mmzoo.data.base import MultimodalData, register_source
from mmzoo.errors import DataError

FOLDER = "cmu_mosi_bclstm"
FEATURE_DIMS = {"text": 100, "audio": 73, "video": 100}


def read_csv_matrix(path, expected_cols=None):
    """Read a numeric CSV (quoted or not) as float32, with clear errors."""
    if not path.is_file():
        raise DataError(f"Missing data file: {path}")
    try:
        with open(path, newline="") as f:
            rows = [[float(v) for v in row] for row in csv.reader(f) if row]
    except (ValueError, csv.Error, UnicodeDecodeError) as e:
        raise DataError(f"Corrupt CSV file {path}: {e}")
    if not rows:
        raise DataError(f"Empty CSV file: {path}")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise DataError(f"Corrupt CSV file {path}: rows of widths {sorted(widths)}")
    width = widths.pop()
    if expected_cols is not None and width != expected_cols:
        raise DataError(f"{path}: rows have {width} columns, expected {expected_cols}")
    return np.asarray(rows, dtype="float32")


def read_transcripts(path):
    if not path.is_file():
        raise DataError(f"Missing data file: {path}")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f) if row]
    if any(len(r) != 4 for r in rows):
        raise DataError(f"Corrupt transcripts file {path}: expected 4 columns")
    return rows


def _load_part(root, part):
    """Features, labels, transcripts and video ids of `train` or `test` files."""
    index = read_csv_matrix(root / f"text_{part}.csv", 1 + FEATURE_DIMS["text"])
    rows = read_transcripts(root / "transcripts.csv")
    idx = index[:, 0].astype(int)
    if idx.min() < 0 or idx.max() >= len(rows):
        raise DataError(f"{root / f'text_{part}.csv'}: row index out of range")
    features, labels = {}, None
    for name, dim in FEATURE_DIMS.items():
        matrix = read_csv_matrix(root / f"{name}_{part}0.csv", dim + 1)
        if len(matrix) != len(idx):
            raise DataError(
                f"{root / f'{name}_{part}0.csv'} has {len(matrix)} rows, "
                f"text_{part}.csv has {len(idx)}"
            )
        features[name] = matrix[:, :-1]
        if labels is None:
            labels = matrix[:, -1]
        elif not np.array_equal(labels, matrix[:, -1]):
            raise DataError(f"Labels of {name}_{part}0.csv differ from the others")
    labels = labels.astype("int32")
    if not set(np.unique(labels)) <= {0, 1}:
        found = sorted(int(v) for v in set(labels))
        raise DataError(
            f"{root / f'text_{part}0.csv'}: MOSI labels must be 0 or 1; found {found}"
        )
    transcripts = np.array([rows[i][1] for i in idx], dtype=object)
    videos = np.array([rows[i][0].rsplit("_", 1)[0] for i in idx], dtype=object)
    return features, labels, transcripts, videos


def has_test_files(root):
    return (root / "text_test.csv").is_file()


@register_source("mosi")
def load_mosi(
    split, data_dir, seed, val_fraction=0.2, split_seed=0, with_transcripts=False
):
    """Load a split of CMU-MOSI; see the module docstring for the split rules."""
    root = data_dir / FOLDER
    if not root.is_dir():
        raise DataError(
            f"MOSI data directory not found: {root} (set --data-dir or MMZOO_DATA_DIR)"
        )
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be in (0, 1). Received {val_fraction!r}")
    parts = []
    if split in ("train", "val", "all"):
        features, labels, transcripts, videos = _load_part(root, "train")
        if split != "all":
            held_out = validation_videos(videos, val_fraction, split_seed)
            keep = np.isin(videos, sorted(held_out)) == (split == "val")
            features = {k: v[keep] for k, v in features.items()}
            labels, transcripts = labels[keep], transcripts[keep]
        parts.append((features, labels, transcripts))
    if split == "test" or (split == "all" and has_test_files(root)):
        if not has_test_files(root):
            raise DataError(
                f"No test split in {root}: the test files (text_test.csv, "
                "*_test0.csv) are absent; use --split val or all"
            )
        features, labels, transcripts, _ = _load_part(root, "test")
        parts.append((features, labels, transcripts))
    features = {k: np.concatenate([p[0][k] for p in parts]) for k in FEATURE_DIMS}
    labels = np.concatenate([p[1] for p in parts])
    if with_transcripts:
        features["transcript"] = np.concatenate([p[2] for p in parts])
    return MultimodalData(
        features=features,
        labels=labels,
        num_classes=2,
        class_names=["negative", "positive"],
    )


def validation_videos(videos, val_fraction, split_seed):
    """The held-out video ids: a seeded shuffle of the sorted unique ids."""
    unique = np.array(sorted(set(videos)), dtype=object)
    rng = np.random.default_rng(split_seed)
    count = max(1, int(round(val_fraction * len(unique))))
    return set(rng.permutation(unique)[:count])
