"""`ZooModel`: the base of every zoo model, and compiling from a `train` block."""

import inspect

import keras


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
        return cls(**config)


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
        from mmzoo.errors import ConfigError

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
