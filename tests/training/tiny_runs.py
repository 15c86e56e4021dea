"""Tiny resumable runs for the training tests, and a driver to run them in a
subprocess: `python tiny_runs.py NAME RUN_DIR` (the tests SIGKILL it with the
`MMZOO_TEST_KILL_AT` hook of `mmzoo.training.backup`)."""

import json
import sys

import numpy as np

from mmzoo.config import load_config
from mmzoo.data.base import MultimodalData, list_sources, register_source

if "tiny_mvae" not in list_sources():

    @register_source("tiny_mvae")
    def load_tiny_mvae(split, data_dir, seed, num=40):
        """Two modalities (an 8x8 image, 5 features) of 3 classes."""
        rng = np.random.default_rng([seed, {"train": 0, "val": 1}.get(split, 2)])
        labels = rng.integers(0, 3, num).astype("int32")
        image = rng.random((num, 8, 8)) < 0.2 + 0.2 * labels[:, None, None]
        feats = rng.normal(labels[:, None], 1.0, (num, 5))
        return MultimodalData(
            features={
                "image": image.astype("float32"),
                "feats": feats.astype("float32"),
                "presence": np.ones((num, 2), "float32"),
            },
            labels=labels,
            num_classes=3,
        )


if "tiny_mmim" not in list_sources():

    @register_source("tiny_mmim")
    def load_tiny_mmim(split, data_dir, seed, num=40):
        """Text, audio and video feature vectors of 2 classes."""
        rng = np.random.default_rng([seed, {"train": 3, "val": 4}.get(split, 5)])
        labels = rng.integers(0, 2, num).astype("int32")
        widths = {"text": 6, "audio": 5, "video": 4}
        features = {
            m: rng.normal(labels[:, None] * (i == 0), 1.0, (num, w)).astype("float32")
            for i, (m, w) in enumerate(widths.items())
        }
        return MultimodalData(features=features, labels=labels, num_classes=2)


if "tiny_captions" not in list_sources():

    @register_source("tiny_captions")
    def load_tiny_captions(split, data_dir, seed, num_images=10, per_image=2):
        """16x16 images (uint8), two captions each, of a few words."""
        rng = np.random.default_rng([seed, {"train": 6, "val": 7}.get(split, 8)])
        words = ["a", "dog", "cat", "on", "the", "red", "grass", "sits"]
        images = rng.integers(0, 256, (num_images, 16, 16, 3)).astype("uint8")
        images = np.repeat(images, per_image, axis=0)
        captions = np.asarray(
            [" ".join(rng.choice(words, rng.integers(2, 6))) for _ in images],
            dtype=object,
        )
        return MultimodalData(
            features={"image": images, "caption": captions},
            labels=captions,
            num_classes=0,
            task="captioning",
        )


# Each run: a few seconds, 3 epochs. gmu has dropout (its SeedGenerators must
# be restored); mvae has KL annealing, sampled subsets and Gaussian sampling.
RUNS = {
    "gmu": (
        "gmu",
        {
            "encoder_units": [4],
            "head_units": [4],
            "dropout": 0.3,
            "train.epochs": 3,
            "train.batch_size": 16,
            "train.backup_every": 2,
            "train.steps_per_execution": 1,  # a kill point after every step
            "data.num_train": 80,  # 5 steps per epoch
            "data.num_val": 20,
        },
    ),
    "mvae": (
        "mvae",
        {
            "input_shapes": {"feats": [5], "image": [8, 8]},
            "modality_types": {"feats": "features", "image": "image"},
            "modality_weights": None,
            "num_classes": 3,
            "latent_dim": 3,
            "hidden_units": [8],
            "conv_filters": [2],
            "classifier_units": [4],
            "subsets": "sampled",
            "num_random_subsets": 1,
            "kl_warmup_epochs": 2.0,
            "train.epochs": 3,
            "train.batch_size": 10,
            "train.backup_every": 3,
            "data": {"source": "tiny_mvae"},  # 4 steps per epoch
        },
    ),
    # gmu, 4 steps per Keras execution: backups at the execution ends that
    # cross a multiple of backup_every.
    # mmim: three optimizers (main, text, estimators) and the entropy memory.
    "mmim": (
        "mmim",
        {
            "text_encoder": {"type": "features", "units": [4], "output_dim": 4},
            "audio_encoder": {"type": "mlp", "units": [4], "output_dim": 3},
            "video_encoder": {"type": "mlp", "units": [4], "output_dim": 3},
            "fusion_units": 4,
            "entropy_memory_size": 8,
            "train.epochs": 3,
            "train.batch_size": 10,
            "train.backup_every": 3,
            "data": {"source": "tiny_mmim"},  # 4 steps per epoch
        },
    ),
    # captioner: frozen small_cnn encoder (cached features, decoder-only fit);
    # captions of 2..5 words, so replicas hold different real-token counts.
    "captioner": (
        "captioner",
        {
            "encoder": "small_cnn",
            "embedding_dim": 8,
            "attention_dim": 8,
            "max_length": 6,
            "dropout": 0.0,
            "train.epochs": 3,
            "train.batch_size": 8,
            "train.backup_every": 3,
            "data": {"source": "tiny_captions"},  # 20 examples: 3 steps per epoch
        },
    ),
}


# gmu, 4 steps per Keras execution (executions of 4 and 1 steps an epoch):
# backups at the execution ends that cross a multiple of backup_every.
RUNS["gmu_spe4"] = (
    "gmu",
    {**RUNS["gmu"][1], "train.backup_every": 3, "train.steps_per_execution": 4},
)


# Overrides that make a tiny run deterministic across replicas, for the
# distribution tests: dropout off (each replica draws its own masks) and, for
# mvae, all subsets (sampled subsets are drawn per replica).
_ENCODER = {"units": [4], "dropout": 0.0}
NO_DROPOUT = {
    "gmu": {"dropout": 0.0},
    "mvae": {"subsets": "all"},
    "mmim": {
        "fusion_dropout": 0.0,
        "text_encoder": {"type": "features", "output_dim": 4, **_ENCODER},
        "audio_encoder": {"type": "mlp", "output_dim": 3, **_ENCODER},
        "video_encoder": {"type": "mlp", "output_dim": 3, **_ENCODER},
    },
    "captioner": {"dropout": 0.0},
}


def tiny_config(name, **extra):
    model, overrides = RUNS[name]
    cfg = load_config(model, {**overrides, **extra})
    if name in ("mvae", "mmim"):
        cfg.data = {"source": f"tiny_{name}"}
    elif name == "captioner":
        cfg.data = {"source": "tiny_captions"}
    return cfg


def train(name, run_dir, **extra):
    from mmzoo.training.trainer import train_run

    return train_run(tiny_config(name, **extra), run_dir, verbose=0)


if __name__ == "__main__":
    # NAME RUN_DIR [JSON overrides]
    extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    train(sys.argv[1], sys.argv[2], **extra)
