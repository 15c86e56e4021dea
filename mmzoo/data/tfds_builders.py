"""The zoo's data sources as `tfds` dataset builders (registered on import).

Importing `mmzoo.data` registers four builders with TensorFlow Datasets:

| name | source | splits |
|---|---|---|
| `mmzoo_gmu_synthetic` | `synthetic` | train, validation, test (no files) |
| `mmzoo_mosi` | `mosi` | train, validation (by video); test when the test files exist |
| `mmzoo_digits3` | `digits3` | train, validation, test (FSDD by take) |
| `mmzoo_coco_mini` | `coco_mini` | train (train2017); validation, test (val2017 cut) |

Each builder is a thin layer over the zoo's loader: `_generate_examples` calls
`load_data(source, split, manual_dir, seed=0, **options)` (the options of the
zoo configs' `data:` blocks) and writes its records in order, key = index
within the split, with shuffling disabled, so a prepared split read with
`shuffle_files=False` equals `load_data` of that split example by example. The
TFDS split `validation` is the loader's `val`. A split the files do not hold
(MOSI `test` without the test files) is not generated.

COCO is the exception to "same records": its builder stores one example per
image, the original JPEG bytes (`tfds.features.Image`) and the image's captions
(a sequence of text), rather than the loader's one (resized image, caption)
pair per caption; the images and captions of each split are the loader's own
(`coco._split_files`, the same JPEG checks), so decoding an image with
`coco.decode_image(..., image_size)` and repeating it per caption gives
`load_data("coco_mini", split, image_size=...)` exactly.

Offline use (no network is ever tried; `manual_dir` is the data directory
holding e.g. `cmu_mosi_bclstm/`):

    import tensorflow_datasets as tfds
    import mmzoo.data  # registers the builders

    ds = tfds.load(
        "mmzoo_mosi", split="train", data_dir=D,
        download_and_prepare_kwargs={
            "download_config": tfds.download.DownloadConfig(manual_dir=M)
        },
    )

The first call prepares the records under `D/mmzoo_mosi/1.0.0/`; later calls
with the same `data_dir` read them without regenerating.
"""

import dataclasses
import inspect
import os
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import registered as _registered

from mmzoo.data import audio, coco, digits3, mosi
from mmzoo.data.base import load_data
from mmzoo.errors import DataError

VERSION = tfds.core.Version("1.0.0")
RELEASE_NOTES = {
    "1.0.0": "Initial release: the records of the zoo loader (mmzoo.data) of "
    "the same source, split and default options.",
}
# TFDS split name -> the zoo loader's split name.
SPLITS = {"train": "train", "validation": "val", "test": "test"}
SEED = 0  # the zoo configs' `seed` (pairing and sampling seed of the loaders)
HOMEPAGE = "https://github.com/mmzoo/mmzoo"

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


class _LoaderBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base class: one split generator per available split of a zoo loader."""

    VERSION = VERSION
    RELEASE_NOTES = RELEASE_NOTES
    SOURCE = None
    FOLDERS = ()  # what `manual_dir` must hold (checked before reading)

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        # TFDS 4.9 finds a builder's file through `importlib_resources`, which
        # it declares for Python < 3.9 only (ModuleNotFoundError on 3.11 when
        # absent); the class's file is the same path.
        return epath.Path(inspect.getfile(cls))

    def _options(self):
        """Loader options (those of the zoo configs' `data:` blocks)."""
        return {}

    def _record(self, data, i):
        """Example `i` of a `MultimodalData` as a dict of the features."""
        record = {k: v[i] for k, v in data.features.items()}
        record["label"] = int(data.labels[i])
        return record

    def _source_dir(self, dl_manager):
        if not self.MANUAL_DOWNLOAD_INSTRUCTIONS:
            return None
        root = _local(dl_manager.manual_dir)
        missing = [f for f in self.FOLDERS if not (root / f).exists()]
        if missing:
            raise DataError(
                f"{self.name}: manual_dir {root} lacks {', '.join(missing)}. "
                f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}"
            )
        return root

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
        data = load_data(self.SOURCE, split, data_dir, SEED, **self._options())
        for i in range(len(data)):
            yield i, self._record(data, i)


# --------------------------------------------------------------------------
# GMU synthetic task


@dataclasses.dataclass
class SyntheticConfig(tfds.core.BuilderConfig):
    """Sizes and noise of the synthetic task (the `synthetic` loader options)."""

    num_train: int = 2000
    num_val: int = 500
    num_test: int = 1000
    sigma: float = 1.0


class GmuSynthetic(_LoaderBuilder, skip_registration=_skip("mmzoo_gmu_synthetic")):
    """The GMU paper's synthetic bimodal task (no files)."""

    name = "mmzoo_gmu_synthetic"
    SOURCE = "synthetic"
    BUILDER_CONFIGS = [
        SyntheticConfig(
            name="default",
            description="The zoo default (zoo_configs/gmu.yaml): 2,000 train, "
            "500 validation and 1,000 test draws, sigma 1.",
        ),
    ]
    DEFAULT_CONFIG_NAME = "default"

    def _options(self):
        c = self.builder_config
        return {
            "num_train": c.num_train,
            "num_val": c.num_val,
            "num_test": c.num_test,
            "sigma": c.sigma,
        }

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

    def _options(self):
        return {"with_transcripts": True}  # val_fraction 0.2, split_seed 0

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
                    "text": tfds.features.Tensor(
                        shape=(dims["text"],), dtype=np.float32
                    ),
                    "audio": tfds.features.Tensor(
                        shape=(dims["audio"],), dtype=np.float32
                    ),
                    "video": tfds.features.Tensor(
                        shape=(dims["video"],), dtype=np.float32
                    ),
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

    def _options(self):
        return {"spoken_split": "take"}

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
                    "farsi": tfds.features.Tensor(shape=(32, 32), dtype=np.float32),
                    "kannada": tfds.features.Tensor(shape=(28, 28), dtype=np.float32),
                    "spoken": tfds.features.Tensor(
                        shape=(frames, audio.NUM_MFCC), dtype=np.float32
                    ),
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
        # The loader's own split (images with captions, in its order) and
        # checks (complete JPEG, header size limit, decodable); the image is
        # stored as the file's bytes.
        root = data_dir / coco.FOLDER
        files = coco._split_files(root, split, COCO_SPLIT_SEED, COCO_VAL_FRACTION)
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


# TFDS name -> builder class
BUILDERS = {b.name: b for b in (GmuSynthetic, Mosi, Digits3, CocoMini)}
