import numpy as np
import pytest

from mmzoo.data import load_data
from mmzoo.errors import DataError


def test_coco_splits(data_dir):
    val = load_data("coco_mini", "val", data_dir, image_size=16)
    test = load_data("coco_mini", "test", data_dir, image_size=16)
    train = load_data("coco_mini", "train", data_dir, image_size=16, max_images=5)
    assert val.features["image"].shape[1:] == (16, 16, 3)
    assert val.features["image"].dtype == np.uint8
    assert val.task == "captioning" and len(val) == len(val.labels)

    def images(d):
        return {im.tobytes() for im in d.features["image"]}

    # 159 val2017 images, split in two disjoint halves; >= 5 captions each.
    assert len(images(val)) + len(images(test)) == 159
    assert not images(val) & images(test)
    assert len(val) >= 5 * len(images(val))
    assert len(images(train)) == 5 and len(train) >= 25
    again = load_data("coco_mini", "val", data_dir, image_size=16)
    np.testing.assert_array_equal(again.features["caption"], val.features["caption"])


def test_coco_missing_folder(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_data("coco_mini", "train", tmp_path)
