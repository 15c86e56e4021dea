"""Three-modality digits (Farsi, Kannada, spoken) and MNIST image + label.

`digits3` is the MVAE seed experiment's data: triplets of a handwritten Farsi
digit (Hoda), a handwritten Kannada digit (Kannada-MNIST) and a spoken digit
(FSDD, as 13 MFCC over 61 frames of 32 ms, step 16 ms, of the first second),
formed by pairing samples of the same class without replacement. Files, under
the data directory (see the shared data README):

- `hoda/hoda_32x32.npz`: `x_train, y_train, x_test, y_test`. `test` uses
  `x_test`; `train` and `val` split `x_train` (class-stratified, 10% val).
- `kannada_mnist/kannada_mnist.npz`: `x, y`, split class-stratified 80/10/10
  into train/val/test with a fixed seed (`SPLIT_SEED`), the same on every call.
- `fsdd/recordings/{digit}_{speaker}_{take}.wav`: split by take (default:
  takes 0-9 test, 10-14 val, the rest train; every speaker in every split) or
  by speaker (`spoken_split="speaker"`: `theo` test, `nicolas` val, the others
  train; harder, as the test voice is never heard).

Each split pairs, for every class, its spoken samples with as many Farsi and
Kannada samples of the class drawn without replacement (seeded by `seed`), so
a split has one triplet per spoken sample (the smallest modality). `all` pairs
every sample of the directory. Images are float32 in [0, 1]; MFCC are
standardised per coefficient with the mean and standard deviation of the train
takes (or speakers), whatever the split, so no statistic comes from test data.

Every sample also carries `presence`: (num_modalities,) ones in the sorted order
of the modality names, the MVAE's missing-modality mask (all present here).

References:
    Khosravi and Kabir, "Introducing a very large dataset of handwritten Farsi
    digits", Pattern Recognition Letters 2007. Prabhu, "Kannada-MNIST",
    arXiv:1908.01242, 2019. Jackson et al., Free Spoken Digit Dataset, 2018.
    LeCun et al., MNIST, 1998.
"""

import functools
import re
import zipfile

import numpy as np

from mmzoo.data.audio import wav_files_to_mfcc
from mmzoo.data.base import MultimodalData, register_source
from mmzoo.errors import DataError

SPLIT_SEED = 0
MODALITIES = ("farsi", "kannada", "spoken")
TEST_TAKES, VAL_TAKES = range(0, 10), range(10, 15)
TEST_SPEAKER, VAL_SPEAKER = "theo", "nicolas"
_WAV = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
_OFFSETS = {"train": 0, "val": 1, "test": 2, "all": 3}


def read_npz(path, keys):
    """Arrays `keys` of an .npz file (no pickles), with clear errors."""
    if not path.is_file():
        raise DataError(f"Missing data file: {path}")
    return _read_npz(path, tuple(keys), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_npz(path, keys, stamp):
    # Cached (the splits of one run read the same files); callers index into
    # the arrays, which copies, and never write to them.
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise DataError(f"{path} lacks arrays {missing}; has {f.files}")
            return {k: f[k] for k in keys}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"Corrupt .npz file {path}: {e}")


def _images(x, y, path, size):
    if x.ndim != 3 or x.shape[1:] != (size, size) or len(x) != len(y):
        raise DataError(f"{path}: expected images (n, {size}, {size}) and n labels")
    y = y.astype("int32")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{path}: labels outside 0..9")
    return x, y  # uint8: scaled to [0, 1] once the samples are chosen


def _scaled(x):
    return x.astype("float32") / 255.0


def stratified_split(labels, fractions, seed=SPLIT_SEED):
    """Index arrays, one per fraction, class by class (deterministic)."""
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        bounds = np.round(np.cumsum([0, *fractions]) * len(idx)).astype(int)
        for i in range(len(fractions)):
            parts[i].append(idx[bounds[i] : bounds[i + 1]])
    return [np.sort(np.concatenate(p)) for p in parts]


def load_hoda(root, split):
    path = root / "hoda" / "hoda_32x32.npz"
    a = read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
    x_tr, y_tr = _images(a["x_train"], a["y_train"], path, 32)
    x_te, y_te = _images(a["x_test"], a["y_test"], path, 32)
    if split == "test":
        return x_te, y_te
    if split == "all":
        return np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])
    train, val = stratified_split(y_tr, (0.9, 0.1))
    keep = train if split == "train" else val
    return x_tr[keep], y_tr[keep]


def load_kannada(root, split):
    path = root / "kannada_mnist" / "kannada_mnist.npz"
    a = read_npz(path, ("x", "y"))
    x, y = _images(a["x"], a["y"], path, 28)
    if split == "all":
        return x, y
    parts = dict(zip(("train", "val", "test"), stratified_split(y, (0.8, 0.1, 0.1))))
    return x[parts[split]], y[parts[split]]


def fsdd_files(root):
    """(paths, digits, speakers, takes) of `fsdd/recordings/*.wav`, sorted."""
    folder = root / "fsdd" / "recordings"
    if not folder.is_dir():
        raise DataError(f"Missing FSDD recordings directory: {folder}")
    rows = []
    for path in sorted(folder.glob("*.wav")):
        match = _WAV.match(path.name)
        if not match:
            raise DataError(
                f"Unexpected FSDD file name {path.name}: want digit_speaker_take.wav"
            )
        rows.append((path, int(match[1]), match[2], int(match[3])))
    if not rows:
        raise DataError(f"No .wav files in {folder}")
    return [np.array(c) if i else list(c) for i, c in enumerate(zip(*rows))]


def spoken_split_mask(speakers, takes, split, by="take"):
    """Boolean mask of the FSDD files in `split` (see the module docstring)."""
    if by == "take":
        test, val = np.isin(takes, TEST_TAKES), np.isin(takes, VAL_TAKES)
    elif by == "speaker":
        test, val = speakers == TEST_SPEAKER, speakers == VAL_SPEAKER
    else:
        raise DataError(f"spoken_split must be 'take' or 'speaker'. Received {by!r}")
    masks = {"test": test, "val": val, "train": ~(test | val)}
    return np.ones(len(takes), bool) if split == "all" else masks[split]


@functools.lru_cache(maxsize=4)
def _fsdd_mfcc(root, stamp):
    paths, digits, speakers, takes = fsdd_files(root)
    return wav_files_to_mfcc(paths), digits.astype("int32"), speakers, takes


def load_spoken(root, split, by="take"):
    paths = fsdd_files(root)[0]
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in paths)
    features, digits, speakers, takes = _fsdd_mfcc(root, stamp)
    train = spoken_split_mask(speakers, takes, "train", by)
    if not train.any():
        raise DataError(f"No FSDD training recordings in {root / 'fsdd'}")
    mean = features[train].mean(axis=(0, 1))
    std = features[train].std(axis=(0, 1)) + 1e-6
    keep = spoken_split_mask(speakers, takes, split, by)
    return ((features[keep] - mean) / std).astype("float32"), digits[keep]


def pair_by_class(labels_by_modality, seed):
    """Index arrays forming same-class tuples without replacement.

    For each class, as many tuples as the rarest modality has samples of it;
    every modality's samples of the class are shuffled (seeded) and taken in
    order, so no sample is used twice.
    """
    rng = np.random.default_rng(seed)
    names = sorted(labels_by_modality)
    out = {n: [] for n in names}
    for c in sorted(set.intersection(*(set(v) for v in labels_by_modality.values()))):
        pools = {
            n: rng.permutation(np.flatnonzero(labels_by_modality[n] == c))
            for n in names
        }
        count = min(len(p) for p in pools.values())
        for n in names:
            out[n].append(pools[n][:count])
    return {n: np.concatenate(v) if v else np.zeros(0, int) for n, v in out.items()}


def presence(n, num_modalities):
    return np.ones((n, num_modalities), "float32")


@register_source("digits3")
def load_digits3(split, data_dir, seed, spoken_split="take"):
    """Farsi + Kannada + spoken digit triplets; see the module docstring."""
    if not data_dir.is_dir():
        raise DataError(
            f"Data directory not found: {data_dir} (set --data-dir or MMZOO_DATA_DIR)"
        )
    parts = {
        "farsi": load_hoda(data_dir, split),
        "kannada": load_kannada(data_dir, split),
        "spoken": load_spoken(data_dir, split, spoken_split),
    }
    index = pair_by_class(
        {m: y for m, (_, y) in parts.items()}, 1000 * seed + _OFFSETS[split]
    )
    features = {m: parts[m][0][index[m]] for m in MODALITIES}
    features["farsi"] = _scaled(features["farsi"])
    features["kannada"] = _scaled(features["kannada"])
    labels = parts["spoken"][1][index["spoken"]]
    features["presence"] = presence(len(labels), len(MODALITIES))
    return MultimodalData(
        features=features,
        labels=labels,
        num_classes=10,
        class_names=[str(i) for i in range(10)],
    )


@register_source("mnist_image_label")
def load_mnist_image_label(split, data_dir, seed, val_size=5000):
    """MNIST as two modalities: `image` (28, 28) in [0, 1] and one-hot `label`.

    `train` is `x_train` without its last `val_size` images (`val`); `test` is
    `x_test`. The MVAE learns the label as a modality (Wu and Goodman 2018,
    section 5.1); the class is also the task label.
    """
    path = data_dir / "mnist" / "mnist.npz"
    a = read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
    x_tr, y_tr = _images(a["x_train"], a["y_train"], path, 28)
    x_te, y_te = _images(a["x_test"], a["y_test"], path, 28)
    if not isinstance(val_size, int) or not 0 < val_size < len(x_tr):
        raise DataError(f"val_size must be in (0, {len(x_tr)}). Received {val_size!r}")
    x, y = {
        "train": (x_tr[:-val_size], y_tr[:-val_size]),
        "val": (x_tr[-val_size:], y_tr[-val_size:]),
        "test": (x_te, y_te),
        "all": (np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])),
    }[split]
    features = {
        "image": _scaled(x),
        "label": np.eye(10, dtype="float32")[y],
        "presence": presence(len(y), 2),
    }
    return MultimodalData(features=features, labels=y, num_classes=10)
