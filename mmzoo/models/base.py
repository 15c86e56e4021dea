"""`ZooModel`: the base of every zoo model, and compiling from a `train` block.

`ClassifierModel` adds what the classifier factories (`gmu`,
`fusion_classifier`) share: argument checks, the output layer, the head, the
loss and metrics of each task, and the constructor arguments read from the data.
"""

import contextlib
import functools
import inspect

import keras

from mmzoo.errors import ConfigError

TASKS = ("multiclass", "multilabel")
# `get_config` key of the dtype policy a zoo model was built under (only when
# it is not float32: float32 configs are exactly the constructor arguments).
POLICY_KEY = "dtype"


@contextlib.contextmanager
def global_dtype_policy(name):
    """Set the global Keras dtype policy to `name` (None: unchanged); restore."""
    if name is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _get_config_with_policy(get_config):
    @functools.wraps(get_config)
    def wrapper(self):
        config = get_config(self)
        policy = self.dtype_policy.name
        if policy != "float32" and POLICY_KEY not in config:
            config = {**config, POLICY_KEY: policy}
        return config

    wrapper._records_policy = True
    return wrapper


def _from_config_under_policy(from_config):
    func = from_config.__func__

    @functools.wraps(func)
    def wrapper(cls, config):
        config = dict(config)
        policy = config.pop(POLICY_KEY, None)
        if isinstance(policy, dict):  # a serialised DTypePolicy
            policy = keras.dtype_policies.deserialize(policy).name
        with global_dtype_policy(policy):
            return func(cls, config)

    wrapper._records_policy = True
    return classmethod(wrapper)


class ZooModel(keras.Model):
    """A functional Keras model whose outputs are a dict of named tensors.

    Losses and metrics apply to the output named by `prediction_output`; the
    other outputs (gates, attention, latents) are for interpretation and serving.
    Labels are passed to `fit` as a plain array.

    Subclasses build their graph in `__init__` (layers, functional model,
    config, in that order), return exactly the constructor arguments from
    `get_config`, and define `default_compile_args`.
    """

    prediction_output = "probabilities"

    def __init_subclass__(cls, **kwargs):
        # Mixed precision survives `.keras` save/load: `get_config` records the
        # dtype policy the model was built under (`precision_scope`), and
        # `from_config` rebuilds every layer under it, whatever the global
        # policy when loading. Applied to every subclass's own methods.
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("get_config")
        if own is not None and not getattr(own, "_records_policy", False):
            cls.get_config = _get_config_with_policy(own)
        own = cls.__dict__.get("from_config")
        if isinstance(own, classmethod) and not getattr(
            own.__func__, "_records_policy", False
        ):
            cls.from_config = _from_config_under_policy(own)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if isinstance(y_pred, dict):
            y_pred = y_pred[self.prediction_output]
        return super().compute_loss(x, y, y_pred, sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, dict):
            y_pred = y_pred[self.prediction_output]
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def default_compile_args(self):
        """`loss` and `metrics` for `compile`."""
        raise NotImplementedError

    @classmethod
    def data_overrides(cls, data):
        """Constructor arguments that follow from the data (input sizes...)."""
        return {}

    @classmethod
    def constructor_args(cls):
        params = inspect.signature(cls.__init__).parameters
        return [
            n
            for n, p in params.items()
            if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        with global_dtype_policy(config.pop(POLICY_KEY, None)):
            return cls(**config)


class ClassifierModel(ZooModel):
    """A `ZooModel` classifying a dict of per-modality feature vectors.

    Subclasses call `check_classifier_args` first, build their head with
    `head_layers` / `apply_head` and their output with `output_layer`, and
    store `input_dims`, `num_classes`, `task`, `encoder_units`, `head_units`,
    `dropout` and `modalities` (sorted names) with `set_classifier_config`.
    The loss and metrics follow `task`; `input_dims`, `num_classes` and `task`
    follow the data when a model is built with `data=`.
    """

    min_modalities = 2

    @classmethod
    def check_classifier_args(cls, input_dims, num_classes, task, dropout):
        """Raise `ConfigError` quoting the bad value; return sorted modalities."""
        if not isinstance(input_dims, dict) or len(input_dims) < cls.min_modalities:
            plural = "s" if cls.min_modalities > 1 else ""
            raise ConfigError(
                f"`input_dims` must map at least {cls.min_modalities} modality "
                f"name{plural} to feature sizes. Received input_dims={input_dims!r}"
            )
        for m, d in input_dims.items():
            if not isinstance(d, int) or isinstance(d, bool) or d < 1:
                raise ConfigError(
                    f"`input_dims[{m!r}]` must be a positive integer. Received {d!r}"
                )
        if task not in TASKS:
            raise ConfigError(f"`task` must be one of {TASKS}. Received task={task!r}")
        minimum = 2 if task == "multiclass" else 1
        if not isinstance(num_classes, int) or num_classes < minimum:
            raise ConfigError(
                f"`num_classes` must be an integer >= {minimum} for task {task!r}. "
                f"Received num_classes={num_classes!r}"
            )
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ConfigError(
                f"`dropout` must be in [0, 1). Received dropout={dropout!r}"
            )
        return sorted(input_dims)

    @staticmethod
    def head_layers(head_units, prefix="head"):
        """ReLU Dense layers `{prefix}_dense_{i}` of the given widths."""
        return [
            keras.layers.Dense(u, activation="relu", name=f"{prefix}_dense_{i}")
            for i, u in enumerate(head_units)
        ]

    @staticmethod
    def apply_head(x, layers, dropout):
        """Apply `layers` to `x`, each followed by dropout when `dropout > 0`."""
        for layer in layers:
            x = layer(x)
            if dropout:
                x = keras.layers.Dropout(dropout)(x)
        return x

    @staticmethod
    def output_layer(num_classes, task, name="probabilities"):
        """Softmax (multiclass) or per-class sigmoid (multilabel) Dense layer."""
        return keras.layers.Dense(
            num_classes,
            activation="softmax" if task == "multiclass" else "sigmoid",
            dtype="float32",  # probabilities in float32 under mixed precision
            name=name,
        )

    def set_classifier_config(
        self, input_dims, num_classes, task, encoder_units, head_units, dropout
    ):
        """Store the shared constructor arguments (and `modalities`)."""
        self.modalities = sorted(input_dims)
        self.input_dims = {m: int(input_dims[m]) for m in self.modalities}
        self.num_classes = num_classes
        self.task = task
        self.encoder_units = list(encoder_units)
        self.head_units = list(head_units)
        self.dropout = dropout

    def default_compile_args(self):
        if self.task == "multiclass":
            return {
                "loss": "sparse_categorical_crossentropy",
                "metrics": ["sparse_categorical_accuracy"],
            }
        return {"loss": "binary_crossentropy", "metrics": ["binary_accuracy"]}

    @classmethod
    def data_overrides(cls, data):
        return {
            "input_dims": {
                m: int(s[-1]) if len(s) else 1 for m, s in data.feature_dims.items()
            },
            "num_classes": int(data.num_classes),
            "task": data.task,
        }


def make_optimizer(train):
    """A Keras optimizer from a `train` block."""
    kwargs = {"learning_rate": float(train["learning_rate"])}
    if train.get("clipnorm"):
        kwargs["clipnorm"] = float(train["clipnorm"])
    try:
        return keras.optimizers.get(
            {"class_name": train["optimizer"], "config": kwargs}
        )
    except ValueError:
        raise ConfigError(
            f"Unknown optimizer {train['optimizer']!r} in train.optimizer; use a "
            "Keras optimizer name such as adam, adamw, sgd or rmsprop."
        )


def compile_model(model, train):
    """Compile `model` with its own loss and metrics and the `train` block."""
    model.compile(
        optimizer=make_optimizer(train),
        jit_compile=bool(train.get("jit_compile", False)),
        steps_per_execution=int(train.get("steps_per_execution", 1)),
        **model.default_compile_args(),
    )
    return model
