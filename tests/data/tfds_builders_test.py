"""The `tfds` builders: prepared from the real data, equal to their readers,
and `load_data`'s one path (prepared records, reused)."""

import csv
import importlib
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

import mmzoo.data  # noqa: F401  (registers the builders)
from mmzoo import envvars
from mmzoo.data import coco, load_data, read_source, synthetic, tfds_builders
from mmzoo.errors import DataError

SOURCES = {
    "mmzoo_gmu_synthetic": ("synthetic", {}),
    "mmzoo_mosi": ("mosi", {"with_transcripts": True}),
    "mmzoo_digits3": ("digits3", {}),
}
SPLITS = {
    "mmzoo_gmu_synthetic": ["train", "validation", "test"],
    "mmzoo_mosi": ["train", "validation"],  # no test files in the shared data
    "mmzoo_digits3": ["train", "validation", "test"],
    "mmzoo_coco_mini": ["train", "validation", "test"],
}
FEATURES = {
    "mmzoo_gmu_synthetic": {
        "visual": ((1,), np.float32),
        "textual": ((1,), np.float32),
        "label": ((), np.int64),
    },
    "mmzoo_mosi": {
        "text": ((100,), np.float32),
        "audio": ((73,), np.float32),
        "video": ((100,), np.float32),
        "transcript": ((), np.object_),
        "label": ((), np.int64),
    },
    "mmzoo_digits3": {
        "farsi": ((32, 32), np.float32),
        "kannada": ((28, 28), np.float32),
        "spoken": ((61, 13), np.float32),
        "presence": ((3,), np.float32),
        "label": ((), np.int64),
    },
    "mmzoo_coco_mini": {
        "image": ((None, None, 3), np.uint8),
        "image/filename": ((), np.object_),
        "captions": ((None,), np.object_),
    },
}
COCO_IMAGE_SIZE = 32  # zoo_configs/captioner.yaml


def _prepare(directory, name, manual_dir=None):
    builder = tfds.builder(name, data_dir=str(directory))
    config = tfds.download.DownloadConfig(
        manual_dir=None if manual_dir is None else str(manual_dir)
    )
    builder.download_and_prepare(download_config=config)
    return builder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, request):
    """`prepared(name)`: the builder prepared into a temporary data_dir (once);
    `prepared(name, copy=1)` a second, independent preparation."""
    cache = {}

    def get(name, copy=0):
        if (name, copy) not in cache:
            manual = None
            if name != "mmzoo_gmu_synthetic":
                manual = request.getfixturevalue("data_dir")
            directory = tmp_path_factory.mktemp(f"{name}_{copy}")
            cache[name, copy] = _prepare(directory, name, manual)
        return cache[name, copy]

    return get


def _records(builder, split):
    """The split as one numpy array per feature, in record order."""
    ds = builder.as_dataset(split=split, shuffle_files=False, batch_size=-1)
    return tfds.as_numpy(ds)


def _record_files(builder):
    return sorted(builder.data_path.glob("*.tfrecord*"))


def test_registered_on_import():
    for name in SPLITS:
        cls = tfds.builder_cls(name)
        assert cls.name == name
        assert cls.VERSION == tfds.core.Version("1.0.0")
        assert "1.0.0" in cls.RELEASE_NOTES


def test_manual_dir_instructions_and_missing_folders(tmp_path):
    for name in ("mmzoo_mosi", "mmzoo_digits3", "mmzoo_coco_mini"):
        assert "manual_dir" in tfds.builder_cls(name).MANUAL_DOWNLOAD_INSTRUCTIONS
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "README").write_text("not the data")
    with pytest.raises(DataError, match="lacks cmu_mosi_bclstm"):
        _prepare(tmp_path / "out", "mmzoo_mosi", manual)


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_info(name, prepared):
    builder = prepared(name)
    info = builder.info
    specs = {k: (f.shape, f.np_dtype) for k, f in info.features.items()}
    assert specs == FEATURES[name]
    assert list(info.splits) == SPLITS[name]
    assert info.description and info.citation.count("@") >= 1
    assert info.disable_shuffling


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_records_equal_reader(name, prepared, request):
    builder = prepared(name)
    source, options = SOURCES[name]
    data_dir = None if source == "synthetic" else request.getfixturevalue("data_dir")
    for split in SPLITS[name]:
        expected = read_source(
            source, tfds_builders.SPLITS[split], data_dir, 0, **options
        )
        got = _records(builder, split)
        assert builder.info.splits[split].num_examples == len(expected)
        np.testing.assert_array_equal(got["label"], expected.labels)
        for key, values in expected.features.items():
            if key == "transcript":
                assert [t.decode() for t in got[key]] == list(values)
            else:
                assert got[key].dtype == values.dtype
                np.testing.assert_array_equal(got[key], values)


def test_coco_records_equal_reader(prepared, data_dir):
    builder = prepared("mmzoo_coco_mini")
    decode = coco._decoder(COCO_IMAGE_SIZE)
    for split in SPLITS["mmzoo_coco_mini"]:
        expected = read_source(
            "coco_mini",
            tfds_builders.SPLITS[split],
            data_dir,
            0,
            image_size=COCO_IMAGE_SIZE,
        )
        ds = builder.as_dataset(
            split=split,
            shuffle_files=False,
            decoders={"image": tfds.decode.SkipDecoding()},
        )
        images, captions = [], []
        for example in tfds.as_numpy(ds):
            image = decode(example["image"]).numpy()
            for caption in example["captions"]:
                images.append(image)
                captions.append(caption.decode())
        assert captions == list(expected.features["caption"])
        np.testing.assert_array_equal(np.stack(images), expected.features["image"])


def _first(builder, split="train", **kwargs):
    ds = builder.as_dataset(split=split, shuffle_files=False, **kwargs)
    return next(iter(tfds.as_numpy(ds)))


def test_known_synthetic_example(prepared):
    # The generating process, seed 0 for train.
    first = _first(prepared("mmzoo_gmu_synthetic"))
    visual, textual, c, _ = synthetic.generate(2000, 1.0, seed=0)
    assert first["visual"] == visual[0] and first["textual"] == textual[0]
    assert first["label"] == c[0]


def test_known_mosi_example(prepared, data_dir):
    # The first train utterance is the first row of the train files.
    first = _first(prepared("mmzoo_mosi"))
    root = data_dir / "cmu_mosi_bclstm"

    def first_row(file):
        with open(root / file, newline="") as f:
            return [float(v) for v in next(csv.reader(f))]

    text, audio = first_row("text_train.csv"), first_row("audio_train0.csv")
    with open(root / "transcripts.csv", newline="") as f:
        transcript = list(csv.reader(f))[int(text[0])]
    assert transcript[1] == "KIDS ARE GONNA LOVE THE FILM"
    assert first["transcript"].decode() == transcript[1]
    assert first["label"] == int(audio[-1]) == int(transcript[3]) == 1
    np.testing.assert_array_equal(first["text"], np.float32(text[1:]))
    np.testing.assert_array_equal(first["audio"], np.float32(audio[:-1]))


def test_known_coco_example(prepared, data_dir):
    # The first train image: its file's bytes, its size and a known caption.
    builder = prepared("mmzoo_coco_mini")
    first = _first(builder)
    assert first["image/filename"].decode() == "000000000790.jpg"
    assert first["image"].shape == (422, 640, 3)
    caption = b"a family is sitting down at a table to have cake"
    assert caption in list(first["captions"])
    raw = _first(builder, decoders={"image": tfds.decode.SkipDecoding()})["image"]
    path = data_dir / "coco_captions_mini" / "train2017" / "000000000790.jpg"
    assert raw == path.read_bytes()


def test_known_digits3_example(prepared):
    # Classes are paired in order: the first triplet is a 0, all present.
    first = _first(prepared("mmzoo_digits3"))
    assert first["label"] == 0
    np.testing.assert_array_equal(first["presence"], [1.0, 1.0, 1.0])
    for key in ("farsi", "kannada"):
        assert 0.0 <= first[key].min() and first[key].max() <= 1.0
        np.testing.assert_allclose(
            first[key] * 255, np.round(first[key] * 255), atol=1e-3
        )


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_two_preparations_are_equal(name, prepared):
    files = [_record_files(prepared(name, copy)) for copy in (0, 1)]
    assert [f.name for f in files[0]] == [f.name for f in files[1]]
    assert len(files[0]) == len(SPLITS[name])
    for a, b in zip(*files):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_mosi_test_split_from_test_files(data_dir, tmp_path):
    root = tmp_path / "manual" / "cmu_mosi_bclstm"
    shutil.copytree(data_dir / "cmu_mosi_bclstm", root)
    for name in ("text", "audio", "video"):
        shutil.copy(root / f"{name}_train0.csv", root / f"{name}_test0.csv")
    shutil.copy(root / "text_train.csv", root / "text_test.csv")
    builder = _prepare(tmp_path / "out", "mmzoo_mosi", root.parent)
    assert list(builder.info.splits) == ["train", "validation", "test"]
    assert builder.info.splits["test"].num_examples == 1447


def test_tfds_load_offline_and_reused(data_dir, tmp_path, monkeypatch):
    kwargs = {
        "split": "train",
        "data_dir": str(tmp_path),
        "download_and_prepare_kwargs": {
            "download_config": tfds.download.DownloadConfig(manual_dir=str(data_dir))
        },
    }
    first = tfds.load("mmzoo_mosi", **kwargs)
    assert first.cardinality().numpy() == 1150
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.tfrecord*")}

    def regenerate(*args, **kwargs):
        raise AssertionError("the prepared records were regenerated")

    monkeypatch.setattr(tfds.builder_cls("mmzoo_mosi"), "_split_generators", regenerate)
    second = tfds.load("mmzoo_mosi", **kwargs)
    assert second.cardinality().numpy() == 1150
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.tfrecord*")} == stamps


def test_reimport_keeps_one_registration():
    before = {name: tfds.builder_cls(name) for name in SPLITS}
    importlib.reload(tfds_builders)  # no "already registered" error
    assert {name: tfds.builder_cls(name) for name in SPLITS} == before


def test_synthetic_config_sizes(tmp_path):
    config = tfds_builders.LoaderConfig(
        name="tiny",
        options={"num_train": 12, "num_val": 5, "num_test": 7, "sigma": 2.0},
    )
    builder = tfds.builder("mmzoo_gmu_synthetic", config=config, data_dir=tmp_path)
    builder.download_and_prepare()
    sizes = {k: v.num_examples for k, v in builder.info.splits.items()}
    assert sizes == {"train": 12, "validation": 5, "test": 7}
    expected = read_source("synthetic", "test", None, 0, num_test=7, sigma=2.0)
    got = _records(builder, "test")
    np.testing.assert_array_equal(got["visual"], expected.features["visual"])


# --------------------------------------------------------------------------
# load_data: the one path (prepared records, reused, re-prepared on change)


def _assert_data_equal(got, expected):
    assert set(got.features) == set(expected.features)
    for key, values in expected.features.items():
        assert got.features[key].dtype == values.dtype, key
        np.testing.assert_array_equal(got.features[key], values, err_msg=key)
    assert got.labels.dtype == expected.labels.dtype
    np.testing.assert_array_equal(got.labels, expected.labels)
    assert (got.num_classes, got.task, got.class_names) == (
        expected.num_classes,
        expected.task,
        expected.class_names,
    )


def _no_generation(monkeypatch, name):
    def regenerate(*args, **kwargs):
        raise AssertionError(f"{name}: the prepared records were regenerated")

    monkeypatch.setattr(tfds.builder_cls(name), "_split_generators", regenerate)


def test_load_data_prepares_once_then_reads(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(envvars.TFDS_DIR, str(tmp_path))
    first = load_data("mosi", "train", data_dir, with_transcripts=True)
    assert first.origin.startswith(f"prepared {tmp_path}/mmzoo_mosi/default/1.0.0")
    _assert_data_equal(
        first, read_source("mosi", "train", data_dir, with_transcripts=True)
    )
    _no_generation(monkeypatch, "mmzoo_mosi")
    for split in ("train", "val"):
        for options in ({}, {"with_transcripts": True}):
            again = load_data("mosi", split, data_dir, **options)
            assert again.origin.startswith("read "), again.origin
            _assert_data_equal(again, read_source("mosi", split, data_dir, **options))
    both = load_data("mosi", "all", data_dir)  # every prepared split, in order
    assert len(both) == 1150 + 297
    with pytest.raises(DataError, match="No test split"):
        load_data("mosi", "test", data_dir)


def test_changed_source_files_are_prepared_again(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(envvars.TFDS_DIR, str(tmp_path / "records"))
    manual = tmp_path / "manual"
    shutil.copytree(data_dir / "cmu_mosi_bclstm", manual / "cmu_mosi_bclstm")
    before = load_data("mosi", "train", manual)
    path = manual / "cmu_mosi_bclstm" / "audio_train0.csv"
    rows = path.read_text().splitlines()
    cells = rows[0].split(",")
    cells[0] = "12345.5"
    path.write_text("\n".join([",".join(cells), *rows[1:]]) + "\n")
    after = load_data("mosi", "train", manual)
    assert after.origin.startswith("prepared "), after.origin
    assert before.features["audio"][0, 0] != 12345.5
    assert after.features["audio"][0, 0] == np.float32(12345.5)


def test_options_choose_the_builder_config(data_dir, monkeypatch):
    # Record options (sizes, seed) get a config of their own; view options
    # (COCO image_size, max_images) read the default records.
    got = load_data("synthetic", "train", None, 3, num_train=12, sigma=2.0)
    assert "/mmzoo_gmu_synthetic/o" in got.origin
    _assert_data_equal(
        got, read_source("synthetic", "train", None, 3, num_train=12, sigma=2.0)
    )
    small = load_data("coco_mini", "val", data_dir, image_size=16, max_images=3)
    assert "/mmzoo_coco_mini/default/" in small.origin
    _assert_data_equal(
        small,
        read_source("coco_mini", "val", data_dir, image_size=16, max_images=3),
    )
    with pytest.raises(DataError, match="Unknown option 'size'"):
        load_data("mosi", "train", data_dir, size=3)


def test_mnist_through_its_builder(data_dir):
    # The session's records (the zoo test of mvae_mnist reads them too); not
    # prepared twice here: 70,000 examples take about 16 s.
    got = load_data("mnist_image_label", "val", data_dir)
    assert "/mmzoo_mnist/default/" in got.origin
    _assert_data_equal(got, read_source("mnist_image_label", "val", data_dir))
    builder, _ = tfds_builders.prepare(tfds_builders.Mnist, data_dir)
    sizes = {k: v.num_examples for k, v in builder.info.splits.items()}
    assert sizes == {"train": 55000, "validation": 5000, "test": 10000}
    specs = {k: (f.shape, f.np_dtype) for k, f in builder.info.features.items()}
    assert specs == {
        "image": ((28, 28), np.float32),
        "presence": ((2,), np.float32),
        "label": ((), np.int64),
    }
    # The last x_train image is the first validation example.
    with np.load(data_dir / "mnist" / "mnist.npz") as f:
        image, label = f["x_train"][55000], f["y_train"][55000]
    first = _first(builder, "validation")
    assert first["label"] == label
    np.testing.assert_array_equal(first["image"], image.astype(np.float32) / 255.0)
