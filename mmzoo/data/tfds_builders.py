"""The zoo's data sources as `tfds` dataset builders, and the one path to them.

Importing `mmzoo.data` registers five builders with TensorFlow Datasets:

| name | source | splits |
|---|---|---|
| `mmzoo_gmu_synthetic` | `synthetic` | train, validation, test (no files) |
| `mmzoo_mosi` | `mosi` | train, validation (by video); test when the test files exist |
| `mmzoo_digits3` | `digits3` | train, validation, test (FSDD by take) |
| `mmzoo_coco_mini` | `coco_mini` | train (train2017); validation, test (val2017 cut) |
| `mmzoo_mnist` | `mnist_image_label` | train, validation (last 5,000), test |

Every zoo model, the CLI and `mmzoo.data.load_data` read these sources through
their builders (`load_prepared`): the first call prepares the records of the
needed builder config under the records directory, later calls (other
processes, the next `mmzoo train`) read them back. The file readers
(`mmzoo.data.read_source`, registered with `register_source`) run only inside a
builder's `_generate_examples`.

Records and options. A builder config holds the loader options that change
the records (`RECORD_OPTIONS`, e.g. the synthetic sizes, the MOSI validation
cut, the FSDD split rule) and the seed where the loader uses one; `default`
is the zoo default, other values get a config named after a hash of them.
Options that only select from the records are applied when reading
(`VIEW_OPTIONS`: MOSI `with_transcripts`; COCO `image_size` and
`max_images`). Each builder writes its records in order, key = index within the
split, with shuffling disabled, so a prepared split read with
`shuffle_files=False` equals the reader's output example by example. The TFDS
split `validation` is the zoo's `val`; the zoo's `all` is every prepared split
(train, validation, test) in that order. A split the files do not hold (MOSI
`test` without the test files) is not generated.

Reuse. Next to its records, `load_prepared` keeps `mmzoo_source.json`: the
fingerprint (relative path, size and modification time of every source file,
and the mmzoo version) of what they were prepared from; a changed fingerprint
prepares them again, so changed files or another `--data-dir` never give stale
records. The records directory is `$MMZOO_TFDS_DIR`, else `$TFDS_DATA_DIR`,
else TFDS's default `~/tensorflow_datasets`. A lock file per builder keeps two
processes (the workers of a multi-worker run) from preparing at once.

COCO is the exception to "same records": its builder stores one example per
image, the original JPEG bytes (`tfds.features.Image`) and the image's captions
(a sequence of text), rather than the reader's one (resized image, caption)
pair per caption; `load_prepared` decodes each image with the reader's decoder
at `image_size` and repeats it per caption, which gives the reader's output
exactly. MNIST stores the class once (`label`); the one-hot `label` modality is
rebuilt from it when reading.

Offline use with `tfds` directly (no network is ever tried; `manual_dir` is the
data directory holding e.g. `cmu_mosi_bclstm/`):

    import tensorflow_datasets as tfds
    import mmzoo.data  # registers the builders

    ds = tfds.load(
        "mmzoo_mosi", split="train", data_dir=D,
        download_and_prepare_kwargs={
            "download_config": tfds.download.DownloadConfig(manual_dir=M)
        },
    )

The first call prepares the records under `D/mmzoo_mosi/default/1.0.0/`;
later calls with the same `data_dir` read them without regenerating, and so
does `mmzoo train` with `MMZOO_TFDS_DIR=D` (after checking the fingerprint).
"""

import contextlib
import dataclasses
import hashlib
import inspect
import io
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import registered as _registered
from tensorflow_datasets.core.utils import tqdm_utils as _tqdm_utils

from mmzoo import envvars
from mmzoo.data import audio, coco, digits3, mosi
from mmzoo.data.base import (
    MultimodalData,
    check_data,
    check_options,
    read_source,
    register_records,
    resolve_data_dir,
    source_reader,
)
from mmzoo.errors import DataError

VERSION = tfds.core.Version("1.0.0")
RELEASE_NOTES = {
    "1.0.0": "Initial release: the records of the zoo reader (mmzoo.data) of "
    "the same source, split and options.",
}
# TFDS split name -> the zoo's split name.
SPLITS = {"train": "train", "validation": "val", "test": "test"}
SEED = 0  # the zoo configs' `seed` (pairing and sampling seed of the readers)
HOMEPAGE = "https://github.com/mmzoo/mmzoo"
FINGERPRINT_FILE = "mmzoo_source.json"
_CITATION_GMU = r"""@inproceedings{arevalo2017gated,
  title={Gated Multimodal Units for Information Fusion},
  author={Arevalo, John and Solorio, Thamar and Montes-y-G{\'o}mez, Manuel and
          Gonz{\'a}lez, Fabio A.},
  booktitle={5th International Conference on Learning Representations (ICLR),
             Workshop Track},
  year={2017},
  note={arXiv:1702.01992}
}"""

_CITATION_MOSI = r"""@article{zadeh2016mosi,
  title={{MOSI}: Multimodal Corpus of Sentiment Intensity and Subjectivity
         Analysis in Online Opinion Videos},
  author={Zadeh, Amir and Zellers, Rowan and Pincus, Eli and
          Morency, Louis-Philippe},
  journal={arXiv preprint arXiv:1606.06259},
  year={2016}
}
@article{zadeh2016multimodal,
  title={Multimodal Sentiment Intensity Analysis in Videos: Facial Gestures and
         Verbal Messages},
  author={Zadeh, Amir and Zellers, Rowan and Pincus, Eli and
          Morency, Louis-Philippe},
  journal={IEEE Intelligent Systems},
  volume={31},
  number={6},
  pages={82--88},
  year={2016}
}
@inproceedings{poria2017context,
  title={Context-Dependent Sentiment Analysis in User-Generated Videos},
  author={Poria, Soujanya and Cambria, Erik and Hazarika, Devamanyu and
          Majumder, Navonil and Zadeh, Amir and Morency, Louis-Philippe},
  booktitle={Proceedings of the 55th Annual Meeting of the Association for
             Computational Linguistics (Volume 1: Long Papers)},
  pages={873--883},
  year={2017}
}"""

_CITATION_DIGITS3 = r"""@article{khosravi2007introducing,
  title={Introducing a very large dataset of handwritten {Farsi} digits and a
         study on their varieties},
  author={Khosravi, Hossein and Kabir, Ehsanollah},
  journal={Pattern Recognition Letters},
  volume={28},
  number={10},
  pages={1133--1141},
  year={2007}
}
@article{prabhu2019kannada,
  title={{Kannada-MNIST}: A new handwritten digits dataset for the {Kannada}
         language},
  author={Prabhu, Vinay Uday},
  journal={arXiv preprint arXiv:1908.01242},
  year={2019}
}
@misc{jackson2018fsdd,
  title={Jakobovski/free-spoken-digit-dataset: v1.0.8},
  author={Jackson, Zohar and Souza, C{\'e}sar and Flaks, Jason and Pan, Yuxin
          and Nicolas, Hereman and Thite, Adhish},
  publisher={Zenodo},
  year={2018},
  doi={10.5281/zenodo.1342401}
}"""

_CITATION_COCO = r"""@inproceedings{lin2014microsoft,
  title={Microsoft {COCO}: Common Objects in Context},
  author={Lin, Tsung-Yi and Maire, Michael and Belongie, Serge and Hays, James
          and Perona, Pietro and Ramanan, Deva and Doll{\'a}r, Piotr and
          Zitnick, C. Lawrence},
  booktitle={European Conference on Computer Vision (ECCV)},
  pages={740--755},
  year={2014}
}
@article{chen2015microsoft,
  title={Microsoft {COCO} Captions: Data Collection and Evaluation Server},
  author={Chen, Xinlei and Fang, Hao and Lin, Tsung-Yi and Vedantam,
          Ramakrishna and Gupta, Saurabh and Doll{\'a}r, Piotr and
          Zitnick, C. Lawrence},
  journal={arXiv preprint arXiv:1504.00325},
  year={2015}
}"""


_CITATION_MNIST = r"""@article{lecun1998gradient,
  title={Gradient-based learning applied to document recognition},
  author={LeCun, Yann and Bottou, L{\'e}on and Bengio, Yoshua and
          Haffner, Patrick},
  journal={Proceedings of the IEEE},
  volume={86},
  number={11},
  pages={2278--2324},
  year={1998}
}
@inproceedings{wu2018multimodal,
  title={Multimodal Generative Models for Scalable Weakly-Supervised Learning},
  author={Wu, Mike and Goodman, Noah},
  booktitle={Advances in Neural Information Processing Systems},
  year={2018}
}"""


def _skip(name):
    """True when this module already registered `name` (a reload).

    TFDS registers a builder class when it is defined and refuses a second
    class of the same name; a re-executed module (e.g. `importlib.reload`)
    keeps the first registration. A name taken by another module still raises.
    """
    previous = getattr(_registered, "_DATASET_REGISTRY", {}).get(name)
    return previous is not None and previous.__module__ == __name__


def _local(path):
    return Path(os.fspath(path))


@dataclasses.dataclass(eq=False)
class LoaderConfig(tfds.core.BuilderConfig):
    """A builder config: the reader options that change the records, and the
    reader's seed (0 for readers that use none)."""

    options: dict = dataclasses.field(default_factory=dict)
    seed: int = SEED


class _LoaderBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base class: one split generator per available split of a zoo reader."""

    VERSION = VERSION
    RELEASE_NOTES = RELEASE_NOTES
    SOURCE = None
    FOLDERS = ()  # what `manual_dir` must hold (checked before reading)
    RECORD_OPTIONS = {}  # reader option -> default; they change the records
    VIEW_OPTIONS = ()  # reader options applied when the records are read
    GENERATE_OPTIONS = {}  # reader options fixed when generating
    USES_SEED = False  # the reader's output depends on `seed`
    CLASS_NAMES = None  # the reader's `MultimodalData.class_names`
    DEFAULT_CONFIG_NAME = "default"

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        # TFDS 4.9 finds a builder's file through `importlib_resources`, which
        # it declares for Python < 3.9 only (ModuleNotFoundError on 3.11 when
        # absent); the class's file is the same path.
        return epath.Path(inspect.getfile(cls))

    def _record(self, data, i):
        """Example `i` of a `MultimodalData` as a dict of the features."""
        record = {k: v[i] for k, v in data.features.items()}
        record["label"] = int(data.labels[i])
        return record

    def _source_dir(self, dl_manager):
        if not self.MANUAL_DOWNLOAD_INSTRUCTIONS:
            return None
        root = _local(dl_manager.manual_dir)
        options = self.builder_config.options
        missing = [f for f in self.folders(options) if not (root / f).exists()]
        if missing:
            raise DataError(
                f"{self.name}: manual_dir {root} lacks {', '.join(missing)}. "
                f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}"
            )
        return root

    @classmethod
    def folders(cls, options):
        """What `manual_dir` must hold for these record options."""
        return cls.FOLDERS

    def _available(self, data_dir):
        """The TFDS split names this data directory can generate."""
        return list(SPLITS)

    def _split_generators(self, dl_manager):
        data_dir = self._source_dir(dl_manager)
        return {
            name: self._generate_examples(data_dir, SPLITS[name])
            for name in self._available(data_dir)
        }

    def _generate_examples(self, data_dir, split):
        config = self.builder_config
        data = read_source(
            self.SOURCE,
            split,
            data_dir,
            config.seed,
            **config.options,
            **self.GENERATE_OPTIONS,
        )
        for i in range(len(data)):
            yield i, self._record(data, i)

    # --- reading back (load_prepared) ----------------------------------------
    @classmethod
    def read_split(cls, builder, split, view):
        """A prepared TFDS split (or `a+b` of several) as `MultimodalData`."""
        arrays = tfds.as_numpy(
            builder.as_dataset(split=split, batch_size=-1, shuffle_files=False)
        )
        labels = arrays.pop("label").astype(np.int32)  # the readers' dtype
        features = {k: _texts(v) if v.dtype == object else v for k, v in arrays.items()}
        return MultimodalData(
            features=features,
            labels=labels,
            num_classes=builder.info.features["label"].num_classes,
            class_names=None if cls.CLASS_NAMES is None else list(cls.CLASS_NAMES),
        )


def _array(shape):
    """A float32 feature stored as raw bytes: TFDS writes a `float_list` of
    an array value by value in Python (about 0.25 ms per MNIST image)."""
    return tfds.features.Tensor(
        shape=shape, dtype=np.float32, encoding=tfds.features.Encoding.BYTES
    )


def _texts(values):
    return np.asarray([v.decode("utf-8") for v in values], dtype=object)


# --------------------------------------------------------------------------
# GMU synthetic task


class GmuSynthetic(_LoaderBuilder, skip_registration=_skip("mmzoo_gmu_synthetic")):
    """The GMU paper's synthetic bimodal task (no files)."""

    name = "mmzoo_gmu_synthetic"
    SOURCE = "synthetic"
    RECORD_OPTIONS = {"num_train": 2000, "num_val": 500, "num_test": 1000, "sigma": 1.0}
    USES_SEED = True
    BUILDER_CONFIGS = [
        LoaderConfig(
            name="default",
            description="The zoo default (zoo_configs/gmu.yaml): 2,000 train, "
            "500 validation and 1,000 test draws, sigma 1, seed 0.",
            options=dict(RECORD_OPTIONS),
        )
    ]

    def _info(self):
        return self.dataset_info_from_configs(
            description=(
                "The synthetic bimodal task of Arevalo et al. (2017), section "
                "4.1: a class c ~ Bernoulli(0.5) and a switch m ~ "
                "Bernoulli(0.5); when m = 0 the visual value carries the class "
                "(mean 1 or 8) and the textual value is noise (mean 10), when "
                "m = 1 the textual value carries it (mean 13 or 19) and the "
                "visual value is noise (mean 17); Gaussian with standard "
                "deviation sigma, both centred by the process mean. Seeded "
                "draws per split (seed 0), as mmzoo's `synthetic` loader."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "visual": tfds.features.Tensor(shape=(1,), dtype=np.float32),
                    "textual": tfds.features.Tensor(shape=(1,), dtype=np.float32),
                    "label": tfds.features.ClassLabel(num_classes=2),
                }
            ),
            supervised_keys=None,
            homepage="https://arxiv.org/abs/1702.01992",
            citation=_CITATION_GMU,
            disable_shuffling=True,
        )


# --------------------------------------------------------------------------
# CMU-MOSI


class Mosi(_LoaderBuilder, skip_registration=_skip("mmzoo_mosi")):
    """CMU-MOSI utterance features (bc-LSTM release) and transcripts."""

    name = "mmzoo_mosi"
    SOURCE = "mosi"
    FOLDERS = (mosi.FOLDER,)
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
`manual_dir` is the data directory holding `{mosi.FOLDER}/` (the bc-LSTM
release of CMU-MOSI, Poria et al. 2017):
  {mosi.FOLDER}/transcripts.csv   utt_id, transcript, video_no, label (no header)
  {mosi.FOLDER}/text_train.csv    row index into transcripts.csv, 100 text features
  {mosi.FOLDER}/text_train0.csv   100 text features, label
  {mosi.FOLDER}/audio_train0.csv  73 audio features, label
  {mosi.FOLDER}/video_train0.csv  100 video features, label
and, optionally, the same files with `test` for `train` (the test split is
generated only when `text_test.csv` is present)."""

    RECORD_OPTIONS = {"val_fraction": 0.2, "split_seed": 0}
    BUILDER_CONFIGS = [
        LoaderConfig(
            name="default",
            description="20% of the train videos held out (split seed 0).",
            options=dict(RECORD_OPTIONS),
        )
    ]
    VIEW_OPTIONS = ("with_transcripts",)
    GENERATE_OPTIONS = {"with_transcripts": True}
    CLASS_NAMES = ("negative", "positive")

    @classmethod
    def read_split(cls, builder, split, view):
        data = super().read_split(builder, split, view)
        if not view.get("with_transcripts", False):
            data.features.pop("transcript")
        return data

    def _available(self, data_dir):
        names = ["train", "validation"]
        if mosi.has_test_files(data_dir / mosi.FOLDER):
            names.append("test")
        return names

    def _record(self, data, i):
        record = super()._record(data, i)
        record["transcript"] = str(record["transcript"])
        return record

    def _info(self):
        dims = mosi.FEATURE_DIMS
        return self.dataset_info_from_configs(
            description=(
                "CMU-MOSI (Zadeh et al. 2016) utterances as the bc-LSTM "
                "features of Poria et al. (2017): text (100-d CNN), audio "
                "(73-d openSMILE), video (100-d 3D-CNN), the transcript and a "
                "binary sentiment label (0 negative, 1 positive). Splits: "
                "`train` and `validation` from the train files, split by video "
                "(20% of the videos, seeded shuffle with seed 0, held out; "
                "never utterances of one video on both sides); `test` from "
                "the test files, generated only when they are present."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "text": _array((dims["text"],)),
                    "audio": _array((dims["audio"],)),
                    "video": _array((dims["video"],)),
                    "transcript": tfds.features.Text(),
                    "label": tfds.features.ClassLabel(names=["negative", "positive"]),
                }
            ),
            supervised_keys=None,
            homepage="https://github.com/declare-lab/multimodal-deep-learning",
            citation=_CITATION_MOSI,
            disable_shuffling=True,
        )


# --------------------------------------------------------------------------
# Farsi + Kannada + spoken digits


class Digits3(_LoaderBuilder, skip_registration=_skip("mmzoo_digits3")):
    """Same-class triplets of Farsi, Kannada and spoken digits (MVAE seed)."""

    name = "mmzoo_digits3"
    SOURCE = "digits3"
    FOLDERS = (
        "hoda/hoda_32x32.npz",
        "kannada_mnist/kannada_mnist.npz",
        "fsdd/recordings",
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
`manual_dir` is the data directory holding:
  hoda/hoda_32x32.npz               x_train, y_train, x_test, y_test (32x32 uint8)
  kannada_mnist/kannada_mnist.npz   x, y (28x28 uint8)
  fsdd/recordings/{digit}_{speaker}_{take}.wav   8 kHz mono 16-bit WAV"""

    RECORD_OPTIONS = {"spoken_split": "take"}
    BUILDER_CONFIGS = [
        LoaderConfig(
            name="default",
            description="FSDD split by take; pairing seed 0.",
            options=dict(RECORD_OPTIONS),
        )
    ]
    USES_SEED = True
    CLASS_NAMES = tuple(str(i) for i in range(10))

    def _info(self):
        frames = audio.num_frames()
        return self.dataset_info_from_configs(
            description=(
                "Same-class triplets of a handwritten Farsi digit (Hoda, "
                "32x32), a handwritten Kannada digit (Kannada-MNIST, 28x28), "
                "both float32 in [0, 1], and a spoken digit (FSDD) as 13 MFCC "
                f"over {frames} frames of the first second, standardised with "
                "the train takes' statistics; samples of one class are paired "
                "without replacement (seed 0). `presence` is the all-ones "
                "missing-modality mask (farsi, kannada, spoken). Splits: FSDD "
                "by take (takes 0-9 test, 10-14 validation, the rest train); "
                "Hoda `test` from x_test, train/validation a class-stratified "
                "90/10 cut of x_train; Kannada-MNIST a class-stratified "
                "80/10/10 cut."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "farsi": _array((32, 32)),
                    "kannada": _array((28, 28)),
                    "spoken": _array((frames, audio.NUM_MFCC)),
                    "presence": tfds.features.Tensor(
                        shape=(len(digits3.MODALITIES),), dtype=np.float32
                    ),
                    "label": tfds.features.ClassLabel(
                        names=[str(i) for i in range(10)]
                    ),
                }
            ),
            supervised_keys=None,
            homepage="https://github.com/Jakobovski/free-spoken-digit-dataset",
            citation=_CITATION_DIGITS3,
            disable_shuffling=True,
        )


# --------------------------------------------------------------------------
# COCO captions (mini)

COCO_SPLIT_SEED = 0
COCO_VAL_FRACTION = 0.5


class CocoMini(_LoaderBuilder, skip_registration=_skip("mmzoo_coco_mini")):
    """COCO 2017 images (original JPEG) with their human captions."""

    name = "mmzoo_coco_mini"
    SOURCE = "coco_mini"
    FOLDERS = (coco.FOLDER,)
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
`manual_dir` is the data directory holding `{coco.FOLDER}/` (or a folder of the
full COCO 2017 layout under that name):
  {coco.FOLDER}/train2017/*.jpg
  {coco.FOLDER}/val2017/*.jpg
  {coco.FOLDER}/annotations/captions_train2017.json
  {coco.FOLDER}/annotations/captions_val2017.json
Annotations whose image file is missing are skipped."""
    RECORD_OPTIONS = {"folder": coco.FOLDER, "split_seed": 0, "val_fraction": 0.5}
    VIEW_OPTIONS = ("image_size", "max_images")

    @classmethod
    def folders(cls, options):
        return (options["folder"],)

    BUILDER_CONFIGS = [
        LoaderConfig(
            name="default",
            description="val2017 shuffled with seed 0 and cut in halves.",
            options=dict(RECORD_OPTIONS),
        )
    ]

    def _info(self):
        return self.dataset_info_from_configs(
            description=(
                "COCO 2017 images (Lin et al. 2014) with their human captions "
                "(Chen et al. 2015), one example per image: the original JPEG "
                "file (`image`, decoded by TFDS to uint8 (height, width, 3)), "
                "its file name and its captions in annotation order. Splits: "
                "`train` = the train2017 images; `validation` and `test` = the "
                "val2017 images shuffled with seed 0 and cut in halves. The "
                "zoo's `coco_mini` loader resizes each image (image_size) and "
                "repeats it once per caption."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(
                        shape=(None, None, 3), encoding_format="jpeg"
                    ),
                    "image/filename": tfds.features.Text(),
                    "captions": tfds.features.Sequence(tfds.features.Text()),
                }
            ),
            supervised_keys=None,
            homepage="https://cocodataset.org/",
            citation=_CITATION_COCO,
            disable_shuffling=True,
        )

    def _generate_examples(self, data_dir, split):
        # The reader's own split (images with captions, in its order) and
        # checks (complete JPEG, header size limit, decodable); the image is
        # stored as the file's bytes.
        options = self.builder_config.options
        root = data_dir / options["folder"]
        files = coco._split_files(
            root, split, options["split_seed"], options["val_fraction"]
        )
        if not files:
            raise DataError(f"coco_mini/{split}: no image with captions under {root}")
        for i, (path, captions) in enumerate(files):
            data = path.read_bytes()
            if data[:3] != coco.JPEG_MAGIC:
                raise DataError(f"{path}: not a JPEG file")
            coco._decode_file(path, 8)
            yield (
                i,
                {
                    "image": data,
                    "image/filename": path.name,
                    "captions": list(captions),
                },
            )

    @classmethod
    def read_split(cls, builder, split, view):
        """One (image resized to `image_size`, caption) row per caption, as
        the reader gives them; `max_images` keeps the split's first images."""
        import tensorflow as tf

        image_size = view.get("image_size", coco.DEFAULT_IMAGE_SIZE)
        coco.check_image_size(image_size)
        max_images = view.get("max_images")
        # The JPEG bytes, decoded by the reader's own decoder below.
        decoders = {"image": tfds.decode.SkipDecoding()}
        ds = builder.as_dataset(split=split, shuffle_files=False, decoders=decoders)
        if max_images is not None:
            ds = ds.take(int(max_images))
        ds = ds.map(
            lambda ex: (coco.decode_image(ex["image"], image_size), ex["captions"]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        data = coco.captioning_data(
            (image, [c.decode("utf-8") for c in caps])
            for image, caps in tfds.as_numpy(ds)
        )
        if data is None:
            raise DataError(f"coco_mini/{split}: the prepared split has no images")
        return data


# --------------------------------------------------------------------------
# MNIST image + label (the MVAE paper's MNIST experiment)


class Mnist(_LoaderBuilder, skip_registration=_skip("mmzoo_mnist")):
    """MNIST digits with the class as a second modality."""

    name = "mmzoo_mnist"
    SOURCE = "mnist_image_label"
    FOLDERS = ("mnist/mnist.npz",)
    MANUAL_DOWNLOAD_INSTRUCTIONS = """`manual_dir` is the data directory holding:
  mnist/mnist.npz   x_train, y_train, x_test, y_test (28x28 uint8)"""
    RECORD_OPTIONS = {"val_size": 5000}
    BUILDER_CONFIGS = [
        LoaderConfig(
            name="default",
            description="The last 5,000 train images are the validation split.",
            options=dict(RECORD_OPTIONS),
        )
    ]

    def _record(self, data, i):
        return {
            "image": data.features["image"][i],
            "presence": data.features["presence"][i],
            "label": int(data.labels[i]),
        }

    @classmethod
    def read_split(cls, builder, split, view):
        data = super().read_split(builder, split, view)
        # The reader's one-hot `label` modality, rebuilt from the class.
        data.features["label"] = np.eye(10, dtype="float32")[data.labels]
        return data

    def _info(self):
        return self.dataset_info_from_configs(
            description=(
                "MNIST (LeCun et al. 1998) as the two modalities of the MVAE "
                "paper's experiment (Wu and Goodman 2018, section 5.1): "
                "`image` (28, 28) float32 in [0, 1] and the class, which the "
                "zoo reader also gives as a one-hot `label` modality (rebuilt "
                "from `label` when read through mmzoo). `presence` is the "
                "all-ones missing-modality mask (image, label). Splits: `train` "
                "= x_train without its last 5,000 images (`validation`); "
                "`test` = x_test."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "image": _array((28, 28)),
                    "presence": tfds.features.Tensor(shape=(2,), dtype=np.float32),
                    "label": tfds.features.ClassLabel(
                        names=[str(i) for i in range(10)]
                    ),
                }
            ),
            supervised_keys=None,
            homepage="http://yann.lecun.com/exdb/mnist/",
            citation=_CITATION_MNIST,
            disable_shuffling=True,
        )


# TFDS name -> builder class; zoo source -> builder class
BUILDERS = {b.name: b for b in (GmuSynthetic, Mosi, Digits3, CocoMini, Mnist)}
BY_SOURCE = {b.SOURCE: b for b in BUILDERS.values()}


# --------------------------------------------------------------------------
# The one path: prepare once, read the records


def resolve_tfds_dir(tfds_dir=None):
    """Where prepared records live: `tfds_dir`, else `$MMZOO_TFDS_DIR`, else
    `$TFDS_DATA_DIR`, else `~/tensorflow_datasets` (TFDS's default)."""
    chosen = (
        tfds_dir
        or os.environ.get(envvars.TFDS_DIR)
        or os.environ.get("TFDS_DATA_DIR")
        or "~/tensorflow_datasets"
    )
    return Path(chosen).expanduser()


def _config_for(builder_cls, options, seed):
    """The builder config of these reader options: `default` for the zoo
    defaults, else one named after a hash of the options and the seed."""
    record = dict(builder_cls.RECORD_OPTIONS)
    record.update({k: v for k, v in options.items() if k in record})
    seed = int(seed) if builder_cls.USES_SEED else SEED
    if record == builder_cls.RECORD_OPTIONS and seed == SEED:
        return "default"
    text = json.dumps({"options": record, "seed": seed}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return LoaderConfig(
        name=f"o{digest}",
        description=f"Reader options {text}.",
        options=record,
        seed=seed,
    )


def source_fingerprint(builder_cls, manual_dir, options):
    """What the records were prepared from: every source file's relative
    path, size and modification time; the mmzoo version and the code that
    writes the records."""
    import mmzoo

    files = []
    for folder in builder_cls.folders(options) if manual_dir else ():
        root = manual_dir / folder
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            if path.is_file():
                st = path.stat()
                rel = path.relative_to(manual_dir).as_posix()
                files.append([rel, st.st_size, st.st_mtime_ns])
    # The code that writes the records: this module and the source's reader.
    code = b"".join(
        Path(inspect.getfile(obj)).read_bytes()
        for obj in (builder_cls, source_reader(builder_cls.SOURCE))
    )
    text = json.dumps(files)
    return {
        "mmzoo": mmzoo.__version__,
        "files": len(files),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "code_sha256": hashlib.sha256(code).hexdigest(),
    }


@contextlib.contextmanager
def _lock(path):
    """An exclusive lock file (POSIX `flock`; no lock where unavailable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _quiet_tfds():
    """No progress bars, "Downloading and preparing" prints on stdout or TFDS
    warnings about its own internals (absl) while mmzoo prepares and reads:
    the trainer prints one line per split instead, and errors stay one line."""
    active = _tqdm_utils._active
    _tqdm_utils.display_progress_bar(False)
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        absl_logger.setLevel(level)
        _tqdm_utils.display_progress_bar(active)


@dataclasses.dataclass
class Prepared:
    """Where `prepare` found or wrote the records, and how long it took."""

    path: Path
    prepared_now: bool
    seconds: float


def prepare(builder_cls, data_dir=None, seed=SEED, tfds_dir=None, **options):
    """The prepared builder of these reader options (preparing it if needed).

    Returns `(builder, Prepared)`.
    """
    start = time.perf_counter()
    config = _config_for(builder_cls, options, seed)
    tfds_dir = resolve_tfds_dir(tfds_dir)
    manual_dir = None
    record = (
        builder_cls.builder_configs[config].options
        if isinstance(config, str)
        else config.options
    )
    if builder_cls.MANUAL_DOWNLOAD_INSTRUCTIONS:
        manual_dir = resolve_data_dir(data_dir).expanduser().absolute()
        folders = builder_cls.folders(record)
        if any(not (manual_dir / f).exists() for f in folders):
            # The reader's own error for what is missing, else a general one.
            read_source(builder_cls.SOURCE, "train", manual_dir, seed, **record)
            raise DataError(
                f"{builder_cls.name}: {manual_dir} lacks {', '.join(folders)}. "
                f"{builder_cls.MANUAL_DOWNLOAD_INSTRUCTIONS}"
            )
        manual_dir = manual_dir.resolve()
    expected = source_fingerprint(builder_cls, manual_dir, record)
    config_name = config if isinstance(config, str) else config.name
    with _lock(tfds_dir / f".{builder_cls.name}-{config_name}.lock"):
        builder = builder_cls(config=config, data_dir=str(tfds_dir))
        path = _local(builder.data_path)
        stamp = path / FINGERPRINT_FILE
        ready = (path / "dataset_info.json").is_file()
        if ready:
            try:
                found = json.loads(stamp.read_text())
            except (OSError, ValueError):
                found = None
            if found != expected:  # other files: prepare again
                shutil.rmtree(path)
                builder = builder_cls(config=config, data_dir=str(tfds_dir))
                ready = False
        if not ready:
            download_config = tfds.download.DownloadConfig(
                manual_dir=None if manual_dir is None else str(manual_dir),
                compute_stats=tfds.download.ComputeStatsMode.SKIP,
            )
            with _quiet_tfds():
                builder.download_and_prepare(download_config=download_config)
            stamp.write_text(json.dumps(expected))
    return builder, Prepared(path, not ready, time.perf_counter() - start)


def load_prepared(source, split, data_dir=None, seed=SEED, **options):
    """`split` of `source` as `MultimodalData`, read from its prepared records.

    What `mmzoo.data.load_data` does for every source that has a builder.
    Options are the reader's (`RECORD_OPTIONS` choose the builder config,
    `VIEW_OPTIONS` are applied to the records); `tfds_dir` (keyword) overrides
    the records directory.
    """
    builder_cls = BY_SOURCE[source]
    tfds_dir = options.pop("tfds_dir", None)
    check_options(source, options)
    unused = (
        set(options) - set(builder_cls.RECORD_OPTIONS) - set(builder_cls.VIEW_OPTIONS)
    )
    if unused:  # a reader option this builder does not map: a bug here
        raise DataError(
            f"{builder_cls.name} cannot hold option(s) {sorted(unused)} of "
            f"source {source!r}"
        )
    start = time.perf_counter()
    with _quiet_tfds():
        return _load_prepared(
            builder_cls, source, split, data_dir, seed, tfds_dir, options, start
        )


def _load_prepared(
    builder_cls, source, split, data_dir, seed, tfds_dir, options, start
):
    builder, prepared = prepare(builder_cls, data_dir, seed, tfds_dir, **options)
    available = list(builder.info.splits)
    if split == "all":
        tfds_split = "+".join(s for s in SPLITS if s in available)
    else:
        tfds_split = {v: k for k, v in SPLITS.items()}[split]
        if tfds_split not in available:
            # The reader's own error (e.g. MOSI without the test files).
            read_source(source, split, data_dir, seed, **options)
            raise DataError(
                f"No {split} split of {source} in the records {prepared.path} "
                f"(prepared splits: {', '.join(available)})."
            )
    view = {k: options[k] for k in builder_cls.VIEW_OPTIONS if k in options}
    data = builder_cls.read_split(builder, tfds_split, view)
    data.origin = (
        f"{'prepared' if prepared.prepared_now else 'read'} {prepared.path} "
        f"({time.perf_counter() - start:.2f} s)"
    )
    check_data(data, f"{source}/{split}")
    return data


for _builder_cls in BUILDERS.values():
    register_records(_builder_cls.SOURCE, load_prepared)
