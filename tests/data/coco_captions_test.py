"""The `coco_captions` source on a real prepared copy of TFDS's `coco_captions`.

`tfds.testing.mock_data` cannot serve this loader: it replaces the builder's
data dir by the package's `testing/metadata` folder (policy AUTO), which holds
nothing for `coco_captions` in the installed tfds (no `dataset_info.json`, no
fake examples), or by a path that does not exist (policy USE_CODE), so the
loader's "is it prepared?" check (rightly) refuses it; and its examples ignore
the real splits. Instead
the fixture prepares a tiny copy with TFDS's own `CocoCaptions` builder (its
real feature spec, split generators and record writer): only the download
manager is replaced, pointing at a local COCO 2014 layout (instances JSON,
JPEG files, Karpathy `dataset_coco.json`) of seven synthetic images.
"""

import json
from unittest import mock

import numpy as np
import pytest

import mmzoo
import mmzoo.data.coco_captions  # noqa: F401  (registers the source)
from mmzoo.data import load_data, to_dataset
from mmzoo.data.coco import load_coco_captions
from mmzoo.errors import DataError

# (image id, COCO 2014 folder, Karpathy split, number of captions)
PLAN = [
    (1, "train2014", "train", 5),
    (2, "train2014", "train", 6),
    (3, "train2014", "train", 5),
    (4, "val2014", "val", 5),
    (5, "val2014", "test", 5),
    (6, "val2014", "restval", 5),
    (7, "val2014", "test", 7),
]


def _file_name(image_id, folder):
    return f"COCO_{folder}_{image_id:012d}.jpg"


def _caption(image_id, j):
    return f"A picture {image_id} number {j}."


def _jpeg(image_id):
    import tensorflow as tf

    rng = np.random.default_rng(image_id)
    h, w = int(rng.integers(40, 90)), int(rng.integers(40, 90))
    y, x = np.mgrid[0:h, 0:w]
    image = np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], -1)
    image = image + rng.integers(0, 40, image.shape)
    return tf.io.encode_jpeg(np.clip(image, 0, 255).astype(np.uint8)).numpy(), h, w


def _raw_coco2014(raw):
    """The extracted downloads that `CocoCaptions._split_generators` reads."""
    instances = {"train2014": [], "val2014": []}
    karpathy = []
    for image_id, folder, split, n in PLAN:
        name = _file_name(image_id, folder)
        data, h, w = _jpeg(image_id)
        (raw / "images" / folder).mkdir(parents=True, exist_ok=True)
        (raw / "images" / folder / name).write_bytes(data)
        instances[folder].append(
            {"id": image_id, "file_name": name, "height": h, "width": w}
        )
        karpathy.append(
            {
                "filename": name,
                "filepath": folder,
                "split": split,
                "cocoid": image_id,
                "sentences": [
                    {"raw": _caption(image_id, j) + "  ", "sentid": 10 * image_id + j}
                    for j in range(n)
                ],
            }
        )
    (raw / "annotations" / "annotations").mkdir(parents=True)
    categories = [{"id": c + 1, "name": f"category{c}"} for c in range(80)]
    for folder, images in instances.items():
        path = raw / "annotations" / "annotations" / f"instances_{folder}.json"
        path.write_text(
            json.dumps({"images": images, "annotations": [], "categories": categories})
        )
    (raw / "karpathy").mkdir()
    (raw / "karpathy" / "dataset_coco.json").write_text(
        json.dumps({"images": karpathy})
    )


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A TFDS data dir holding a prepared `coco_captions/2014/1.1.0`."""
    import tensorflow_datasets as tfds

    root = tmp_path_factory.mktemp("coco_captions")
    raw = root / "raw"
    _raw_coco2014(raw)

    class LocalDownloads:
        downloaded_size = 0

        def download_and_extract(self, urls):
            return {
                key: str(
                    raw
                    / (
                        "images"
                        if key.endswith("_images")
                        else "karpathy"
                        if key == "karpathy_and_li_splits"
                        else "annotations"
                    )
                )
                for key in urls
            }

    builder = tfds.builder("coco_captions", data_dir=str(root / "tfds"))
    with mock.patch.object(
        tfds.core.DatasetBuilder,
        "_make_download_manager",
        lambda self, **kwargs: LocalDownloads(),
    ):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False)
        )
    assert builder.is_prepared()
    return root / "tfds"


@pytest.fixture(scope="module")
def coco_mini_dir(tmp_path_factory):
    """The same train images and captions in the `coco_mini` layout."""
    root = tmp_path_factory.mktemp("coco_mini")
    folder = root / "coco_captions_mini"
    (folder / "train2017").mkdir(parents=True)
    (folder / "annotations").mkdir()
    images, annotations = [], []
    for image_id, coco_folder, split, n in PLAN:
        if split != "train":
            continue
        name = _file_name(image_id, coco_folder)
        (folder / "train2017" / name).write_bytes(_jpeg(image_id)[0])
        images.append({"id": image_id, "file_name": name})
        annotations += [
            {
                "image_id": image_id,
                "id": 10 * image_id + j,
                "caption": _caption(image_id, j),
            }
            for j in range(n)
        ]
    (folder / "annotations" / "captions_train2017.json").write_text(
        json.dumps({"images": images, "annotations": annotations})
    )
    (folder / "val2017").mkdir()
    (folder / "annotations" / "captions_val2017.json").write_text(
        json.dumps({"images": [], "annotations": []})
    )
    return folder


def _load(split, tfds_dir, **options):
    return load_data("coco_captions", split, tfds_data_dir=str(tfds_dir), **options)


def _image_ids(data):
    return sorted({int(c.split()[2]) for c in data.features["caption"]})


def test_splits_map_to_karpathy_splits(tfds_dir):
    train = _load("train", tfds_dir, image_size=16)
    assert _image_ids(train) == [1, 2, 3]  # restval (6) not in train
    assert _image_ids(_load("val", tfds_dir, image_size=16)) == [4]
    assert _image_ids(_load("test", tfds_dir, image_size=16)) == [5, 7]
    every = _load("all", tfds_dir, image_size=16)
    assert _image_ids(every) == [1, 2, 3, 4, 5, 6, 7]
    # One row per caption; the image is repeated on each of its rows.
    assert len(train) == 5 + 6 + 5 and len(every) == sum(p[3] for p in PLAN)
    for image_id, *_ in PLAN:
        rows = [
            i for i, c in enumerate(every.features["caption"]) if f" {image_id} " in c
        ]
        assert len({every.features["image"][i].tobytes() for i in rows}) == 1
    assert len({im.tobytes() for im in every.features["image"]}) == len(PLAN)


def test_layout_and_pixels_equal_coco_mini(tfds_dir, coco_mini_dir):
    ours = _load("train", tfds_dir, image_size=32)
    # coco_mini's own reader on the same files (not its prepared records).
    mini = load_coco_captions(
        split="train",
        data_dir=coco_mini_dir.parent,
        folder=coco_mini_dir.name,
        image_size=32,
    )
    assert ours.features.keys() == mini.features.keys()
    for key in mini.features:
        assert ours.features[key].dtype == mini.features[key].dtype
        assert ours.features[key].shape == mini.features[key].shape
        assert type(ours.features[key][0]) is type(mini.features[key][0])
    assert ours.labels.dtype == mini.labels.dtype
    np.testing.assert_array_equal(ours.labels, ours.features["caption"])
    assert (ours.task, ours.num_classes, ours.class_names) == (
        mini.task,
        mini.num_classes,
        mini.class_names,
    )
    # Same captions (stripped) and, caption by caption, the same pixels.
    assert sorted(ours.features["caption"]) == sorted(mini.features["caption"])
    by_caption = dict(zip(mini.features["caption"], mini.features["image"]))
    for caption, image in zip(ours.features["caption"], ours.features["image"]):
        np.testing.assert_array_equal(image, by_caption[caption])


def test_image_size_and_max_images(tfds_dir):
    small = _load("train", tfds_dir, image_size=8, max_images=2)
    assert small.features["image"].shape[1:] == (8, 8, 3)
    assert small.features["image"].dtype == np.uint8
    ids = _image_ids(small)
    assert len(ids) == 2 and len(small) == sum(p[3] for p in PLAN if p[0] in ids)
    assert len(_load("all", tfds_dir, image_size=8, max_images=100)) == len(
        _load("all", tfds_dir, image_size=8)
    )
    with pytest.raises(DataError, match="image_size"):
        _load("train", tfds_dir, image_size=4)
    with pytest.raises(DataError, match="max_images"):
        _load("train", tfds_dir, max_images=0)


def test_not_prepared_is_a_clear_error(tmp_path, monkeypatch, tfds_dir):
    with pytest.raises(DataError) as info:
        _load("train", tmp_path, image_size=16)
    message = str(info.value)
    assert "coco_captions" in message and "not prepared" in message
    assert str(tmp_path / "coco_captions" / "2014" / "1.1.0") in message
    assert f"tfds build coco_captions/2014 --data_dir {tmp_path}" in message
    with pytest.raises(DataError, match="Unknown config '2017'.*2014"):
        _load("train", tfds_dir, config="2017")
    with pytest.raises(DataError, match="Unknown option 'folder'"):
        _load("train", tfds_dir, folder="x")
    # Default data dir: $TFDS_DATA_DIR, read at call time.
    monkeypatch.setenv("TFDS_DATA_DIR", str(tfds_dir))
    assert _image_ids(load_data("coco_captions", "val", image_size=8)) == [4]
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="not prepared"):
        load_data("coco_captions", "val", config="2014")


def test_captioner_trains_one_step(tfds_dir):
    data = _load("train", tfds_dir, image_size=32)
    model = mmzoo.build("captioner", data=data)
    assert model.zoo_config.config["encoder"] == "small_cnn"
    history = model.fit(to_dataset(data, 8), epochs=1, steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
