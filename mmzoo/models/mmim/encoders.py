"""MMIM's acoustic and visual encoders, text-feature encoder and fusion network.

- `lstm` (inputs (time, d)): an LSTM (optionally bidirectional) whose final
  hidden state goes through dropout and a Dense projection, as the reference's
  `RNNEncoder` (all-zero frames are masked, standing in for its packed
  sequences of given lengths).
- `mlp` (inputs (d,), utterance vectors such as the `mosi` source's): Dense
  ReLU layers, dropout, and a Dense projection to `output_dim`.

`normalize: true` standardises the input features first (BatchNormalization;
not in the reference, whose features come normalised from the CMU SDK).

The fusion network is the reference's `SubNet`: dropout, Dense + tanh twice
(the second output is the fusion representation z), then a Dense head.
"""

import keras

from mmzoo.errors import ConfigError
from mmzoo.models.mmim import checks
from mmzoo.models.mmim import text as text_lib

ENCODER_TYPES = ("mlp", "lstm")
ENCODER_DEFAULTS = {
    "mlp": {"units": [32], "output_dim": 16, "dropout": 0.1, "normalize": False},
    "lstm": {
        "units": 16,
        "output_dim": 16,
        "dropout": 0.1,
        "bidirectional": False,
        "normalize": False,
    },
}


def resolve_encoder(name, spec, shape):
    """The full spec of a modality encoder, checked against its input shape."""
    arg = f"{name}_encoder"
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise ConfigError(
            f"`{arg}` must be a dict such as {{type: mlp, units: [32]}}. "
            f"Received {arg}={spec!r}"
        )
    kind = spec.get("type", "lstm" if len(shape) == 2 else "mlp")
    if kind not in ENCODER_TYPES:
        raise ConfigError(
            f"`{arg}['type']` must be one of {ENCODER_TYPES}. Received {arg}={spec!r}"
        )
    unknown = sorted(set(spec) - set(ENCODER_DEFAULTS[kind]) - {"type"})
    if unknown:
        raise ConfigError(
            f"Unknown key {unknown[0]!r} in `{arg}` of type {kind!r}; valid keys: "
            f"type, {', '.join(ENCODER_DEFAULTS[kind])}. Received {arg}={spec!r}"
        )
    resolved = {"type": kind, **ENCODER_DEFAULTS[kind], **spec}
    rank = 2 if kind == "lstm" else 1
    if len(shape) != rank:
        raise ConfigError(
            f"`{arg}` of type {kind!r} needs `input_shapes[{name!r}]` of rank "
            f"{rank} ({'[time, features]' if rank == 2 else '[features]'}). "
            f"Received input_shapes[{name!r}]={list(shape)!r}"
        )
    units = resolved["units"]
    units_list = [units] if kind == "lstm" else units
    if not isinstance(units_list, (list, tuple)) or not all(
        isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in units_list
    ):
        expected = "a positive integer" if kind == "lstm" else "a list of positive "
        raise ConfigError(
            f"`{arg}['units']` must be {expected}{'' if rank == 2 else 'integers'}. "
            f"Received {arg}={spec!r}"
        )
    if kind == "mlp":
        resolved["units"] = list(units)
    out = resolved["output_dim"]
    if not isinstance(out, int) or isinstance(out, bool) or out < 1:
        raise ConfigError(
            f"`{arg}['output_dim']` must be a positive integer. Received {out!r}"
        )
    dropout = resolved["dropout"]
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ConfigError(f"`{arg}['dropout']` must be in [0, 1). Received {dropout!r}")
    return resolved


def modality_encoder(name, spec, shape):
    """`keras.Sequential`: (batch, *shape) -> (batch, output_dim)."""
    layers = [keras.Input(tuple(shape), name=f"{name}_features")]
    if spec["type"] == "lstm":
        layers.append(keras.layers.Masking(0.0, name=f"{name}_mask"))
    if spec["normalize"]:
        # Per-feature standardisation (batch statistics, moving averages at
        # inference) for raw features such as the mosi source's audio (std ~23).
        layers.append(keras.layers.BatchNormalization(name=f"{name}_norm"))
    if spec["type"] == "lstm":
        lstm = keras.layers.LSTM(spec["units"], name=f"{name}_lstm")
        if spec["bidirectional"]:
            lstm = keras.layers.Bidirectional(lstm, name=f"{name}_bilstm")
        layers.append(lstm)
    else:
        layers += [
            keras.layers.Dense(u, activation="relu", name=f"{name}_dense_{i}")
            for i, u in enumerate(spec["units"])
        ]
    if spec["dropout"]:
        layers.append(keras.layers.Dropout(spec["dropout"], name=f"{name}_dropout"))
    layers.append(keras.layers.Dense(spec["output_dim"], name=f"{name}_projection"))
    return keras.Sequential(layers, name=f"{name}_encoder")


def fusion_network(in_dim, units, dropout, num_outputs):
    """The reference's `SubNet`: `keras.Model` x -> {"fusion", "logits"}."""
    x = keras.Input((in_dim,), name="concatenated")
    h = keras.layers.Dropout(dropout, name="fusion_dropout")(x) if dropout else x
    h = keras.layers.Dense(units, activation="tanh", name="fusion_dense_0")(h)
    fusion = keras.layers.Dense(units, activation="tanh", name="fusion_dense_1")(h)
    logits = keras.layers.Dense(num_outputs, name="head")(fusion)
    return keras.Model(x, {"fusion": fusion, "logits": logits}, name="fusion_network")


def text_branch(spec, vocabulary, shapes):
    """The text input and representation h_t from a resolved `text_encoder`.

    Returns:
        dict: `spec` (a preset resolved to its `type: bert` architecture),
        `vocabulary`, `backbone` (the `BertBackbone` or None), `inputs`
        ({name: keras.Input}), `output` (h_t, a KerasTensor) and `dim`.
    """
    if spec["type"] == "features":
        encoder = modality_encoder("text", {**spec, "type": "mlp"}, shapes["text"])
        inputs = {"text": keras.Input(tuple(shapes["text"]), name="text")}
        return {
            "spec": spec,
            "vocabulary": vocabulary,
            "backbone": None,
            "inputs": inputs,
            "output": encoder(inputs["text"]),
            "dim": spec["output_dim"],
        }
    backbone = None
    if spec["type"] == "preset":
        backbone, vocabulary, spec = text_lib.load_preset(spec)
    if vocabulary is None:
        raise ConfigError(
            "`vocabulary` is required with text_encoder type 'bert': pass data= "
            "with transcripts (source mosi, with_transcripts: true) to "
            "mmzoo.build, or vocabulary=build_vocabulary(transcripts)."
        )
    vocabulary = checks.check_vocabulary(vocabulary)
    tokenizer = text_lib.TranscriptTokenizer(
        vocabulary, spec["sequence_length"], spec["lowercase"], name="tokenizer"
    )
    if backbone is None:
        backbone = text_lib.bert_backbone(spec, len(vocabulary))
    elif backbone.vocabulary_size != len(vocabulary):
        raise ConfigError(
            f"The preset's backbone has {backbone.vocabulary_size} token ids but "
            f"its tokenizer {len(vocabulary)}. Received text_encoder={spec!r}"
        )
    if spec["pooling"] == "cls":
        backbone.pooled_dense.trainable = False  # unused: it gets no gradient
    inputs = {"transcript": keras.Input((), dtype="string", name="transcript")}
    outputs = backbone(tokenizer(inputs["transcript"]))
    if spec["pooling"] == "pooled":
        output = outputs["pooled_output"]
    else:
        output = outputs["sequence_output"][:, 0, :]
    return {
        "spec": spec,
        "vocabulary": vocabulary,
        "backbone": backbone,
        "inputs": inputs,
        "output": output,
        "dim": spec["hidden_dim"],
    }
