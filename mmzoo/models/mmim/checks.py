"""Argument checks of the MMIM constructor (messages name the argument and value)."""

from mmzoo.errors import ConfigError
from mmzoo.models.mmim.text import SPECIAL_TOKENS

TASKS = ("classification", "regression")
SHAPE_KEYS = ("audio", "text", "video")


def _is_int(value, minimum=1):
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_input_shapes(input_shapes, needs_text):
    """{modality: [dims]} for audio, video (and text for text features)."""
    if not isinstance(input_shapes, dict):
        raise ConfigError(
            "`input_shapes` must map `audio` and `video` (and `text` for "
            "text_encoder type features) to feature shapes. "
            f"Received input_shapes={input_shapes!r}"
        )
    required = ["audio", "video"] + (["text"] if needs_text else [])
    missing = [m for m in required if m not in input_shapes]
    unknown = sorted(set(input_shapes) - set(SHAPE_KEYS))
    if missing or unknown:
        raise ConfigError(
            f"`input_shapes` must name {required} (and may name {list(SHAPE_KEYS)}); "
            f"missing {missing}, unknown {unknown}. Received input_shapes="
            f"{input_shapes!r}"
        )
    shapes = {}
    for name, shape in input_shapes.items():
        shape = list(shape) if isinstance(shape, (list, tuple)) else shape
        ok = isinstance(shape, list) and len(shape) in (1, 2)
        # A sequence's time axis may be None (variable length).
        ok = (
            ok
            and _is_int(shape[-1])
            and all(d is None or _is_int(d) for d in shape[:-1])
        )
        if not ok:
            raise ConfigError(
                f"`input_shapes[{name!r}]` must be [features] or [time, features] "
                f"of positive integers. Received {shape!r}"
            )
        shapes[name] = shape
    return shapes


def check_vocabulary(vocabulary):
    if not isinstance(vocabulary, (list, tuple)) or not all(
        isinstance(t, str) for t in vocabulary
    ):
        raise ConfigError(
            "`vocabulary` must be a list of WordPiece tokens (build it from the "
            "training transcripts: pass `data=` to `mmzoo.build` with the `mosi` "
            "source's `with_transcripts: true`, or use "
            "`mmzoo.models.mmim.build_vocabulary`). Received vocabulary="
            f"{_short(vocabulary)}"
        )
    missing = [t for t in SPECIAL_TOKENS if t not in vocabulary]
    if missing:
        raise ConfigError(
            f"`vocabulary` must hold the special tokens {list(SPECIAL_TOKENS)}; "
            f"missing {missing}. Received vocabulary={_short(vocabulary)}"
        )
    return list(vocabulary)


def _short(value):
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def check_model_args(args):
    """Checks of the scalar and list arguments; `args` is a dict of them."""
    if args["task"] not in TASKS:
        raise ConfigError(
            f"`task` must be one of {TASKS}. Received task={args['task']!r}"
        )
    if args["task"] == "classification" and args["num_classes"] != 2:
        raise ConfigError(
            "`num_classes` must be 2 for task 'classification': the entropy "
            "estimator splits samples into a positive and a negative group (use "
            f"task 'regression' for sentiment scores). Received num_classes="
            f"{args['num_classes']!r}"
        )
    for key in ("fusion_units", "entropy_memory_size"):
        if not _is_int(args[key]):
            raise ConfigError(
                f"`{key}` must be a positive integer. Received {key}={args[key]!r}"
            )
    if args["entropy_dim"] is not None and not _is_int(args["entropy_dim"]):
        raise ConfigError(
            "`entropy_dim` must be a positive integer or None. Received "
            f"entropy_dim={args['entropy_dim']!r}"
        )
    for key in ("estimator_units", "cpc_units"):
        value = args[key]
        if value is not None and (
            not isinstance(value, (list, tuple)) or not all(_is_int(u) for u in value)
        ):
            raise ConfigError(
                f"`{key}` must be a list of positive integers or None. "
                f"Received {key}={value!r}"
            )
    if not _is_number(args["fusion_dropout"]) or not 0 <= args["fusion_dropout"] < 1:
        raise ConfigError(
            "`fusion_dropout` must be in [0, 1). Received fusion_dropout="
            f"{args['fusion_dropout']!r}"
        )
    for key in ("alpha", "beta", "entropy_jitter"):
        if not _is_number(args[key]) or args[key] < 0:
            raise ConfigError(
                f"`{key}` must be a number >= 0. Received {key}={args[key]!r}"
            )
    for key in ("text_learning_rate", "estimator_learning_rate"):
        if not _is_number(args[key]) or args[key] <= 0:
            raise ConfigError(
                f"`{key}` must be a number > 0. Received {key}={args[key]!r}"
            )
    if not isinstance(args["include_logvar"], bool):
        raise ConfigError(
            "`include_logvar` must be true or false. Received include_logvar="
            f"{args['include_logvar']!r}"
        )
