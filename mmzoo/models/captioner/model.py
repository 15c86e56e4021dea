"""`Captioner`: an attention image captioner (encoder -> GRU decoder)."""

import keras
import numpy as np
from keras import ops

from mmzoo.errors import ConfigError
from mmzoo.models.base import ZooModel
from mmzoo.models.captioner import decoding, training
from mmzoo.models.captioner.decoder import AttentionGRUDecoder
from mmzoo.models.captioner.encoder import (
    build_image_encoder,
    build_pretrained_encoder,
    encoder_identity,
    plain_spec,
    resolve_image_encoder,
    resolve_weights,
)
from mmzoo.models.captioner.tokenizer import CaptionTokenizer, build_vocabulary
from mmzoo.registry import register_model

MAX_VOCABULARY = 5000


@register_model("captioner")
@keras.saving.register_keras_serializable(package="mmzoo")
class Captioner(ZooModel):
    """Image captioning with visual attention ("Show, Attend and Tell" style).

    An image encoder (`keras.applications.InceptionResNetV2(include_top=False)`,
    frozen by default) gives a grid of 1536-d features, flattened to positions
    and projected by Dense(attention_dim, relu). The decoder embeds the previous
    word, runs a GRU, attends (dot product) over the positions with the GRU
    output, adds the context, normalises and predicts the next word.

    Inputs (dict): `image` (batch, S, S, 3) pixels 0..255 and `caption` (batch,)
    strings. Outputs (teacher forcing): `logits` float32 (batch, max_length,
    vocabulary) of the words after `startseq`, and `attention` float32 (batch,
    max_length, positions). Use `caption(images)` to generate text.

    Training minimises `masked_caption_loss`. With a frozen encoder, `fit`
    computes the features of every distinct image once (`FeatureCache`) and
    trains only the decoder; `fine_tune_encoder=True` trains end to end.

    Args:
        vocabulary: list of str. Words (start/end tokens included); built from
            the training captions when the model is built with `data=`.
        image_size: int. Square input side (>= 75 for InceptionResNetV2).
        encoder: str or dict. `"inception_resnet_v2"` or `"small_cnn"`
            (tests), or a pretrained encoder spec (see
            `mmzoo.models.captioner.encoder`): `{"hub": HANDLE_OR_PATH,
            "trainable": False, "output_key": None, "signature": None,
            "input_shape": None, "pixel_scale": 1/255, "pixel_offset": 0}`
            (a TF2 SavedModel in the TF-Hub format: a feature vector
            (batch, D) is one position, a map (batch, h, w, C) is h*w
            positions) or `{"keras_hub": "ResNetBackbone", "preset": None,
            "config": {...}, "trainable": False, ...}` (a keras-hub image
            backbone; its feature map is the grid). Pixels (0..255) reach a
            pretrained encoder as `pixels * pixel_scale + pixel_offset`
            (default [0, 1], TF-Hub's convention), resized to the module's
            fixed input size if it has one. The `.keras` file stores the
            handle (a frozen TF-Hub module's weights are not copied: reloading
            loads the handle again, from the TF-Hub cache) or the keras-hub
            architecture and its weights.
        encoder_weights: None (random), `"imagenet"` (from the Keras cache,
            never downloaded) or a weights file path; built-in encoders only.
        fine_tune_encoder: bool. Train the encoder too (a pretrained spec's
            `trainable: true` does the same).
        embedding_dim: int. Word embedding width.
        attention_dim: int. Projected feature width = GRU units.
        max_length: int. Caption tokens (start/end included) in training and
            the default decoding length.
        dropout: float. Embedding dropout.
        feature_cache_dir: str, optional. Keep encoder features on disk there.
        seed: int. Shuffling and sampling seed.
        name: str.

    References:
        Xu et al., "Show, Attend and Tell", ICML 2015 (arXiv:1502.03044);
        Szegedy et al., "Inception-v4, Inception-ResNet...", AAAI 2017.
    """

    prediction_output = "logits"

    def __init__(
        self,
        vocabulary=None,
        image_size=139,
        encoder="inception_resnet_v2",
        encoder_weights=None,
        fine_tune_encoder=False,
        embedding_dim=256,
        attention_dim=256,
        max_length=20,
        dropout=0.0,
        feature_cache_dir=None,
        seed=0,
        name="captioner",
        **kwargs,
    ):
        load_weights = kwargs.pop("load_encoder_weights", True)
        if not vocabulary:
            raise ConfigError(
                "`vocabulary` is empty: build the captioner with data= (the "
                "vocabulary is adapted on the training captions) or pass a list "
                f"of words. Received vocabulary={vocabulary!r}"
            )
        encoder = resolve_image_encoder(encoder)
        if isinstance(encoder, dict):
            if encoder_weights is not None:
                raise ConfigError(
                    "`encoder_weights` is for the built-in encoders; a TF-Hub or "
                    "keras-hub encoder brings its own weights. Received "
                    f"encoder_weights={encoder_weights!r}"
                )
            # Trainable by the spec or by fine_tune_encoder (end-to-end fit).
            fine_tune_encoder = bool(fine_tune_encoder or encoder["trainable"])
            encoder["trainable"] = fine_tune_encoder
            weights_file = None
        else:
            weights_file = (
                resolve_weights(encoder, encoder_weights) if load_weights else None
            )

        # === Layers ===
        tokenizer = CaptionTokenizer(vocabulary, max_length, name="tokenizer")
        if isinstance(encoder, dict):
            image_encoder = build_pretrained_encoder(
                encoder, image_size, fine_tune_encoder
            )
        else:
            image_encoder = build_image_encoder(encoder, image_size, weights_file)
        image_encoder.trainable = bool(fine_tune_encoder)
        decoder = AttentionGRUDecoder(
            tokenizer.vocabulary_size,
            embedding_dim,
            attention_dim,
            dropout,
            name="decoder",
        )

        # === Functional model ===
        inputs = {
            "image": keras.Input((image_size, image_size, 3), name="image"),
            "caption": keras.Input((), dtype="string", name="caption"),
        }
        tokens = tokenizer(inputs["caption"])
        features = image_encoder(inputs["image"])
        logits, attention = decoder(features, tokens[:, :-1])
        outputs = {
            "logits": keras.layers.Identity(dtype="float32", name="logits")(logits),
            "attention": keras.layers.Identity(dtype="float32", name="attention")(
                attention
            ),
        }
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.vocabulary = list(tokenizer.vocabulary)
        self.image_size = image_size
        # A built-in encoder's name, else "hub" / "keras_hub"; the spec (dict)
        # or name is `self.encoder` in the config.
        self.encoder_spec = encoder
        self.encoder_name = (
            encoder
            if isinstance(encoder, str)
            else ("hub" if "hub" in encoder else "keras_hub")
        )
        self.encoder_weights = encoder_weights
        self.fine_tune_encoder = bool(fine_tune_encoder)
        self.embedding_dim = embedding_dim
        self.attention_dim = attention_dim
        self.max_length = max_length
        self.dropout = dropout
        self.feature_cache_dir = feature_cache_dir
        self.seed = seed

        # === State ===
        self.tokenizer, self.image_encoder, self.decoder = (
            tokenizer,
            image_encoder,
            decoder,
        )
        self.feature_cache = training.FeatureCache(feature_cache_dir)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self._caption_fns = _FunctionCache()  # not tracked: never saved

    # --- training (see training.py) -----------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker]

    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        if not self.fine_tune_encoder:
            x = training.cached_feature_dataset(self, x)  # keeps its order
            if validation_data is not None:
                validation_data = training.cached_feature_dataset(self, validation_data)
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def train_step(self, data):
        return training.train_step(self, data)

    def test_step(self, data):
        return training.test_step(self, data)

    @property
    def encoder_identity(self):
        """The encoder's name or spec and input size, hashed (feature-cache
        keys: a TF-Hub handle, keras-hub class/config, pixel scaling...)."""
        return encoder_identity(self.encoder_spec, self.image_size)

    @property
    def feature_shape(self):
        """(positions, channels) of the encoder features (positions may be
        None for a module whose output size is not static)."""
        shape = self.image_encoder.output.shape
        return shape[1], shape[2]

    def encode(self, images, training=False):
        return self.image_encoder(images, training=training)

    def caption_loss(self, x, training=False):
        """Masked cross-entropy of teacher-forced next-word logits."""
        total, count = self.caption_loss_terms(x, training)
        return total / ops.maximum(count, 1.0)

    def caption_loss_terms(self, x, training=False):
        """`(summed cross-entropy over real tokens, their count)` of a batch
        (`image` or precomputed `image_features`, and `caption`)."""
        return training_loss_terms(self, x, training)

    # --- generation ---------------------------------------------------------

    def caption(
        self,
        images,
        method="greedy",
        max_length=None,
        k=5,
        beam_width=3,
        seed=None,
        batch_size=32,
        return_attention=False,
    ):
        """Captions (list of str) of images (n, S, S, 3) in 0..255.

        `method`: `"greedy"`, `"top_k"` (sample among the `k` best words) or
        `"beam"` (beam search of width `beam_width`). With
        `return_attention=True`, also returns attention (n, max_length,
        positions) and the generated word lists.
        """
        return self._generate(
            images,
            False,
            method,
            max_length,
            k,
            beam_width,
            seed,
            batch_size,
            return_attention,
        )

    def caption_from_features(
        self,
        features,
        method="greedy",
        max_length=None,
        k=5,
        beam_width=3,
        seed=None,
        batch_size=32,
        return_attention=False,
    ):
        """Like `caption`, from encoder features (n, positions, channels)."""
        return self._generate(
            features,
            True,
            method,
            max_length,
            k,
            beam_width,
            seed,
            batch_size,
            return_attention,
        )

    def _generate(
        self,
        inputs,
        from_features,
        method,
        max_length,
        k,
        beam_width,
        seed,
        batch_size,
        return_attention,
    ):
        fn = self.caption_function(
            method,
            max_length or self.max_length,
            k,
            beam_width,
            self.seed if seed is None else seed,
            from_features,
        )
        captions, attention = [], []
        for start in range(0, len(inputs), batch_size):
            out = fn(
                ops.convert_to_tensor(np.asarray(inputs[start : start + batch_size]))
            )
            captions += [c.decode("utf-8") for c in out["captions"].numpy()]
            attention.append(out["attention"].numpy())
        if not return_attention:
            return captions
        return captions, np.concatenate(attention), [c.split() for c in captions]

    def caption_function(
        self,
        method="greedy",
        max_length=None,
        k=5,
        beam_width=3,
        seed=0,
        from_features=False,
    ):
        """A `tf.function`: images (or features) -> captions, tokens, attention."""
        import tensorflow as tf  # one graph around encoder, loop and strings

        max_length = max_length or self.max_length
        key = (method, max_length, k, beam_width, seed, from_features)
        if key not in self._caption_fns.functions:
            if method not in decoding.METHODS:
                raise ValueError(
                    f"`method` must be one of {decoding.METHODS}. Received {method!r}"
                )

            @tf.function(reduce_retracing=True)
            def run(inputs):
                features = inputs if from_features else self.encode(inputs)
                projected = self.decoder.project_features(features)
                tokens, attention = decoding.decode(
                    self.decoder,
                    projected,
                    self.tokenizer.start_id,
                    self.tokenizer.end_id,
                    method,
                    max_length,
                    k,
                    beam_width,
                    seed,
                )
                return {
                    "captions": self.tokenizer.detokenize(tokens),
                    "tokens": tokens,
                    "attention": attention,
                }

            self._caption_fns.functions[key] = run
        return self._caption_fns.functions[key]

    # --- evaluation and export ----------------------------------------------

    def evaluation_report(self, data, method="greedy", beam_width=3, batch_size=32):
        """BLEU-1..4 and CIDEr of generated captions on `data` (JSON-able dict)."""
        from mmzoo.models.captioner.evaluation import evaluation_report

        return evaluation_report(self, data, method, beam_width, batch_size)

    def export_for_serving(
        self, base_dir, version=None, method="greedy", max_length=None, beam_width=3
    ):
        """SavedModel: `serving_default` encoded image bytes -> captions."""
        from mmzoo.models.captioner.export import export_captioner

        return export_captioner(self, base_dir, version, method, max_length, beam_width)

    # --- config -------------------------------------------------------------

    def default_compile_args(self):
        return {}  # train_step computes the masked caption loss

    def get_config(self):
        return {
            "vocabulary": list(self.vocabulary),
            "image_size": self.image_size,
            "encoder": plain_spec(self.encoder_spec),
            "encoder_weights": self.encoder_weights,
            "fine_tune_encoder": self.fine_tune_encoder,
            "embedding_dim": self.embedding_dim,
            "attention_dim": self.attention_dim,
            "max_length": self.max_length,
            "dropout": self.dropout,
            "feature_cache_dir": self.feature_cache_dir,
            "seed": self.seed,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        # Saved weights replace the encoder's: do not need its weights file.
        return cls(**config, load_encoder_weights=False)

    @classmethod
    def data_overrides(cls, data):
        return {
            "vocabulary": build_vocabulary(data.features["caption"], MAX_VOCABULARY),
            "image_size": int(data.features["image"].shape[1]),
        }


class _FunctionCache:
    """Traced caption functions by options (a plain object: not checkpointed)."""

    def __init__(self):
        self.functions = {}


def training_loss_terms(model, x, training):
    from mmzoo.models.captioner.loss import masked_caption_loss_terms

    tokens = model.tokenizer(x["caption"])
    if "image_features" in x:
        features = x["image_features"]
    else:
        features = model.encode(x["image"], training=False)
    logits, _ = model.decoder(features, tokens[:, :-1], training=training)
    return masked_caption_loss_terms(tokens[:, 1:], logits)
