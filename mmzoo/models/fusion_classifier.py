import keras

from mmzoo.errors import ConfigError
from mmzoo.layers import (
    AdditiveFusion,
    BilinearFusion,
    ConcatFusion,
    CrossModalTransformerFusion,
    GatedAttentionFusion,
    GatedMultimodalUnit,
    HybridFusion,
    LateFusion,
    LowRankFusion,
    ModalityShiftingFusion,
    MultiplicativeFusion,
    PolynomialFusion,
    TensorFusion,
)
from mmzoo.layers.modality_dropout import ModalityDropout
from mmzoo.models.base import ClassifierModel
from mmzoo.models.pretrained import encode_modalities, plain_encoders
from mmzoo.registry import register_model

# `fusion["name"]` -> fusion layer class (`none`: one modality, no fusion).
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
    "hybrid": HybridFusion,
    "late": LateFusion,
    "none": None,
}

# Fusion layers that can return a second tensor: the flag that turns it on and
# the name of the model output that carries it.
EXTRA_OUTPUTS = {
    "gmu": ("return_gates", "gates"),
    "gated_attention": ("return_weights", "attention_weights"),
}


@register_model("fusion_classifier")
@keras.saving.register_keras_serializable(package="mmzoo")
class FusionClassifier(ClassifierModel):
    """MLP encoders per modality, one fusion layer, and a classifier head.

    The fusion layer is chosen by `fusion["name"]`; the other keys of `fusion`
    are that layer's constructor arguments. Inputs are a dict of modality name
    -> (batch, d) features (and, with `use_mask_input`, a `modality_mask` of
    shape (batch, n)); the fusion layers take them in the sorted order of the
    modality names (see `modalities`). Outputs are a dict:

    - `probabilities`: (batch, num_classes), softmax for `multiclass`, sigmoid
      per class for `multilabel`.
    - `gates` (with `{"name": "gmu", "return_gates": True}`): (batch, n, units).
    - `attention_weights` (with `{"name": "gated_attention",
      "return_weights": True}`): (batch, n).

    Feature fusions (encoders -> fusion -> head -> classifier): `concat`,
    `additive`, `multiplicative`, `bilinear` (exactly 2 modalities), `tensor`
    (TFN), `low_rank` (LMF), `polynomial`, `gated_attention`, `gmu`, `mag`
    (modality shifting; set `primary`), `transformer` (cross-modal or early
    transformer fusion) and `hybrid` (early features next to per-modality
    linear predictions).

    Late fusion, `{"name": "late", "mode": "mean" | "weighted" | "learned"}`
    (`LateFusion`'s arguments; `weighted` also takes `modality_weights`): each
    modality has its own encoder, head (`head_units`) and classifier, and
    `LateFusion` averages their probabilities; a masked modality's prediction
    is left out of the average.

    Single-modality baseline, `{"name": "none"}` with one modality in
    `input_dims`: encoder -> head -> classifier, no fusion. It is the default
    `fusion` for one modality (`concat` for more).

    Missing modalities: `use_mask_input` adds a `modality_mask` input (batch,
    n), 1 = present, 0 = missing, in the sorted order of the modality names;
    it goes to the fusion layer, whose docstring says what masking means there.
    `modality_dropout` > 0 marks whole modalities missing at random per example
    while training (never all of them; `ModalityDropout`), the standard way to
    make a fusion model robust to a missing modality; inference is unchanged.

    Args:
        input_dims: dict. Modality name -> feature size (one modality only
            with `fusion={"name": "none"}`).
        num_classes: int. Number of classes (>= 2 for multiclass).
        task: str. `"multiclass"` or `"multilabel"`.
        encoder_units: list of int. Dense widths of each modality's MLP encoder;
            `[]` feeds the raw features to the fusion layer.
        fusion: dict. `{"name": ..., **layer_kwargs}`; default `{"name":
            "concat"}` (`{"name": "none"}` for one modality).
        head_units: list of int. Dense widths between the fusion and the output
            (of each modality's head, with late fusion).
        dropout: float in [0, 1). Dropout in encoders and head.
        use_mask_input: bool. Add a `modality_mask` input.
        modality_dropout: float in [0, 1). Rate of modality dropout in training.
        encoders: dict, optional. Modality name -> encoder spec, `{"mlp":
            [units]}`, `{"hub": HANDLE_OR_PATH, ...}` (TF-Hub) or `{"keras_hub":
            CLASS_NAME, ...}` (a keras-hub backbone); see
            `mmzoo.models.pretrained`. Other modalities get the MLP of
            `encoder_units`.
        name: str. Model name.

    Example:

    >>> model = FusionClassifier(
    ...     {"image": 8, "text": 5}, num_classes=3, encoder_units=[4],
    ...     fusion={"name": "low_rank", "units": 6, "rank": 2})
    >>> sorted(model.output_names)
    ['probabilities']
    >>> late = FusionClassifier(
    ...     {"image": 8, "text": 5}, fusion={"name": "late", "mode": "learned"},
    ...     use_mask_input=True)
    >>> sorted(late.input)
    ['image', 'modality_mask', 'text']

    References:
        Zadeh et al., "Tensor Fusion Network for Multimodal Sentiment
        Analysis", EMNLP 2017. Liu et al., "Efficient Low-rank Multimodal
        Fusion with Modality-Specific Factors", ACL 2018. Rahman et al.,
        "Integrating Multimodal Information in Large Pretrained Transformers",
        ACL 2020. Tsai et al., "Multimodal Transformer for Unaligned Multimodal
        Language Sequences", ACL 2019. Neverova et al., "ModDrop: Adaptive
        Multi-Modal Gesture Recognition", TPAMI 2016.
    """

    min_modalities = 1

    def __init__(
        self,
        input_dims,
        num_classes=2,
        task="multiclass",
        encoder_units=(64,),
        fusion=None,
        head_units=(),
        dropout=0.0,
        use_mask_input=False,
        modality_dropout=0.0,
        encoders=None,
        name="fusion_classifier",
        **kwargs,
    ):
        modalities = self.check_classifier_args(input_dims, num_classes, task, dropout)
        fusion = _check_fusion(fusion, modalities)
        _check_masking(fusion, use_mask_input, modality_dropout)
        fusion_name = fusion["name"]
        late = fusion_name == "late"

        # === Layers ===
        fusion_layer = _fusion_layer(fusion)
        if late:  # one head and classifier per modality
            heads = {m: self.head_layers(head_units, f"{m}_head") for m in modalities}
            classifiers = {
                m: self.output_layer(num_classes, task, f"{m}_probabilities")
                for m in modalities
            }
        else:
            head = self.head_layers(head_units)
            classifier = self.output_layer(num_classes, task)
        dropper = None
        if modality_dropout:
            dropper = ModalityDropout(modality_dropout, name="modality_dropout")

        # === Functional model ===
        # MLPs, or pretrained (TF-Hub, keras-hub) encoders per modality.
        specs, inputs, encoded = encode_modalities(
            modalities, input_dims, encoder_units, encoders, dropout
        )
        mask = None
        if use_mask_input:
            mask = keras.Input((len(modalities),), name="modality_mask")
            inputs["modality_mask"] = mask
        if dropper is not None:  # masks positionally: see `_fuse`
            mask = dropper(encoded) if mask is None else dropper(encoded, mask)
        extra = None
        if late:
            predictions = {
                m: classifiers[m](self.apply_head(encoded[m], heads[m], dropout))
                for m in modalities
            }
            averaged = _fuse(fusion_layer, predictions, mask, fusion, input_dims)
            probabilities = keras.layers.Identity(
                name="probabilities", dtype="float32"
            )(averaged)
        else:
            if fusion_layer is None:
                fused = encoded[modalities[0]]
            else:
                fused = _fuse(fusion_layer, encoded, mask, fusion, input_dims)
            if isinstance(fused, (tuple, list)):
                fused, extra = fused
            probabilities = classifier(self.apply_head(fused, head, dropout))
        outputs = {"probabilities": probabilities}
        if extra is not None:
            extra_name = EXTRA_OUTPUTS[fusion_name][1]
            outputs[extra_name] = keras.layers.Identity(
                name=extra_name, dtype="float32"
            )(extra)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.set_classifier_config(
            input_dims, num_classes, task, encoder_units, head_units, dropout
        )
        self.fusion = dict(fusion)
        self.use_mask_input = use_mask_input
        self.modality_dropout = modality_dropout
        self.encoders = (
            {m: specs[m] for m in sorted(encoders)} if specs is not None else None
        )

    def get_config(self):
        config = {
            "input_dims": dict(self.input_dims),
            "num_classes": self.num_classes,
            "task": self.task,
            "encoder_units": list(self.encoder_units),
            "fusion": dict(self.fusion),
            "head_units": list(self.head_units),
            "dropout": self.dropout,
            "use_mask_input": self.use_mask_input,
            "modality_dropout": self.modality_dropout,
            "encoders": plain_encoders(self.encoders),
            "name": self.name,
        }
        return config


def _fusion_layer(fusion):
    """The fusion layer named by `fusion` (None for `none`)."""
    cls = FUSION_LAYERS[fusion["name"]]
    if cls is None:
        return None
    kwargs = {k: v for k, v in fusion.items() if k != "name"}
    if cls is LateFusion:
        kwargs["dtype"] = "float32"  # it averages float32 probabilities
    try:
        return cls(name="fusion", **kwargs)
    except (ValueError, TypeError) as e:
        raise ConfigError(
            f"Invalid arguments for fusion {fusion['name']!r} in `fusion`: {e}. "
            f"Received fusion={fusion!r}"
        ) from e


def _fuse(layer, tensors, mask, fusion, input_dims):
    # The modality mask goes in positionally: as `mask=` Keras would take it for
    # a Keras (padding) mask and warn that the layer does not propagate it.
    try:
        return layer(tensors) if mask is None else layer(tensors, mask)
    except (ValueError, TypeError) as e:
        raise ConfigError(
            f"Fusion {fusion['name']!r} cannot fuse modalities {sorted(tensors)} "
            f"(input_dims={dict(input_dims)!r}): {e}. Received fusion={fusion!r}"
        ) from e


def _check_fusion(fusion, modalities):
    names = ", ".join(FUSION_LAYERS)
    if fusion is None:
        return {"name": "none" if len(modalities) == 1 else "concat"}
    if not isinstance(fusion, dict) or not isinstance(fusion.get("name"), str):
        raise ConfigError(
            f"`fusion` must be a dict with a `name` key (one of {names}) and the "
            f"fusion layer's arguments. Received fusion={fusion!r}"
        )
    if fusion["name"] not in FUSION_LAYERS:
        raise ConfigError(
            f"Unknown fusion name {fusion['name']!r} in `fusion`; use one of "
            f"{names}. Received fusion={fusion!r}"
        )
    reserved = sorted({"dtype", "trainable"} & set(fusion))
    if reserved:
        raise ConfigError(
            f"`fusion` may not set {reserved}. Received fusion={fusion!r}"
        )
    if fusion["name"] == "none":
        if len(fusion) > 1 or len(modalities) != 1:
            raise ConfigError(
                "fusion={'name': 'none'} (a single-modality baseline) takes no "
                f"arguments and exactly one modality in `input_dims`. Received "
                f"fusion={fusion!r} with modalities {modalities}"
            )
    elif len(modalities) < 2:
        raise ConfigError(
            f"Fusion {fusion['name']!r} in `fusion` needs at least 2 modalities; "
            f"got {modalities}. For a single-modality baseline use "
            "fusion={'name': 'none'}."
        )
    return dict(fusion)


def _check_masking(fusion, use_mask_input, modality_dropout):
    if not isinstance(use_mask_input, bool):
        raise ConfigError(
            f"`use_mask_input` must be a bool. Received use_mask_input="
            f"{use_mask_input!r}"
        )
    if (
        isinstance(modality_dropout, bool)
        or not isinstance(modality_dropout, (int, float))
        or not 0.0 <= modality_dropout < 1.0
    ):
        raise ConfigError(
            "`modality_dropout` must be in [0, 1). Received modality_dropout="
            f"{modality_dropout!r}"
        )
    if fusion["name"] == "none" and (use_mask_input or modality_dropout):
        raise ConfigError(
            "`use_mask_input` and `modality_dropout` need at least 2 modalities; "
            f"fusion={fusion!r} has one. Received use_mask_input="
            f"{use_mask_input!r}, modality_dropout={modality_dropout!r}"
        )
