import keras

from mmzoo.errors import ConfigError
from mmzoo.layers import (
    AdditiveFusion,
    BilinearFusion,
    ConcatFusion,
    CrossModalTransformerFusion,
    GatedAttentionFusion,
    GatedMultimodalUnit,
    LowRankFusion,
    ModalityShiftingFusion,
    MultiplicativeFusion,
    PolynomialFusion,
    TensorFusion,
)
from mmzoo.models.base import ZooModel
from mmzoo.models.encoders import mlp_encoder
from mmzoo.registry import register_model

TASKS = ("multiclass", "multilabel")

# `fusion["name"]` -> fusion layer class.
FUSION_LAYERS = {
    "concat": ConcatFusion,
    "additive": AdditiveFusion,
    "multiplicative": MultiplicativeFusion,
    "bilinear": BilinearFusion,
    "tensor": TensorFusion,
    "low_rank": LowRankFusion,
    "polynomial": PolynomialFusion,
    "gated_attention": GatedAttentionFusion,
    "gmu": GatedMultimodalUnit,
    "mag": ModalityShiftingFusion,
    "transformer": CrossModalTransformerFusion,
}

# Fusion layers that can return a second tensor: the flag that turns it on and
# the name of the model output that carries it.
EXTRA_OUTPUTS = {
    "gmu": ("return_gates", "gates"),
    "gated_attention": ("return_weights", "attention_weights"),
}


@register_model("fusion_classifier")
@keras.saving.register_keras_serializable(package="mmzoo")
class FusionClassifier(ZooModel):
    """MLP encoders per modality, one fusion layer, and a classifier head.

    The fusion layer is chosen by `fusion["name"]`; the other keys of `fusion`
    are that layer's constructor arguments. Inputs are a dict of modality name
    -> (batch, d) features; the fusion layers take them in the sorted order of
    the modality names (see `modalities`). Outputs are a dict:

    - `probabilities`: (batch, num_classes), softmax for `multiclass`, sigmoid
      per class for `multilabel`.
    - `gates` (with `{"name": "gmu", "return_gates": True}`): (batch, n, units).
    - `attention_weights` (with `{"name": "gated_attention",
      "return_weights": True}`): (batch, n).

    Fusion names: `concat`, `additive`, `multiplicative`, `bilinear` (exactly
    2 modalities), `tensor` (TFN), `low_rank` (LMF), `polynomial`,
    `gated_attention`, `gmu`, `mag` (modality shifting; set `primary`) and
    `transformer` (cross-modal or early transformer fusion).

    Args:
        input_dims: dict. Modality name -> feature size.
        num_classes: int. Number of classes (>= 2 for multiclass).
        task: str. `"multiclass"` or `"multilabel"`.
        encoder_units: list of int. Dense widths of each modality's MLP encoder;
            `[]` feeds the raw features to the fusion layer.
        fusion: dict. `{"name": ..., **layer_kwargs}`; default `{"name":
            "concat"}`.
        head_units: list of int. Dense widths between the fusion and the output.
        dropout: float in [0, 1). Dropout in encoders and head.
        name: str. Model name.

    Example:

    >>> model = FusionClassifier(
    ...     {"image": 8, "text": 5}, num_classes=3, encoder_units=[4],
    ...     fusion={"name": "low_rank", "units": 6, "rank": 2})
    >>> sorted(model.output_names)
    ['probabilities']

    References:
        Zadeh et al., "Tensor Fusion Network for Multimodal Sentiment
        Analysis", EMNLP 2017. Liu et al., "Efficient Low-rank Multimodal
        Fusion with Modality-Specific Factors", ACL 2018. Rahman et al.,
        "Integrating Multimodal Information in Large Pretrained Transformers",
        ACL 2020. Tsai et al., "Multimodal Transformer for Unaligned Multimodal
        Language Sequences", ACL 2019.
    """

    def __init__(
        self,
        input_dims,
        num_classes=2,
        task="multiclass",
        encoder_units=(64,),
        fusion=None,
        head_units=(),
        dropout=0.0,
        name="fusion_classifier",
        **kwargs,
    ):
        _check_args(input_dims, num_classes, task, dropout)
        fusion = _check_fusion(fusion)
        modalities = sorted(input_dims)
        fusion_name = fusion["name"]
        layer_kwargs = {k: v for k, v in fusion.items() if k != "name"}

        # === Layers ===
        encoders = {
            m: mlp_encoder(list(encoder_units), dropout, name=f"{m}_encoder")
            for m in modalities
            if encoder_units
        }
        try:
            fusion_layer = FUSION_LAYERS[fusion_name](name="fusion", **layer_kwargs)
        except (ValueError, TypeError) as e:
            raise ConfigError(
                f"Invalid arguments for fusion {fusion_name!r} in `fusion`: {e}. "
                f"Received fusion={fusion!r}"
            ) from e
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
        try:
            fused = fusion_layer(encoded)
        except (ValueError, TypeError) as e:
            raise ConfigError(
                f"Fusion {fusion_name!r} cannot fuse modalities {modalities} "
                f"(input_dims={dict(input_dims)!r}): {e}. Received fusion={fusion!r}"
            ) from e
        extra = None
        if isinstance(fused, (tuple, list)):
            fused, extra = fused
        x = fused
        for layer in head:
            x = layer(x)
            if dropout:
                x = keras.layers.Dropout(dropout)(x)
        outputs = {"probabilities": classifier(x)}
        if extra is not None:
            extra_name = EXTRA_OUTPUTS[fusion_name][1]
            outputs[extra_name] = keras.layers.Identity(
                name=extra_name, dtype="float32"
            )(extra)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.input_dims = {m: int(input_dims[m]) for m in modalities}
        self.num_classes = num_classes
        self.task = task
        self.encoder_units = list(encoder_units)
        self.fusion = dict(fusion)
        self.head_units = list(head_units)
        self.dropout = dropout
        self.modalities = modalities

    def get_config(self):
        return {
            "input_dims": dict(self.input_dims),
            "num_classes": self.num_classes,
            "task": self.task,
            "encoder_units": list(self.encoder_units),
            "fusion": dict(self.fusion),
            "head_units": list(self.head_units),
            "dropout": self.dropout,
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


def _check_fusion(fusion):
    if fusion is None:
        return {"name": "concat"}
    if not isinstance(fusion, dict) or not isinstance(fusion.get("name"), str):
        raise ConfigError(
            "`fusion` must be a dict with a `name` key (one of "
            f"{', '.join(FUSION_LAYERS)}) and the fusion layer's arguments. "
            f"Received fusion={fusion!r}"
        )
    if fusion["name"] not in FUSION_LAYERS:
        raise ConfigError(
            f"Unknown fusion name {fusion['name']!r} in `fusion`; use one of "
            f"{', '.join(FUSION_LAYERS)}. Received fusion={fusion!r}"
        )
    reserved = sorted({"dtype", "trainable"} & set(fusion))
    if reserved:
        raise ConfigError(
            f"`fusion` may not set {reserved}. Received fusion={fusion!r}"
        )
    return dict(fusion)


def _check_args(input_dims, num_classes, task, dropout):
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
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ConfigError(f"`dropout` must be in [0, 1). Received dropout={dropout!r}")
