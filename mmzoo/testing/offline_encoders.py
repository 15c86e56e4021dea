"""Tiny local stand-ins for the pretrained encoders of the zoo configs.

The configs `gmu_mosi_hub`, `gmu_mosi_bert` and `captioner_hub` name downloads
(a TF-Hub text embedding, a keras-hub BERT preset, a TF-Hub image feature
vector). Tests, and anyone without a network, build them with
`offline_overrides(name, directory)`: tiny TF-Hub-format modules saved under
`directory` (a text embedding, an 8x8 image feature vector), and a tiny
`BertBackbone` with a small vocabulary file. The architecture around the
encoder is the config's.
"""

import string
from pathlib import Path

import tensorflow as tf

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["i", "it", "the", "a", "and", "movie", "was", "is", "good", "bad", "like"]


class TextEmbedding(tf.Module):
    """A TF-Hub-format text embedding: strings (batch,) -> (batch, 6)."""

    def __init__(self):
        super().__init__()
        self.embedding = tf.Variable(
            tf.random.stateless_normal([64, 6], seed=[5, 6]), name="embedding"
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, text):
        tokens = tf.strings.split(tf.strings.lower(text))
        vectors = tf.gather(self.embedding, tf.strings.to_hash_bucket_fast(tokens, 64))
        counts = tf.cast(tokens.row_lengths(), tf.float32)[:, None]
        return tf.math.divide_no_nan(tf.reduce_sum(vectors, axis=1), counts)


class ImageFeatureVector(tf.Module):
    """A TF-Hub-format image feature vector: conv, ReLU, spatial mean;
    (batch, 8, 8, 3) floats in [0, 1] -> (batch, 6)."""

    def __init__(self):
        super().__init__()
        self.kernel = tf.Variable(
            tf.random.stateless_normal([3, 3, 3, 6], seed=[1, 2]), name="kernel"
        )

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32)])
    def __call__(self, images):
        x = tf.nn.relu(tf.nn.conv2d(images, self.kernel, 1, "SAME"))
        return tf.reduce_mean(x, axis=[1, 2])


def saved_module(module_cls, path):
    """`module_cls()` saved as a TF-Hub-format SavedModel at `path` (kept if
    already there); returns the path as a string, a `hub:` handle."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tf.saved_model.save(module_cls(), str(path))
    return str(path)


def tiny_resnet_config(size):
    """Arguments of a tiny keras-hub `ResNetBackbone` for (size, size, 3)."""
    return {
        "input_conv_filters": [64],
        "input_conv_kernel_sizes": [3],
        "stackwise_num_filters": [64],  # keras-hub ResNet: 64 first
        "stackwise_num_blocks": [1],
        "stackwise_num_strides": [1],
        "block_type": "basic_block",
        "use_pre_activation": False,
        "image_shape": [size, size, 3],
    }


def write_vocabulary(path):
    """A WordPiece vocabulary file: special tokens, a few words, letters."""
    letters = list(string.ascii_lowercase)
    pieces = dict.fromkeys(SPECIAL + WORDS + letters + [f"##{c}" for c in letters])
    path.write_text("\n".join(pieces) + "\n")
    return path


def offline_overrides(name, directory):
    """Config overrides that build zoo config `name` without a network ({} for
    configs whose encoders are all built in). `encoders` is replaced whole."""
    directory = Path(directory)
    if name == "gmu_mosi_hub":
        module = saved_module(TextEmbedding, directory / "text_embedding")
        return {"encoders": {"transcript": {"hub": module, "units": [4]}}}
    if name == "captioner_hub":  # 16 px images, resized to the module's 8
        module = saved_module(ImageFeatureVector, directory / "image_feature_vector")
        encoder = {"hub": module, "trainable": False, "pixel_scale": 1 / 255}
        return {"encoder": encoder, "image_size": 16, "data.image_size": 16}
    if name == "gmu_mosi_bert":
        directory.mkdir(parents=True, exist_ok=True)
        vocabulary = write_vocabulary(directory / "vocab.txt")
        config = {
            "num_layers": 1,
            "num_heads": 1,
            "hidden_dim": 8,
            "intermediate_dim": 8,
            "max_sequence_length": 16,
        }
        transcript = {
            "keras_hub": "BertBackbone",
            "config": config,
            "vocabulary": str(vocabulary),
            "sequence_length": 16,
            "tokenizer_config": {"lowercase": True},
        }
        return {"encoders": {"transcript": transcript}}
    return {}
