"""Modality encoders from TF-Hub and keras-hub, and the `encoders` spec.

A modality's encoder in `fusion_classifier` / `gmu` is one of (see
`resolve_encoder_spec`):

- `{"mlp": [units]}`: the built-in MLP over a (batch, d) feature vector (the
  default, with `encoder_units`).
- `{"hub": HANDLE_OR_PATH, "trainable": False, "output_key": None,
  "signature": None, "input_shape": None, "input_dtype": None, "units": []}`:
  a TF2 SavedModel in the TF-Hub format (an image feature vector, a text
  embedding), wrapped in the Keras 3 layer `HubEncoder` (`hub.KerasLayer`
  belongs to tf-keras and does not mix with Keras 3 models).
- `{"keras_hub": CLASS_NAME, "preset": None, "config": {...}, "trainable":
  True, "output": "pooled", "input_shape": None, "units": [], "tokenizer":
  None, "vocabulary": None, "sequence_length": None, "tokenizer_config":
  None}`: a keras-hub backbone (`ResNetBackbone`, `EfficientNetBackbone`,
  `BertBackbone`...), from a preset or from its class and an explicit config.

The model input of such a modality takes what the encoder takes: images
(batch, H, W, 3) float32, strings (batch,) for a text embedding. A keras-hub
text backbone (BERT...) takes token ids and a padding mask (inputs
`<modality>_token_ids`, `<modality>_padding_mask`...), unless the spec asks for
its tokenizer: then the model input `<modality>` takes raw strings (batch,),
and the tokenizer (`TextTokenizer`, a layer of the model) turns them into the
backbone's inputs, so a `.keras` file and a SavedModel export take strings:

- with a `preset`, `tokenizer: true` takes the preset's tokenizer
  (`keras_hub.models.Tokenizer.from_preset`);
- with `config:` (no download), `vocabulary:` (a list of word pieces, or the
  path of a file with one per line) builds the backbone's tokenizer class
  (`BertBackbone` -> `BertTokenizer`; `tokenizer: CLASS` names another) with
  `tokenizer_config` (e.g. `{lowercase: true}`); the backbone's
  `vocabulary_size` defaults to the vocabulary's size.

`sequence_length` (default `min(128, max_sequence_length)`) is the packed
length: `[CLS] tokens [SEP] [PAD]...`, truncated. The resolved spec keeps the
tokenizer's class, vocabulary and config: a saved model needs no download.

The input's shape and dtype otherwise come from the spec's `input_shape` /
`input_dtype`, else from the module's call signature (hub) or the backbone's
inputs (keras-hub); `input_dims[modality]` is then not used for the input
shape (a string feature of the data, shape (n,), e.g. MOSI's `transcript`,
gets `input_dims` 1 from `data_overrides`).
"""

import copy
import hashlib
import os

import keras
import tensorflow as tf

from mmzoo.errors import ConfigError

ENCODER_KINDS = ("mlp", "hub", "keras_hub")
HUB_KEYS = {
    "hub",
    "trainable",
    "output_key",
    "signature",
    "input_shape",
    "input_dtype",
    "units",
}
KERAS_HUB_KEYS = {
    "keras_hub",
    "preset",
    "config",
    "trainable",
    "output",
    "input_shape",
    "units",
    "tokenizer",
    "vocabulary",
    "sequence_length",
    "tokenizer_config",
}
TOKENIZER_KEYS = ("tokenizer", "vocabulary", "sequence_length", "tokenizer_config")
DEFAULT_SEQUENCE_LENGTH = 128
KERAS_HUB_OUTPUTS = ("pooled", "sequence")


# --------------------------------------------------------------------------
# TF-Hub


def tfhub_cache_dir():
    """The TF-Hub cache directory: `$TFHUB_CACHE_DIR`, else hub's default
    (`<system temp>/tfhub_modules`)."""
    import tempfile

    return os.environ.get("TFHUB_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "tfhub_modules"
    )


def _is_remote(handle):
    return "://" in handle and not handle.startswith("file://")


def resolve_hub_handle(handle):
    """Local directory of a TF-Hub handle (URL or path); `ConfigError` if not.

    A local path is used as is. A URL (`https://tfhub.dev/...`,
    `https://www.kaggle.com/models/...`) is resolved by `hub.resolve`: from
    the cache when it was downloaded before, else by downloading it. Without
    network access a URL that is not cached fails fast (a DNS or connection
    error) and becomes a `ConfigError` naming the handle and the cache.
    """
    if not _is_remote(handle):
        path = handle[len("file://") :] if handle.startswith("file://") else handle
        if not os.path.isdir(path):
            raise ConfigError(
                f"TF-Hub handle {handle!r} is neither a URL nor an existing "
                "directory (a TF2 SavedModel in the TF-Hub format)."
            )
        return path
    import tensorflow_hub as hub

    try:
        return hub.resolve(handle)
    except Exception as e:  # urllib's URLError is an OSError; TF's OpError...
        cache = tfhub_cache_dir()
        cached = os.path.join(cache, hashlib.sha1(handle.encode("utf8")).hexdigest())
        raise ConfigError(
            f"Cannot resolve the TF-Hub handle {handle!r}: {type(e).__name__}: "
            f"{str(e).splitlines()[0][:200] if str(e) else ''}. It is not in the "
            f"TF-Hub cache (TFHUB_CACHE_DIR={cache}, expected at {cached}) and "
            "could not be downloaded. Without network access, download it on a "
            "connected machine into the same TFHUB_CACHE_DIR, or use the path "
            "of a local SavedModel directory as the handle."
        ) from e


def load_hub_module(handle):
    """`tf.saved_model.load` of a resolved handle; `ConfigError` if not one."""
    path = resolve_hub_handle(handle)
    if not (
        os.path.isfile(os.path.join(path, "saved_model.pb"))
        or os.path.isfile(os.path.join(path, "saved_model.pbtxt"))
    ):
        raise ConfigError(
            f"TF-Hub handle {handle!r} resolved to {path}, which is not a TF2 "
            "SavedModel (no saved_model.pb)."
        )
    try:
        return tf.saved_model.load(path)
    except Exception as e:  # TF raises many types for bad SavedModels
        raise ConfigError(
            f"Cannot load the SavedModel of TF-Hub handle {handle!r} at {path}: "
            f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        ) from e


def _concrete_functions(fn):
    if hasattr(fn, "concrete_functions"):
        return list(fn.concrete_functions)
    if (
        hasattr(fn, "get_concrete_function")
        and getattr(fn, "input_signature", None) is not None
    ):
        return [fn.get_concrete_function()]
    return [fn]


def _module_variables(module, fn):
    """(trainable, non-trainable) tf.Variables that `fn` of `module` uses.

    The TF-Hub Reusable SavedModel API lists them as `variables` and
    `trainable_variables`; otherwise they are read off `fn`'s concrete
    functions.
    """
    trainable, others, seen = [], [], set()
    if hasattr(module, "variables") and hasattr(module, "trainable_variables"):
        candidates = [(v, True) for v in module.trainable_variables]
        candidates += [(v, False) for v in module.variables]
    else:
        candidates = []
        for cf in _concrete_functions(fn):
            candidates += [(v, True) for v in getattr(cf, "trainable_variables", [])]
            candidates += [(v, False) for v in getattr(cf, "variables", [])]
    for v, is_trainable in candidates:
        if id(v) in seen:
            continue
        seen.add(id(v))
        (trainable if is_trainable and v.trainable else others).append(v)
    return trainable, others


def _takes_training(fn):
    for cf in _concrete_functions(fn):
        signature = getattr(cf, "structured_input_signature", None)
        if signature and "training" in signature[1]:
            return True
    return False


def _input_spec_of(fn):
    """The `tf.TensorSpec` of `fn`'s single input, if its signature has one."""
    for cf in _concrete_functions(fn):
        signature = getattr(cf, "structured_input_signature", None)
        if not signature:
            continue
        args, kwargs = signature
        specs = list(args) + [v for k, v in kwargs.items() if k != "training"]
        specs = [s for s in tf.nest.flatten(specs) if isinstance(s, tf.TensorSpec)]
        if len(specs) == 1:
            return specs[0]
    return None


@keras.saving.register_keras_serializable(package="mmzoo")
class HubEncoder(keras.layers.Layer):
    """A TF2 SavedModel in the TF-Hub format as a Keras 3 layer.

    The handle (a tfhub.dev / Kaggle URL, or a local SavedModel directory) is
    resolved with `hub.resolve` and loaded with `tf.saved_model.load`; `call`
    runs the module's `__call__` (or `signatures[signature]`), passing
    `training` when the module takes it, and picks `output_key` from a dict
    output. The module's variables are the layer's weights: trainable (fine
    tuning) with `trainable=True`, frozen otherwise.

    `get_config` stores the handle: a `.keras` file rebuilds the layer by
    loading the module from the handle again (from the cache, or a download).
    With `trainable=True` the file also stores the module's (fine-tuned)
    variables, restored over the loaded ones; a frozen module is not copied
    into the file. A SavedModel export of a model with this layer includes the
    module's functions and variables (the module is tracked by the layer).

    Args:
        handle: str. TF-Hub handle or SavedModel path.
        trainable: bool. Fine-tune the module's variables.
        output_key: str, optional. The key to take from a dict output.
        signature: str, optional. Call `signatures[signature]` (with the
            input as its single keyword argument) instead of `__call__`.

    Example:

    >>> encoder = HubEncoder("/path/to/saved_model")  # doctest: +SKIP
    """

    def __init__(
        self, handle, trainable=False, output_key=None, signature=None, **kwargs
    ):
        kwargs.setdefault("dtype", "float32")  # the module computes in float32
        super().__init__(trainable=trainable, **kwargs)
        self.handle = str(handle)
        self.output_key = output_key
        self.signature = signature
        module = load_hub_module(self.handle)
        if signature is not None:
            if signature not in module.signatures:
                raise ConfigError(
                    f"TF-Hub module {self.handle!r} has no signature "
                    f"{signature!r}; it has {sorted(module.signatures)}."
                )
            fn = module.signatures[signature]
        elif callable(module):
            fn = module
        else:
            raise ConfigError(
                f"TF-Hub module {self.handle!r} has no `__call__` (not in the "
                "TF2 TF-Hub format); name one of its signatures with "
                f"`signature` ({sorted(module.signatures)})."
            )
        # Attributes of a Keras 3 layer are tracked by TensorFlow: a SavedModel
        # export of the model saves the module's functions and variables.
        self._module = module
        self._fn = fn
        self._takes_training = signature is None and _takes_training(
            getattr(module, "__call__", fn)
        )
        trainable_vars, other_vars = _module_variables(
            module, getattr(fn, "__call__", fn)
        )
        for v in trainable_vars:
            self._track_variable(_wrap_variable(v, True))
        for v in other_vars:
            self._track_variable(_wrap_variable(v, False))
        self._build_at_init()

    def input_spec_of_module(self):
        """The module's `tf.TensorSpec` input, if its signature has exactly one."""
        if self.signature is not None:
            specs = list(self._fn.structured_input_signature[1].values())
            return specs[0] if len(specs) == 1 else None
        return _input_spec_of(self._module.__call__)

    def call(self, inputs, training=False):
        if self.signature is not None:
            name = list(self._fn.structured_input_signature[1])[0]
            result = self._fn(**{name: inputs})
        elif self._takes_training:
            # Training mode only when fine-tuning (as BatchNormalization).
            result = self._fn(inputs, training=bool(training and self.trainable))
        else:
            result = self._fn(inputs)
        if isinstance(result, dict):
            key = self.output_key
            if key is None and len(result) == 1:
                key = next(iter(result))
            if key not in result:
                raise ConfigError(
                    f"TF-Hub module {self.handle!r} returns a dict with keys "
                    f"{sorted(result)}; set `output_key` to one of them "
                    f"(output_key={self.output_key!r})."
                )
            result = result[key]
        elif self.output_key is not None:
            raise ConfigError(
                f"`output_key`={self.output_key!r} is set but TF-Hub module "
                f"{self.handle!r} does not return a dict."
            )
        return tf.cast(result, self.compute_dtype)

    def save_own_variables(self, store):
        if self.trainable:  # fine-tuned values; a frozen module is the handle's
            super().save_own_variables(store)

    def load_own_variables(self, store):
        if len(store.keys()):
            super().load_own_variables(store)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "handle": self.handle,
                "output_key": self.output_key,
                "signature": self.signature,
            }
        )
        return config


def _wrap_variable(variable, trainable):
    """A Keras variable sharing `variable` (the module's functions read it)."""
    wrapped = keras.Variable(
        initializer="zeros",  # replaced below; scalar-sized placeholder
        shape=(),
        dtype=variable.dtype.name,
        trainable=trainable,
        name=variable.name.split(":")[0].replace("/", "_"),
    )
    wrapped._value = variable
    wrapped._shape = tuple(variable.shape)
    wrapped._ndim = len(wrapped._shape)
    return wrapped


# --------------------------------------------------------------------------
# keras-hub


def keras_hub_cache_dir():
    """Where keras-hub presets are cached: kagglehub's cache (`KAGGLEHUB_CACHE`,
    default `~/.cache/kagglehub`); `hf://` presets use the Hugging Face cache."""
    return os.environ.get("KAGGLEHUB_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "kagglehub"
    )


def freeze_preset(spec, backbone):
    """Record a preset backbone as its architecture, in place: `spec["config"]`
    from the backbone, `spec["preset"] = None`. The model is then rebuilt from
    it (weights from the `.keras` file), so reloading needs no download."""
    if spec.get("preset"):
        config = backbone.get_config()
        for key in ("name", "trainable", "dtype"):
            config.pop(key, None)
        spec["config"] = config
        spec["preset"] = None


def keras_hub_backbone(spec, name):
    """A keras-hub backbone from a resolved `keras_hub` spec, named `name`."""
    import keras_hub

    class_name = spec["keras_hub"]
    cls = getattr(keras_hub.models, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, keras_hub.models.Backbone)):
        raise ConfigError(
            f"`keras_hub: {class_name!r}` is not a keras-hub backbone class "
            "(e.g. BertBackbone, ResNetBackbone, EfficientNetBackbone)."
        )
    preset = spec.get("preset")
    if preset:
        try:
            backbone = cls.from_preset(
                preset, **{**dict(spec.get("config") or {}), "name": name}
            )
        except Exception as e:  # requests' ConnectionError is an OSError
            raise ConfigError(
                f"Cannot load the keras-hub preset {preset!r} ({class_name}): "
                f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
                f". Presets are downloads (Kaggle, Hugging Face), cached in "
                f"{keras_hub_cache_dir()} (KAGGLEHUB_CACHE; `hf://` presets in "
                "the Hugging Face cache, HF_HOME). Without network access use a "
                "local preset directory, or `config:` with the class's "
                "arguments (random weights)"
                + (
                    " and a `vocabulary` for the tokenizer."
                    if wants_tokenizer(name, spec)
                    else "."
                )
            ) from e
    else:
        try:
            backbone = cls(**{**dict(spec.get("config") or {}), "name": name})
        except (TypeError, ValueError) as e:
            raise ConfigError(
                f"Invalid `config` for keras-hub {class_name}: {e}. Received "
                f"config={spec.get('config')!r}"
            ) from e
    backbone.trainable = bool(spec.get("trainable", True))
    return backbone


# --------------------------------------------------------------------------
# keras-hub tokenizers (strings in)


def _tokenizer_class(name, where=""):
    import keras_hub

    cls = getattr(keras_hub.models, name, None) or getattr(
        keras_hub.tokenizers, name, None
    )
    if not (
        isinstance(cls, type)
        and issubclass(cls, keras_hub.tokenizers.WordPieceTokenizer)
    ):
        raise ConfigError(
            f"{where}`tokenizer: {name!r}` is not a keras-hub tokenizer class "
            "with a WordPiece vocabulary (BertTokenizer, DistilBertTokenizer, "
            "ElectraTokenizer...); other tokenizers are not supported inside "
            "the model: feed token ids (no `tokenizer`) instead."
        )
    return cls


def read_vocabulary(vocabulary, where="vocabulary"):
    """A list of word pieces from a list, or a file with one per line."""
    if isinstance(vocabulary, str):
        path = os.path.expanduser(vocabulary)
        if not os.path.isfile(path):
            raise ConfigError(f"{where}: vocabulary file not found: {vocabulary}")
        with open(path, encoding="utf-8") as f:
            tokens = [line.rstrip() for line in f]  # as keras-hub reads it
    else:
        tokens = [str(t) for t in vocabulary]
    if not tokens:
        raise ConfigError(f"{where}: the vocabulary is empty.")
    seen, duplicates = set(), []
    for token in tokens:
        if token in seen:
            duplicates.append(token)
        seen.add(token)
    if duplicates:
        raise ConfigError(
            f"{where}: word pieces must be unique; repeated: "
            f"{sorted(set(duplicates))[:10]}."
        )
    return tokens


def _prepare_vocabulary(modality, spec):
    """Read `vocabulary` into a list; default the backbone's vocabulary size."""
    import inspect

    import keras_hub

    where = f"`encoders[{modality!r}]`"
    spec["vocabulary"] = read_vocabulary(spec["vocabulary"], f"{where}['vocabulary']")
    cls = getattr(keras_hub.models, spec["keras_hub"], None)
    if not spec.get("preset") and isinstance(cls, type):
        params = inspect.signature(cls.__init__).parameters
        if "vocabulary_size" in params:
            spec["config"] = dict(spec.get("config") or {})
            spec["config"].setdefault("vocabulary_size", len(spec["vocabulary"]))


def _finish_tokenizer_spec(modality, spec, backbone):
    """Fill the tokenizer class, vocabulary, config and sequence length."""
    where = f"`encoders[{modality!r}]`"
    if spec.get("vocabulary") is None:  # checked: there is a preset
        tokenizer = _preset_tokenizer(spec)
        config = {
            k: v
            for k, v in tokenizer.get_config().items()
            if k not in ("name", "trainable", "dtype", "vocabulary", "config_file")
        }
        config.update(spec.get("tokenizer_config") or {})
        spec["tokenizer"] = type(tokenizer).__name__
        spec["vocabulary"] = list(tokenizer.get_vocabulary())
        spec["tokenizer_config"] = config
    if not isinstance(spec.get("tokenizer"), str):
        default = spec["keras_hub"].replace("Backbone", "Tokenizer")
        spec["tokenizer"] = default
    _tokenizer_class(spec["tokenizer"], f"{where}: ")
    spec["tokenizer_config"] = dict(spec.get("tokenizer_config") or {})
    size = getattr(backbone, "vocabulary_size", None)
    if size is not None and len(spec["vocabulary"]) > size:
        raise ConfigError(
            f"{where}: the vocabulary has {len(spec['vocabulary'])} word pieces "
            f"but keras-hub {spec['keras_hub']} has vocabulary_size={size}."
        )
    maximum = getattr(backbone, "max_sequence_length", None)
    if spec.get("sequence_length") is None:
        spec["sequence_length"] = min(DEFAULT_SEQUENCE_LENGTH, maximum or 10**9)
    if maximum is not None and spec["sequence_length"] > maximum:
        raise ConfigError(
            f"{where}: sequence_length={spec['sequence_length']} is longer than "
            f"the backbone's max_sequence_length={maximum}."
        )


def _preset_tokenizer(spec):
    import keras_hub

    preset = spec["preset"]
    try:
        tokenizer = keras_hub.models.Tokenizer.from_preset(preset)
    except Exception as e:  # requests' ConnectionError is an OSError
        raise ConfigError(
            f"Cannot load the tokenizer of the keras-hub preset {preset!r}: "
            f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            f". Presets are downloads, cached in {keras_hub_cache_dir()} "
            "(KAGGLEHUB_CACHE). Without network access use `config:` with a "
            "`vocabulary`."
        ) from e
    if not isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
        raise ConfigError(
            f"The keras-hub preset {preset!r} has a {type(tokenizer).__name__}; "
            "only WordPiece tokenizers (BERT-style) run inside the model: feed "
            "token ids (no `tokenizer`) instead."
        )
    return tokenizer


@keras.saving.register_keras_serializable(package="mmzoo")
class TextTokenizer(keras.layers.Layer):
    """Raw strings -> a keras-hub text backbone's inputs, in the graph.

    A keras-hub WordPiece tokenizer (`BertTokenizer`...) and a
    `StartEndPacker`: `[CLS] tokens [SEP]`, truncated or padded (`[PAD]`) to
    `sequence_length`. As a layer of the model, it is saved in the `.keras`
    file (the vocabulary is in the config) and in a SavedModel export (TF Text
    ops), which then takes strings. String ops do not compile with XLA
    (`supports_jit = False`).

    Args:
        tokenizer_class: str. A keras-hub WordPiece tokenizer class name.
        vocabulary: list of str. The word pieces, with the class's special
            tokens (`[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` for BERT).
        sequence_length: int. Length of the packed token ids.
        tokenizer_config: dict, optional. More arguments of the class
            (`lowercase`...).

    Call arguments:
        text: (batch,) string tensor.

    Returns:
        dict of `token_ids`, `segment_ids` (zeros) and `padding_mask`, each
        (batch, sequence_length) int32.

    Example:

    >>> import numpy as np
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "film"]
    >>> tokenizer = TextTokenizer("BertTokenizer", vocab, 5, {"lowercase": True})
    >>> [int(i) for i in tokenizer(np.array(["Good film"]))["token_ids"][0]]
    [2, 5, 6, 3, 0]
    """

    def __init__(
        self,
        tokenizer_class,
        vocabulary,
        sequence_length,
        tokenizer_config=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        import keras_hub

        cls = _tokenizer_class(tokenizer_class)
        self.tokenizer_class = str(tokenizer_class)
        self.vocabulary = read_vocabulary(vocabulary)
        self.sequence_length = int(sequence_length)
        self.tokenizer_config = dict(tokenizer_config or {})
        self.supports_jit = False
        try:
            self.tokenizer = cls(
                vocabulary=self.vocabulary, name="wordpiece", **self.tokenizer_config
            )
        except (TypeError, ValueError, RuntimeError) as e:
            raise ConfigError(
                f"Cannot build keras-hub {tokenizer_class} from the vocabulary "
                f"({len(self.vocabulary)} word pieces) and tokenizer_config="
                f"{self.tokenizer_config!r}: {str(e).splitlines()[0][:300]}"
            ) from e
        pad = getattr(self.tokenizer, "pad_token_id", None)
        self.packer = keras_hub.layers.StartEndPacker(
            sequence_length=self.sequence_length,
            start_value=getattr(self.tokenizer, "start_token_id", None),
            end_value=getattr(self.tokenizer, "end_token_id", None),
            pad_value=0 if pad is None else pad,
            return_padding_mask=True,
            name="packer",
        )

    def build(self, text_shape=None):
        self.built = True  # no weights: the vocabulary is set in the constructor

    def call(self, text):
        token_ids, mask = self.packer(self.tokenizer(text))
        token_ids = keras.ops.cast(token_ids, "int32")
        return {
            "token_ids": token_ids,
            "segment_ids": keras.ops.zeros_like(token_ids),
            "padding_mask": keras.ops.cast(mask, "int32"),
        }

    def compute_output_spec(self, text):
        shape = (text.shape[0], self.sequence_length)
        return {
            key: keras.KerasTensor(shape, dtype="int32")
            for key in ("token_ids", "segment_ids", "padding_mask")
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tokenizer_class": self.tokenizer_class,
                "vocabulary": list(self.vocabulary),
                "sequence_length": self.sequence_length,
                "tokenizer_config": dict(self.tokenizer_config),
            }
        )
        return config


# --------------------------------------------------------------------------
# Encoder specs


def resolve_encoder_spec(modality, spec):
    """A checked copy of the `encoders[modality]` spec (`ConfigError` if bad)."""
    if isinstance(spec, (list, tuple)):
        spec = {"mlp": list(spec)}
    if not isinstance(spec, dict):
        raise ConfigError(
            f"`encoders[{modality!r}]` must be a dict with one of the keys "
            f"{ENCODER_KINDS}. Received {spec!r}"
        )
    kinds = [k for k in ENCODER_KINDS if k in spec]
    if len(kinds) != 1:
        raise ConfigError(
            f"`encoders[{modality!r}]` must have exactly one of the keys "
            f"{ENCODER_KINDS}. Received {spec!r}"
        )
    kind = kinds[0]
    allowed = (
        {"mlp"} if kind == "mlp" else (HUB_KEYS if kind == "hub" else KERAS_HUB_KEYS)
    )
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(
            f"Unknown keys {unknown} in `encoders[{modality!r}]` ({kind}); "
            f"allowed: {sorted(allowed)}. Received {spec!r}"
        )
    spec = copy.deepcopy(dict(spec))
    if kind == "mlp":
        return spec
    if not isinstance(spec[kind], str) or not spec[kind]:
        raise ConfigError(
            f"`encoders[{modality!r}][{kind!r}]` must be a non-empty string. "
            f"Received {spec!r}"
        )
    spec.setdefault("trainable", kind == "keras_hub")
    spec.setdefault("units", [])
    if not isinstance(spec["trainable"], bool):
        raise ConfigError(
            f"`encoders[{modality!r}]['trainable']` must be a bool. Received {spec!r}"
        )
    if kind == "keras_hub":
        spec.setdefault("output", "pooled")
        if spec["output"] not in KERAS_HUB_OUTPUTS:
            raise ConfigError(
                f"`encoders[{modality!r}]['output']` must be one of "
                f"{KERAS_HUB_OUTPUTS}. Received {spec!r}"
            )
        _check_tokenizer_keys(modality, spec)
    return spec


def _check_tokenizer_keys(modality, spec):
    for key in TOKENIZER_KEYS:
        spec.setdefault(key, None)
    where = f"`encoders[{modality!r}]`"
    tokenizer, vocabulary = spec["tokenizer"], spec["vocabulary"]
    if tokenizer is not None and not isinstance(tokenizer, (bool, str)):
        raise ConfigError(
            f"{where}['tokenizer'] must be true (the preset's or the backbone's "
            f"tokenizer) or a keras-hub tokenizer class name. Received {spec!r}"
        )
    if vocabulary is not None and not (
        (isinstance(vocabulary, str) and vocabulary)
        or (
            isinstance(vocabulary, (list, tuple))
            and vocabulary
            and all(isinstance(t, str) for t in vocabulary)
        )
    ):
        raise ConfigError(
            f"{where}['vocabulary'] must be a non-empty list of word pieces or "
            f"the path of a vocabulary file (one per line). Received "
            f"vocabulary={_short(vocabulary)}"
        )
    length = spec["sequence_length"]
    if length is not None and (
        not isinstance(length, int) or isinstance(length, bool) or length < 3
    ):
        raise ConfigError(
            f"{where}['sequence_length'] must be an integer >= 3 (start, end "
            f"and one token). Received sequence_length={length!r}"
        )
    if spec["tokenizer_config"] is not None and not isinstance(
        spec["tokenizer_config"], dict
    ):
        raise ConfigError(
            f"{where}['tokenizer_config'] must be a dict of the tokenizer "
            f"class's arguments. Received {spec['tokenizer_config']!r}"
        )
    if tokenizer and vocabulary is None and not spec.get("preset"):
        raise ConfigError(
            f"{where}: a tokenizer without a preset needs `vocabulary` (a list "
            f"of word pieces or a vocabulary file). Received {_short(spec)}"
        )
    if tokenizer is False and vocabulary is not None:
        raise ConfigError(
            f"{where} sets `tokenizer: false` and a `vocabulary`. Received "
            f"{_short(spec)}"
        )
    if not wants_tokenizer(modality, spec) and (
        length is not None or spec["tokenizer_config"] is not None
    ):
        raise ConfigError(
            f"{where} sets `sequence_length` / `tokenizer_config` without a "
            "tokenizer: add `tokenizer: true` (a preset's tokenizer) or a "
            f"`vocabulary`. Received {_short(spec)}"
        )


def _short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...]"


def wants_tokenizer(modality, spec):
    """Whether a keras-hub spec takes strings through a tokenizer."""
    return bool(spec.get("tokenizer")) or spec.get("vocabulary") is not None


def build_encoder(modality, spec, input_dim, dropout=0.0):
    """(inputs, encoded) of one modality: a dict of model inputs, the features.

    A keras-hub spec with a `preset` is updated in place to the preset's
    architecture (`config`, no `preset`), for the model's `get_config`.

    `inputs` maps input names to `keras.Input`s (`modality` itself, or
    `<modality>_<key>` for a backbone with several inputs).
    """
    from mmzoo.models.encoders import mlp_encoder

    name = f"{modality}_encoder"
    if "mlp" in spec:
        x = keras.Input((int(input_dim),), name=modality)
        units = spec["mlp"]
        encoded = mlp_encoder(list(units), dropout, name=name)(x) if units else x
        return {modality: x}, encoded
    if "hub" in spec:
        layer = HubEncoder(
            spec["hub"],
            trainable=spec["trainable"],
            output_key=spec.get("output_key"),
            signature=spec.get("signature"),
            name=name,
        )
        shape, dtype = spec.get("input_shape"), spec.get("input_dtype")
        module_spec = layer.input_spec_of_module()
        if shape is None:
            if module_spec is None or module_spec.shape.rank is None:
                raise ConfigError(
                    f"Cannot read the input shape of TF-Hub module "
                    f"{spec['hub']!r} from its signature; set "
                    f"`encoders[{modality!r}]['input_shape']` (without the "
                    "batch axis, e.g. [224, 224, 3], or [] for strings)."
                )
            shape = list(module_spec.shape)[1:]
        if dtype is None:
            dtype = module_spec.dtype.name if module_spec is not None else "float32"
        x = keras.Input(tuple(shape), dtype=dtype, name=modality)
        if dtype == "string":  # string ops do not compile with XLA
            layer.supports_jit = False
        inputs, encoded = {modality: x}, layer(x)
    else:
        text = wants_tokenizer(modality, spec)
        if text and spec.get("vocabulary") is not None:
            _prepare_vocabulary(modality, spec)
        backbone = keras_hub_backbone(spec, name)
        if text:
            _finish_tokenizer_spec(modality, spec, backbone)
        freeze_preset(spec, backbone)
        if text:
            inputs, encoded = _apply_text_backbone(modality, spec, backbone)
        else:
            inputs, encoded = _apply_backbone(modality, spec, backbone)
    if len(encoded.shape) > 2:  # a feature map or a sequence: average it
        if len(encoded.shape) > 3:
            flat = keras.layers.Reshape(
                (-1, encoded.shape[-1]), name=f"{modality}_flat"
            )
            encoded = flat(encoded)
        encoded = keras.layers.GlobalAveragePooling1D(name=f"{modality}_pool")(encoded)
    if spec["units"]:
        encoded = mlp_encoder(list(spec["units"]), dropout, name=f"{modality}_mlp")(
            encoded
        )
    return inputs, encoded


def _apply_backbone(modality, spec, backbone):
    structure = backbone.input
    if isinstance(structure, dict):
        inputs = {
            key: keras.Input(
                tuple(t.shape[1:]), dtype=t.dtype, name=f"{modality}_{key}"
            )
            for key, t in structure.items()
        }
        out = backbone(inputs)
        model_inputs = {f"{modality}_{k}": v for k, v in inputs.items()}
    else:
        shape = spec.get("input_shape") or tuple(structure.shape[1:])
        x = keras.Input(tuple(shape), dtype=structure.dtype, name=modality)
        out = backbone(x)
        model_inputs = {modality: x}
    return model_inputs, _backbone_output(spec, out)


def _apply_text_backbone(modality, spec, backbone):
    """A string input, the `TextTokenizer`, then the backbone."""
    tokenizer = TextTokenizer(
        spec["tokenizer"],
        spec["vocabulary"],
        spec["sequence_length"],
        spec["tokenizer_config"],
        name=f"{modality}_tokenizer",
    )
    x = keras.Input((), dtype="string", name=modality)
    features = tokenizer(x)
    structure = backbone.input
    if not isinstance(structure, dict) or not set(structure) <= set(features):
        names = sorted(structure) if isinstance(structure, dict) else "one tensor"
        raise ConfigError(
            f"keras-hub {spec['keras_hub']} takes {names}; the tokenizer of "
            f"`encoders[{modality!r}]` gives {sorted(features)} (a text backbone "
            "such as BertBackbone is needed for `tokenizer` / `vocabulary`)."
        )
    out = backbone({key: features[key] for key in structure})
    return {modality: x}, _backbone_output(spec, out)


def _backbone_output(spec, out):
    if isinstance(out, dict):
        key = f"{spec['output']}_output"
        if key not in out:
            raise ConfigError(
                f"keras-hub {spec['keras_hub']} returns {sorted(out)}; "
                f"`output: {spec['output']}` needs {key!r}."
            )
        out = out[key]
    return out


def encode_modalities(modalities, input_dims, encoder_units, encoders, dropout):
    """The inputs and encodings of a classifier's modalities.

    Without `encoders`, one vector input per modality and an MLP of
    `encoder_units` (none if empty); with it, each modality's encoder from its
    spec (`build_encoder`; MLP from `encoder_units` where it names none).

    Returns:
        (specs or None, {input name: keras.Input}, {modality: encoded tensor}).
    """
    from mmzoo.models.encoders import mlp_encoder

    if not encoders:
        inputs = {m: keras.Input((int(input_dims[m]),), name=m) for m in modalities}
        encoded = {
            m: mlp_encoder(list(encoder_units), dropout, name=f"{m}_encoder")(inputs[m])
            if encoder_units
            else inputs[m]
            for m in modalities
        }
        return None, inputs, encoded
    specs = resolve_encoders(encoders, modalities, encoder_units)
    inputs, encoded = {}, {}
    for m in modalities:
        modality_inputs, encoded[m] = build_encoder(m, specs[m], input_dims[m], dropout)
        inputs.update(modality_inputs)
    return specs, inputs, encoded


def resolve_encoders(encoders, modalities, encoder_units):
    """`{modality: spec}` for every modality (MLP from `encoder_units` unless
    `encoders` says otherwise); `ConfigError` for unknown modalities."""
    encoders = dict(encoders or {})
    unknown = sorted(set(encoders) - set(modalities))
    if unknown:
        raise ConfigError(
            f"`encoders` names modalities {unknown} that are not in "
            f"`input_dims` ({modalities}). Received encoders={encoders!r}"
        )
    return {
        m: resolve_encoder_spec(m, encoders.get(m, {"mlp": list(encoder_units)}))
        for m in modalities
    }


def plain_spec(value):
    """`value` with mappings and sequences as plain dicts and lists."""
    import collections.abc

    if isinstance(value, collections.abc.Mapping):
        return {str(k): plain_spec(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_spec(v) for v in value]
    return value


def plain_encoders(encoders):
    """`encoders` as plain dicts and lists (for `get_config`), or None."""
    return None if encoders is None else plain_spec(encoders)
