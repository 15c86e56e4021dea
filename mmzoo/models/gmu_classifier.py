import keras

from mmzoo.errors import ConfigError
from mmzoo.layers import GatedMultimodalUnit
from mmzoo.models.base import ZooModel
from mmzoo.models.encoders import mlp_encoder
from mmzoo.registry import register_model

TASKS = ("multiclass", "multilabel")


@register_model("gmu")
@keras.saving.register_keras_serializable(package="mmzoo")
class GMUClassifier(ZooModel):
    """Encoders per modality, a Gated Multimodal Unit, and a classifier head.

    Inputs are a dict of modality name -> (batch, d) features (and, with
    `use_mask_input`, a `modality_mask` of shape (batch, n) in the sorted order
    of the modality names). Outputs are a dict:

    - `probabilities`: (batch, num_classes), softmax for `multiclass`, sigmoid
      per class for `multilabel` (e.g. MM-IMDb's 23 genres).
    - `gates`: (batch, n, hidden_dim), the GMU gate of each modality, in the
      sorted order of the modality names (see `modalities`).

    Args:
        input_dims: dict. Modality name -> feature size.
        num_classes: int. Number of classes (>= 2 for multiclass).
        task: str. `"multiclass"` or `"multilabel"`.
        encoder_units: list of int. Dense widths of each modality's MLP encoder;
            `[]` feeds the raw features to the GMU (the paper's synthetic setup).
        hidden_dim: int. Size of the GMU output.
        gate_on: str. `"inputs"` (paper) or `"projections"` (authors' code).
        head_units: list of int. Dense widths between the GMU and the output.
        dropout: float in [0, 1). Dropout in encoders and head.
        use_mask_input: bool. Add a `modality_mask` input for missing modalities.
        name: str. Model name.

    Example:

    >>> model = GMUClassifier({"image": 8, "text": 5}, num_classes=3)
    >>> sorted(model.output_names)
    ['gates', 'probabilities']

    References:
        Arevalo et al., "Gated Multimodal Units for Information Fusion", 2017.
    """

    def __init__(
        self,
        input_dims,
        num_classes=2,
        task="multiclass",
        encoder_units=(64,),
        hidden_dim=32,
        gate_on="inputs",
        head_units=(),
        dropout=0.0,
        use_mask_input=False,
        name="gmu_classifier",
        **kwargs,
    ):
        _check_args(input_dims, num_classes, task, hidden_dim, dropout)
        modalities = sorted(input_dims)

        # === Layers ===
        encoders = {
            m: mlp_encoder(list(encoder_units), dropout, name=f"{m}_encoder")
            for m in modalities
            if encoder_units
        }
        gmu = GatedMultimodalUnit(
            hidden_dim, gate_on=gate_on, return_gates=True, name="gmu"
        )
        head = [
            keras.layers.Dense(u, activation="relu", name=f"head_dense_{i}")
            for i, u in enumerate(head_units)
        ]
        classifier = keras.layers.Dense(
            num_classes,
            activation="softmax" if task == "multiclass" else "sigmoid",
            dtype="float32",  # probabilities in float32 under mixed precision
            name="probabilities",
        )

        # === Functional model ===
        inputs = {m: keras.Input((int(input_dims[m]),), name=m) for m in modalities}
        encoded = {
            m: encoders[m](inputs[m]) if encoders else inputs[m] for m in modalities
        }
        mask = None
        if use_mask_input:
            mask = keras.Input((len(modalities),), name="modality_mask")
            inputs["modality_mask"] = mask
        fused, gates = gmu(encoded, mask=mask)
        x = fused
        for layer in head:
            x = layer(x)
            if dropout:
                x = keras.layers.Dropout(dropout)(x)
        outputs = {
            "probabilities": classifier(x),
            "gates": keras.layers.Identity(name="gates", dtype="float32")(gates),
        }
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.input_dims = {m: int(input_dims[m]) for m in modalities}
        self.num_classes = num_classes
        self.task = task
        self.encoder_units = list(encoder_units)
        self.hidden_dim = hidden_dim
        self.gate_on = gate_on
        self.head_units = list(head_units)
        self.dropout = dropout
        self.use_mask_input = use_mask_input
        self.modalities = modalities

    def get_config(self):
        return {
            "input_dims": dict(self.input_dims),
            "num_classes": self.num_classes,
            "task": self.task,
            "encoder_units": list(self.encoder_units),
            "hidden_dim": self.hidden_dim,
            "gate_on": self.gate_on,
            "head_units": list(self.head_units),
            "dropout": self.dropout,
            "use_mask_input": self.use_mask_input,
            "name": self.name,
        }

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
            "input_dims": {m: int(s[-1]) for m, s in data.feature_dims.items()},
            "num_classes": int(data.num_classes),
            "task": data.task,
        }


def _check_args(input_dims, num_classes, task, hidden_dim, dropout):
    if not isinstance(input_dims, dict) or len(input_dims) < 2:
        raise ConfigError(
            f"`input_dims` must map at least 2 modality names to feature sizes. "
            f"Received input_dims={input_dims!r}"
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
    if (
        not isinstance(hidden_dim, int)
        or isinstance(hidden_dim, bool)
        or hidden_dim < 1
    ):
        raise ConfigError(
            "`hidden_dim` must be a positive integer. "
            f"Received hidden_dim={hidden_dim!r}"
        )
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ConfigError(f"`dropout` must be in [0, 1). Received dropout={dropout!r}")
