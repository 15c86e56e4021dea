import keras

from mmzoo.errors import ConfigError
from mmzoo.layers import GatedMultimodalUnit
from mmzoo.models.base import ClassifierModel
from mmzoo.models.pretrained import encode_modalities, plain_encoders
from mmzoo.registry import register_model


@register_model("gmu")
@keras.saving.register_keras_serializable(package="mmzoo")
class GMUClassifier(ClassifierModel):
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
        encoders: dict, optional. Modality name -> encoder spec, `{"mlp":
            [units]}`, `{"hub": HANDLE_OR_PATH, ...}` (TF-Hub) or `{"keras_hub":
            CLASS_NAME, ...}` (a keras-hub backbone); see
            `mmzoo.models.pretrained`. Other modalities get the MLP of
            `encoder_units`.
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
        encoders=None,
        name="gmu_classifier",
        **kwargs,
    ):
        modalities = self.check_classifier_args(input_dims, num_classes, task, dropout)
        _check_hidden_dim(hidden_dim)

        # === Layers ===
        gmu = GatedMultimodalUnit(
            hidden_dim, gate_on=gate_on, return_gates=True, name="gmu"
        )
        head = self.head_layers(head_units)
        classifier = self.output_layer(num_classes, task)

        # === Functional model ===
        # MLPs, or pretrained (TF-Hub, keras-hub) encoders per modality.
        specs, inputs, encoded = encode_modalities(
            modalities, input_dims, encoder_units, encoders, dropout
        )
        mask = None
        if use_mask_input:
            mask = keras.Input((len(modalities),), name="modality_mask")
            inputs["modality_mask"] = mask
        # The modality mask goes in positionally: as `mask=` Keras would take it
        # for a Keras (padding) mask and warn that the GMU does not propagate it.
        fused, gates = gmu(encoded) if mask is None else gmu(encoded, mask)
        x = self.apply_head(fused, head, dropout)
        outputs = {
            "probabilities": classifier(x),
            "gates": keras.layers.Identity(name="gates", dtype="float32")(gates),
        }
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.set_classifier_config(
            input_dims, num_classes, task, encoder_units, head_units, dropout
        )
        self.hidden_dim = hidden_dim
        self.gate_on = gate_on
        self.use_mask_input = use_mask_input
        self.encoders = (
            {m: specs[m] for m in sorted(encoders)} if specs is not None else None
        )

    def get_config(self):
        config = {
            "input_dims": dict(self.input_dims),
            "num_classes": self.num_classes,
            "task": self.task,
            "encoder_units": list(self.encoder_units),
            "hidden_dim": self.hidden_dim,
            "gate_on": self.gate_on,
            "head_units": list(self.head_units),
            "dropout": self.dropout,
            "use_mask_input": self.use_mask_input,
            "encoders": plain_encoders(self.encoders),
            "name": self.name,
        }
        return config


def _check_hidden_dim(hidden_dim):
    if (
        not isinstance(hidden_dim, int)
        or isinstance(hidden_dim, bool)
        or hidden_dim < 1
    ):
        raise ConfigError(
            "`hidden_dim` must be a positive integer. "
            f"Received hidden_dim={hidden_dim!r}"
        )
