"""The MMIM model: encoders, fusion, MI estimators and a two-stage train step."""

import copy

import keras

from mmzoo.models.base import ZooModel
from mmzoo.models.mmim import checks, training
from mmzoo.models.mmim import text as text_lib
from mmzoo.models.mmim.encoders import (
    fusion_network,
    modality_encoder,
    resolve_encoder,
    text_branch,
)
from mmzoo.models.mmim.estimators import MODALITIES, build_estimators
from mmzoo.registry import register_model

LOGS = ("loss", "task_loss", "cpc_loss", "ba_bound", "likelihood", "entropy")


@register_model("mmim")
@keras.saving.register_keras_serializable(package="mmzoo")
class MMIM(ZooModel):
    """MultiModal InfoMax: fusion trained to keep unimodal and fused MI high.

    A text encoder (a keras-hub `BertBackbone` over transcripts, or an MLP over
    text features), acoustic and visual encoders (LSTM over sequences or MLP
    over utterance vectors) give h_t, h_a, h_v; the fusion network (the
    reference's `SubNet`) maps their concatenation to z and a head. Training
    (`train_step`, see `mmzoo.models.mmim.training`) runs two stages per batch:
    the Gaussian predictors q(h_a | h_t), q(h_v | h_t) maximise their
    likelihood; then everything else minimises
    `L_task + alpha * L_CPC - beta * (BA(t -> a) + BA(t -> v))`, the BA bound
    being `E[log q(y|x)] + H(Y)` with H from a 2-Gaussian mixture over a
    memory (`MixtureEntropyEstimator`) of projected samples, and L_CPC the
    InfoNCE loss between z (through a `CPCPredictor`) and each of h_t, h_a,
    h_v. Three optimizers: the compiled one for the main weights, clones at
    `text_learning_rate` (text backbone) and `estimator_learning_rate`
    (predictors). `train.clipnorm` goes to all three (Keras' per-variable
    clipping; the reference clips the global norm of all parameters).

    Inputs (dict): `transcript` (batch,) strings (BERT text encoders; the
    tokenizer is a layer of the model) or `text` features; `audio`, `video`
    (batch, *input_shapes[m]). Unused keys are ignored. Outputs (dict,
    float32): `probabilities` (batch, 2) for `classification` or `prediction`
    (batch, 1) for `regression`, and `fusion` (batch, fusion_units), z.

    Paper vs reference code, and what we follow. Likelihood term: the code's
    `-(y - mu)^2 / (2 sigma^2)` (`include_logvar=False`, the default) rather
    than the paper's full Gaussian log-density: with the `-log sigma` term
    the encoders can collapse h_a, h_v onto the predicted mean while sigma
    shrinks, and nothing stops them (the entropy estimate is floored by its
    jitter). On MOSI (mmim.yaml, seed 0, 10 epochs) the likelihood then grew
    to +175 nats and validation accuracy fell to 0.63 (0.78 with the code's
    form, 0.83 with alpha = beta = 0). The entropy projection (Dense + tanh
    to d // 4) stays at its random initialisation, as it does in the code
    (see `estimators`). Entropy groups: label 1 (classification) or score
    > 0 (regression) vs the rest; the code drops scores == 0. Text
    representation: BERT's last hidden state at [CLS] (`pooling: cls`, the
    code); `pooled` uses keras-hub's pooler. Stage scheduling and the loss
    weights: see `training`. Sample weights are ignored; under
    `mixed_float16` there is no loss scaling (use `mixed_bfloat16`).

    Args:
        input_shapes: dict. `audio`, `video` (and `text` for text features)
            -> [features] (MLP) or [time, features] (LSTM).
        num_classes: int. 2 for `classification`; ignored for `regression`.
        task: str. `"classification"` or `"regression"`.
        text_encoder: dict. `{type: bert, num_layers, num_heads, hidden_dim,
            intermediate_dim, dropout, sequence_length, max_sequence_length,
            lowercase, pooling}`,
            `{preset: <keras-hub BERT preset>, sequence_length, pooling}` or
            `{type: features, units, output_dim, dropout, normalize}` (see
            `text`).
        vocabulary: list of str. WordPiece vocabulary of `type: bert` (built
            from the training transcripts by `data_overrides`).
        audio_encoder, video_encoder: dict. `{type: mlp, units, output_dim,
            dropout, normalize}` or `{type: lstm, units, output_dim, dropout,
            bidirectional, normalize}`; the type defaults from the input rank;
            `normalize` standardises raw features first (see `encoders`).
        fusion_units: int. Width of the fusion network (reference d_prjh).
        fusion_dropout: float. Dropout on the concatenated representations.
        estimator_units: list of int. Hidden widths of the Gaussian
            predictors (None: one layer of the target's width, as the code).
        include_logvar: bool. Use the paper's full log-density (see above).
        entropy_dim: int. Width of the entropy projection (None: d // 4).
        entropy_memory_size: int. Samples kept by each entropy estimator.
        entropy_jitter: float. Covariance jitter of the entropy estimate.
        cpc_units: list of int. Hidden widths of the CPC predictors (None:
            linear, the code's default of one layer).
        alpha: float >= 0. Weight of the CPC loss.
        beta: float >= 0. Weight of the BA bounds.
        text_learning_rate: float. Learning rate of the text backbone.
        estimator_learning_rate: float. Learning rate of stage 1.
        name: str. Model name.

    Example:

    >>> model = MMIM({"audio": [5], "video": [4], "text": [6]},
    ...              text_encoder={"type": "features", "units": [8]})
    >>> sorted(model.output_names)
    ['fusion', 'probabilities']

    References:
        Han, Chen, Poria, "Improving Multimodal Fusion with Hierarchical Mutual
        Information Maximization for Multimodal Sentiment Analysis", EMNLP 2021
        (arXiv:2109.00412); code: github.com/declare-lab/Multimodal-Infomax.
    """

    def __init__(
        self,
        input_shapes,
        num_classes=2,
        task="classification",
        text_encoder=None,
        vocabulary=None,
        audio_encoder=None,
        video_encoder=None,
        fusion_units=128,
        fusion_dropout=0.1,
        estimator_units=None,
        include_logvar=False,
        entropy_dim=None,
        entropy_memory_size=32,
        entropy_jitter=1e-3,
        cpc_units=None,
        alpha=0.1,
        beta=0.1,
        text_learning_rate=5e-5,
        estimator_learning_rate=1e-3,
        name="mmim",
        **kwargs,
    ):
        args = dict(locals())
        checks.check_model_args(args)
        text_spec = text_lib.resolve_text_encoder(text_encoder)
        shapes = checks.check_input_shapes(
            input_shapes, needs_text=text_spec["type"] == "features"
        )
        specs = {
            m: resolve_encoder(m, args[f"{m}_encoder"], shapes[m])
            for m in ("audio", "video")
        }

        # === Layers ===
        text = text_branch(text_spec, vocabulary, shapes)
        encoders = {m: modality_encoder(m, specs[m], shapes[m]) for m in specs}
        dims = {"text": text["dim"], **{m: specs[m]["output_dim"] for m in specs}}
        num_outputs = 2 if task == "classification" else 1
        fusion = fusion_network(
            sum(dims.values()), fusion_units, fusion_dropout, num_outputs
        )
        prediction_output = "probabilities" if num_outputs == 2 else "prediction"
        if num_outputs == 2:
            head = keras.layers.Softmax(dtype="float32", name=prediction_output)
        else:
            head = keras.layers.Identity(dtype="float32", name=prediction_output)

        # === Functional model ===
        # `representations` gives h_t, h_a, h_v, z and the logits to the train
        # step; the model itself outputs the prediction and z.
        inputs = dict(text["inputs"])
        reps = {"text": text["output"]}
        for m in specs:
            inputs[m] = keras.Input(tuple(shapes[m]), name=m)
            reps[m] = encoders[m](inputs[m])
        concatenated = keras.layers.Concatenate(name="concatenate")(
            [reps[m] for m in MODALITIES]
        )
        reps.update(fusion(concatenated))
        representation_model = keras.Model(inputs, reps, name="representations")
        outer = {
            k: keras.Input(t.shape[1:], dtype=t.dtype, name=k)
            for k, t in inputs.items()
        }
        out = representation_model(outer)
        fused = keras.layers.Identity(dtype="float32", name="fusion")(out["fusion"])
        outputs = {prediction_output: head(out["logits"]), "fusion": fused}
        super().__init__(inputs=outer, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.input_shapes = shapes
        self.num_classes = num_classes
        self.task = task
        self.text_encoder = text["spec"]
        self.vocabulary = text["vocabulary"]
        self.audio_encoder, self.video_encoder = specs["audio"], specs["video"]
        self.fusion_units = fusion_units
        self.fusion_dropout = fusion_dropout
        self.estimator_units = list(estimator_units) if estimator_units else None
        self.include_logvar = include_logvar
        self.entropy_dim = entropy_dim
        self.entropy_memory_size = entropy_memory_size
        self.entropy_jitter = float(entropy_jitter)
        self.cpc_units = list(cpc_units) if cpc_units else None
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.text_learning_rate = float(text_learning_rate)
        self.estimator_learning_rate = float(estimator_learning_rate)

        # === Estimators and training state ===
        self.prediction_output = prediction_output
        self.score_name = "accuracy" if task == "classification" else "mae"
        self.representation_model = representation_model
        self.text_backbone = text["backbone"]
        (
            self.estimators,
            self.entropy_projections,
            self.entropy_estimators,
            self.cpc,
        ) = build_estimators(
            dims,
            fusion_units,
            self.estimator_units,
            entropy_dim,
            entropy_memory_size,
            self.entropy_jitter,
            self.cpc_units,
        )
        self.text_optimizer = self.estimator_optimizer = None
        self.trackers = {
            n: keras.metrics.Mean(name=n) for n in LOGS + (self.score_name,)
        }

    # --- inputs ------------------------------------------------------------

    def model_inputs(self, inputs):
        """`inputs` restricted to the model's input names."""
        if isinstance(inputs, dict):
            missing = sorted(set(self.input) - set(inputs))
            if missing:
                raise ValueError(
                    f"Missing inputs {missing}; the model takes {sorted(self.input)}."
                )
            return {k: inputs[k] for k in self.input}
        return inputs

    def call(self, inputs, training=None, mask=None):
        if isinstance(mask, dict):
            mask = {k: mask.get(k) for k in self.input}
        return super().call(self.model_inputs(inputs), training=training, mask=mask)

    # --- training ----------------------------------------------------------

    def compile(self, optimizer="adam", **kwargs):
        """Compile with `optimizer` for the main weights, plus two clones.

        `text_optimizer` and `estimator_optimizer` copy `optimizer`'s class and
        settings (clipnorm included) at `text_learning_rate` and
        `estimator_learning_rate`. Loss scaling is off (see the class doc).
        """
        optimizer = keras.optimizers.get(optimizer)
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = optimizer.inner_optimizer
        self.text_optimizer = training.clone_optimizer(
            optimizer, self.text_learning_rate, "text_optimizer"
        )
        self.estimator_optimizer = training.clone_optimizer(
            optimizer, self.estimator_learning_rate, "estimator_optimizer"
        )
        super().compile(optimizer=optimizer, **{**kwargs, "auto_scale_loss": False})
        groups = training.variable_groups(self)
        self.optimizer.build(groups["main"])
        self.text_optimizer.build(groups["text"])
        self.estimator_optimizer.build(groups["estimator"])

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))

    @property
    def optimizers(self):
        """The main, text and estimator optimizers (None before `compile`)."""
        return [self.optimizer, self.text_optimizer, self.estimator_optimizer]

    @property
    def metrics(self):
        return list(self.trackers.values())

    def train_step(self, data):
        return self._track(training.run_stages(self, data))

    def test_step(self, data):
        return self._track(training.evaluate_batch(self, data))

    def train_stage(self, data, stage):
        """Run stage 1 or 2 alone on a batch (for checks); returns its logs."""
        if stage not in training.STAGES:
            raise ValueError(f"`stage` must be 1 or 2. Received stage={stage!r}")
        return training.run_stages(self, data, stages=(stage,))

    def _track(self, logs):
        for key, value in logs.items():
            self.trackers[key].update_state(value)
        return {k: t.result() for k, t in self.trackers.items()}

    # --- config ------------------------------------------------------------

    def default_compile_args(self):
        return {}  # train_step computes the losses and its own metrics

    def get_config(self):
        # Every constructor argument is stored under its own name.
        return copy.deepcopy({k: getattr(self, k) for k in self.constructor_args()})

    @classmethod
    def data_overrides(cls, data):
        overrides = {
            "input_shapes": {
                m: list(data.feature_dims[m])
                for m in checks.SHAPE_KEYS
                if m in data.features
            },
            "num_classes": int(data.num_classes),
        }
        if data.task == "regression":
            overrides["task"] = "regression"
        if "transcript" in data.features:
            overrides["vocabulary"] = text_lib.build_vocabulary(
                data.features["transcript"]
            )
        return overrides
