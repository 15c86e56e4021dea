import shutil

import numpy as np
import pytest

from mmzoo.data import digits3, load_data
from mmzoo.errors import DataError


def test_pair_by_class_is_without_replacement():
    labels = {
        "a": np.array([0, 0, 1, 1, 1, 2]),
        "b": np.array([1, 0, 1, 0, 0, 1, 1]),
    }
    index = digits3.pair_by_class(labels, seed=0)
    assert len(index["a"]) == len(index["b"]) == 5  # 2 of class 0, 3 of class 1
    np.testing.assert_array_equal(labels["a"][index["a"]], labels["b"][index["b"]])
    for name in labels:
        assert len(set(index[name])) == len(index[name])  # never twice
    again = digits3.pair_by_class(labels, seed=0)
    assert all(np.array_equal(index[n], again[n]) for n in labels)


def test_stratified_split_is_disjoint_and_balanced():
    labels = np.repeat(np.arange(3), 10)
    parts = digits3.stratified_split(labels, (0.8, 0.1, 0.1))
    assert [len(p) for p in parts] == [24, 3, 3]
    assert len(np.unique(np.concatenate(parts))) == 30
    for p in parts:
        assert np.all(np.bincount(labels[p]) == len(p) // 3)


def test_splits(data_dir):
    sizes = {}
    for split in ("train", "val", "test", "all"):
        data = load_data("digits3", split, data_dir)
        sizes[split] = len(data)
        assert data.feature_dims == {
            "farsi": (32, 32),
            "kannada": (28, 28),
            "spoken": (61, 13),
            "presence": (3,),
        }
        for name in ("farsi", "kannada"):
            values = data.features[name]
            assert values.dtype == np.float32
            assert values.min() >= 0 and values.max() <= 1
        np.testing.assert_array_equal(data.features["presence"], 1.0)
        counts = np.bincount(data.labels, minlength=10)
        assert np.all(counts == counts[0])  # every class equally often
    # One triplet per spoken recording; `all` pairs every recording.
    num_wavs = len(list((data_dir / "fsdd" / "recordings").glob("*.wav")))
    assert sizes["all"] == num_wavs
    assert sizes["train"] + sizes["val"] + sizes["test"] == num_wavs
    train = load_data("digits3", "train", data_dir)
    assert abs(float(train.features["spoken"].mean())) < 0.05  # standardised


def test_spoken_splits_are_disjoint(data_dir):
    _, _, speakers, takes = digits3.fsdd_files(data_dir)
    for by in ("take", "speaker"):
        masks = [
            digits3.spoken_split_mask(speakers, takes, s, by)
            for s in ("train", "val", "test")
        ]
        np.testing.assert_array_equal(np.sum(masks, axis=0), 1)
    test = digits3.spoken_split_mask(speakers, takes, "test", "speaker")
    assert set(speakers[test]) == {digits3.TEST_SPEAKER}
    data = load_data("digits3", "test", data_dir, spoken_split="speaker")
    assert len(data) == int(test.sum())


def test_pairing_is_seeded(data_dir):
    a = load_data("digits3", "val", data_dir, seed=0)
    b = load_data("digits3", "val", data_dir, seed=0)
    c = load_data("digits3", "val", data_dir, seed=1)
    np.testing.assert_array_equal(a.features["farsi"], b.features["farsi"])
    assert not np.array_equal(a.features["farsi"], c.features["farsi"])


def test_missing_and_corrupt_files(data_dir, tmp_path):
    with pytest.raises(DataError, match="Missing data file"):
        load_data("digits3", "train", tmp_path)
    (tmp_path / "hoda").mkdir()
    (tmp_path / "hoda" / "hoda_32x32.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="Corrupt .npz"):
        load_data("digits3", "train", tmp_path)
    shutil.copy(data_dir / "hoda" / "hoda_32x32.npz", tmp_path / "hoda")
    (tmp_path / "kannada_mnist").mkdir()
    np.savez(tmp_path / "kannada_mnist" / "kannada_mnist.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="lacks arrays"):
        load_data("digits3", "train", tmp_path)
    shutil.copytree(data_dir / "kannada_mnist", tmp_path / "k2")
    shutil.rmtree(tmp_path / "kannada_mnist")
    (tmp_path / "k2").rename(tmp_path / "kannada_mnist")
    with pytest.raises(DataError, match="FSDD recordings"):
        load_data("digits3", "train", tmp_path)


def test_mnist_image_label(data_dir):
    data = load_data("mnist_image_label", "val", data_dir)
    assert len(data) == 5000
    assert data.feature_dims == {"image": (28, 28), "label": (10,), "presence": (2,)}
    np.testing.assert_array_equal(np.argmax(data.features["label"], 1), data.labels)
