"""MMIM's text side: a vocabulary from transcripts, an in-graph tokenizer, BERT.

The text encoder is a keras-hub `BertBackbone`, built one of three ways from the
`text_encoder` spec (see `resolve_text_encoder`):

- `{"type": "bert", ...}`: a small BERT with random weights and a word-level
  WordPiece vocabulary built from the training transcripts (`build_vocabulary`);
  needs no download (tests, CPU runs).
- `{"type": "preset", "preset": "bert_base_en_uncased"}` (or just `{"preset":
  ...}`): `BertBackbone.from_preset` and its tokenizer, for users who have the
  weights (a download, or a local preset directory).
- `{"type": "features", "units": [...], "output_dim": d}`: no BERT; an MLP
  (as the `mlp` modality encoder) over precomputed text features (the `text`
  input, e.g. the 100-d column of the `mosi` source).

The tokenizer (`TranscriptTokenizer`) is a layer of the model, so a SavedModel
export takes raw transcript strings.
"""

import collections
import re
import unicodedata

import keras

from mmzoo.errors import ConfigError
from mmzoo.models.pretrained import TextTokenizer

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TEXT_ENCODER_TYPES = ("bert", "preset", "features")
POOLINGS = ("cls", "pooled")
TEXT_ENCODER_DEFAULTS = {
    "bert": {
        "num_layers": 2,
        "num_heads": 2,
        "hidden_dim": 64,
        "intermediate_dim": 128,
        "dropout": 0.1,
        "sequence_length": 64,
        "max_sequence_length": None,
        "lowercase": True,
        "pooling": "cls",
    },
    "preset": {"preset": None, "sequence_length": 64, "pooling": "cls"},
    "features": {"units": [64], "output_dim": 64, "dropout": 0.1, "normalize": False},
}
# Word pieces: runs of letters/digits, or one punctuation character (as the
# WordPiece tokenizer's own split on whitespace and punctuation).
_WORDS = re.compile(r"[^\W_]+|[^\w\s]|_")


def _pretokenize(text, lowercase=True):
    text = unicodedata.normalize("NFD", str(text))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return _WORDS.findall(text.lower() if lowercase else text)


def build_vocabulary(transcripts, min_count=1, max_size=30000, lowercase=True):
    """A WordPiece vocabulary of whole words, plus characters as a fallback.

    Words are counted after lower-casing, stripping accents and splitting on
    whitespace and punctuation (as `BertTokenizer(lowercase=True)` does). The
    vocabulary is `SPECIAL_TOKENS`, the words seen at least `min_count` times
    (most frequent first, ties alphabetically), then every character seen,
    alone and as a `##` continuation piece: an unseen word is spelled out in
    pieces instead of becoming `[UNK]`. Deterministic and offline (keras-hub's
    `compute_word_piece_vocabulary` learns too few pieces from a corpus as
    small as MOSI's ~1k utterances, and takes seconds).

    Args:
        transcripts: iterable of str.
        min_count: int. Minimum count of a whole word.
        max_size: int. Cap on the vocabulary size.
        lowercase: bool. Match the tokenizer's `lowercase`.

    Returns:
        list of str, `[PAD]` first (id 0).

    Example:

    >>> build_vocabulary(["Good film.", "good"])[5:9]
    ['good', '.', 'film', 'd']
    """
    counts = collections.Counter()
    for text in transcripts:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        counts.update(_pretokenize(text, lowercase))
    words = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    chars = sorted({c for word in counts for c in word})
    vocabulary = list(SPECIAL_TOKENS)
    vocabulary += [w for w, n in words if n >= min_count]
    vocabulary += chars + [f"##{c}" for c in chars]
    return list(dict.fromkeys(vocabulary))[:max_size]


def resolve_text_encoder(spec):
    """The full `text_encoder` spec: type inferred, defaults filled, checked."""
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise ConfigError(
            "`text_encoder` must be a dict such as {type: bert, num_layers: 2} "
            f"or {{preset: bert_base_en_uncased}}. Received text_encoder={spec!r}"
        )
    kind = spec.get("type", "preset" if "preset" in spec else "bert")
    if kind not in TEXT_ENCODER_TYPES:
        raise ConfigError(
            f"`text_encoder['type']` must be one of {TEXT_ENCODER_TYPES}. "
            f"Received text_encoder={spec!r}"
        )
    defaults = TEXT_ENCODER_DEFAULTS[kind]
    unknown = sorted(set(spec) - set(defaults) - {"type"})
    if unknown:
        raise ConfigError(
            f"Unknown key {unknown[0]!r} in `text_encoder` of type {kind!r}; valid "
            f"keys: type, {', '.join(defaults)}. Received text_encoder={spec!r}"
        )
    resolved = {"type": kind, **defaults, **{k: v for k, v in spec.items()}}
    for key in ("num_layers", "num_heads", "hidden_dim", "intermediate_dim"):
        if key in resolved:
            _check_positive_int(resolved, key)
    if "sequence_length" in resolved:
        _check_positive_int(resolved, "sequence_length", minimum=3)
    if resolved.get("max_sequence_length") is not None:
        _check_positive_int(
            resolved, "max_sequence_length", minimum=resolved["sequence_length"]
        )
    if kind == "preset" and not isinstance(resolved["preset"], str):
        raise ConfigError(
            "`text_encoder['preset']` must name a keras-hub BERT preset, e.g. "
            f"bert_base_en_uncased. Received text_encoder={spec!r}"
        )
    if resolved.get("pooling", "cls") not in POOLINGS:
        raise ConfigError(
            f"`text_encoder['pooling']` must be one of {POOLINGS}. "
            f"Received text_encoder={spec!r}"
        )
    dropout = resolved.get("dropout", 0.0)
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ConfigError(
            f"`text_encoder['dropout']` must be in [0, 1). Received {dropout!r}"
        )
    if kind == "features":
        from mmzoo.models.mmim.encoders import resolve_encoder

        mlp = {k: v for k, v in resolved.items() if k != "type"}
        resolved = {"type": "features", **resolve_encoder("text", mlp, [1])}
        resolved["type"] = "features"
    return resolved


def _check_positive_int(spec, key, minimum=1):
    value = spec[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(
            f"`text_encoder[{key!r}]` must be an integer >= {minimum}. "
            f"Received {value!r}"
        )


def load_preset(spec):
    """(backbone, vocabulary, resolved bert spec) of a keras-hub preset.

    The preset's weights are copied into a `bert_backbone` of the same
    architecture, and the returned spec describes that architecture as `type:
    bert`: `get_config` rebuilds the model without a download (the weights
    then come from the `.keras` file).
    """
    import keras_hub

    preset = spec["preset"]
    try:
        source = keras_hub.models.BertBackbone.from_preset(preset)
        tokenizer = keras_hub.models.BertTokenizer.from_preset(preset)
    except (OSError, ValueError) as e:  # requests' ConnectionError is an OSError
        raise ConfigError(
            f"Cannot load the keras-hub preset {preset!r} of `text_encoder`: "
            f"{type(e).__name__}: {str(e).splitlines()[0][:200]}. Presets are "
            "downloads (Kaggle / Hugging Face): without network access use a "
            "local preset directory, `text_encoder: {type: bert, ...}` (random "
            "weights, vocabulary from the transcripts) or `{type: features}`."
        ) from e
    resolved = {
        "type": "bert",
        "num_layers": source.num_layers,
        "num_heads": source.num_heads,
        "hidden_dim": source.hidden_dim,
        "intermediate_dim": source.intermediate_dim,
        "dropout": source.dropout,
        "sequence_length": min(spec["sequence_length"], source.max_sequence_length),
        "max_sequence_length": source.max_sequence_length,
        "lowercase": bool(tokenizer.lowercase),
        "pooling": spec["pooling"],
    }
    backbone = bert_backbone(resolved, source.vocabulary_size)
    backbone.set_weights(source.get_weights())
    return backbone, list(tokenizer.vocabulary), resolved


def bert_backbone(spec, vocabulary_size, name="text_backbone"):
    """A `keras_hub.models.BertBackbone` with random weights from a bert spec."""
    import keras_hub

    return keras_hub.models.BertBackbone(
        vocabulary_size=vocabulary_size,
        num_layers=spec["num_layers"],
        num_heads=spec["num_heads"],
        hidden_dim=spec["hidden_dim"],
        intermediate_dim=spec["intermediate_dim"],
        dropout=spec["dropout"],
        max_sequence_length=spec["max_sequence_length"] or spec["sequence_length"],
        name=name,
    )


@keras.saving.register_keras_serializable(package="mmzoo")
class TranscriptTokenizer(TextTokenizer):
    """Raw strings -> BERT inputs, in the graph (a keras-hub `BertTokenizer`).

    Tokenizes with WordPiece, adds `[CLS]` and `[SEP]`, truncates or pads to
    `sequence_length`. String ops do not compile with XLA: the layer sets
    `supports_jit = False`, so `jit_compile` falls back to False.

    Args:
        vocabulary: list of str. Holds `SPECIAL_TOKENS`.
        sequence_length: int. Length of the packed token ids (>= 3).
        lowercase: bool. Lower-case (and strip accents) before WordPiece.
        **kwargs: base `Layer` arguments.

    Call arguments:
        text: (batch,) string tensor.

    Returns:
        dict of `token_ids`, `segment_ids`, `padding_mask`, each (batch,
        sequence_length) int32: the inputs of `BertBackbone`.

    Example:

    >>> import numpy as np
    >>> tokenizer = TranscriptTokenizer(build_vocabulary(["good film"]), 5)
    >>> [int(i) for i in tokenizer(np.array(["Good film"]))["token_ids"][0]]
    [2, 6, 5, 3, 0]
    """

    def __init__(self, vocabulary, sequence_length, lowercase=True, **kwargs):
        missing = [t for t in SPECIAL_TOKENS if t not in vocabulary]
        if missing:
            raise ConfigError(
                f"`vocabulary` must hold the special tokens {list(SPECIAL_TOKENS)}; "
                f"missing {missing}."
            )
        # `TextTokenizer` with keras-hub's BertTokenizer ([CLS] ... [SEP]).
        super().__init__(
            "BertTokenizer",
            list(vocabulary),
            sequence_length,
            {"lowercase": bool(lowercase)},
            **kwargs,
        )
        self.lowercase = bool(lowercase)

    def get_config(self):
        config = super().get_config()
        del config["tokenizer_class"], config["tokenizer_config"]
        config["lowercase"] = self.lowercase
        return config
