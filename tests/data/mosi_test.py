import shutil

import numpy as np
import pytest

from mmzoo.data import load_data
from mmzoo.data.mosi import FOLDER, _load_part, validation_videos
from mmzoo.errors import DataError


def test_shapes_labels_and_sizes(data_dir):
    every = load_data("mosi", "all", data_dir)
    assert len(every) == 1447
    assert every.feature_dims == {"text": (100,), "audio": (73,), "video": (100,)}
    assert set(np.unique(every.labels)) == {0, 1}
    train = load_data("mosi", "train", data_dir)
    val = load_data("mosi", "val", data_dir)
    assert len(train) + len(val) == 1447


def test_validation_is_split_by_video(data_dir):
    _, _, _, videos = _load_part(data_dir / FOLDER, "train")
    held_out = validation_videos(videos, 0.2, 0)
    assert 0 < len(held_out) < len(set(videos))
    val = load_data("mosi", "val", data_dir)
    # Every utterance of a held-out video is in val, none in train.
    assert len(val) == int(np.isin(videos, sorted(held_out)).sum())
    assert round(0.2 * len(set(videos))) == len(held_out)


def test_first_example_matches_the_files(data_dir):
    every = load_data("mosi", "all", data_dir, with_transcripts=True)
    first = (data_dir / FOLDER / "audio_train0.csv").read_text().splitlines()[0]
    values = [float(v.strip('"')) for v in first.split(",")]
    np.testing.assert_allclose(every.features["audio"][0], values[:-1], rtol=1e-6)
    assert every.labels[0] == int(values[-1])
    assert isinstance(every.features["transcript"][0], str)


def test_no_test_files_is_a_clear_error(data_dir):
    with pytest.raises(DataError, match="No test split"):
        load_data("mosi", "test", data_dir)


def test_test_split_read_from_test_files(data_dir, tmp_path):
    root = tmp_path / FOLDER
    shutil.copytree(data_dir / FOLDER, root)
    for name in ("text", "audio", "video"):
        shutil.copy(root / f"{name}_train0.csv", root / f"{name}_test0.csv")
    shutil.copy(root / "text_train.csv", root / "text_test.csv")
    test = load_data("mosi", "test", tmp_path)
    assert len(test) == 1447
    assert len(load_data("mosi", "all", tmp_path)) == 2 * 1447


def test_missing_and_corrupt_files(data_dir, tmp_path):
    with pytest.raises(DataError, match="MOSI data directory not found"):
        load_data("mosi", "train", tmp_path)
    root = tmp_path / FOLDER
    shutil.copytree(data_dir / FOLDER, root)
    (root / "audio_train0.csv").write_text('"1.0","x"\n')
    with pytest.raises(DataError, match="Corrupt CSV"):
        load_data("mosi", "train", tmp_path)
    (root / "audio_train0.csv").write_text("1.0,2.0,1\n")
    with pytest.raises(DataError, match="columns, expected 74"):
        load_data("mosi", "train", tmp_path)
