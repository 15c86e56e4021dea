"""`AttentionGRUDecoder`: words and image positions -> next-word logits.

Embedding -> GRU (return_sequences, return_state) -> dot-product
`keras.layers.Attention` of the GRU outputs over the projected image positions
-> Add -> LayerNormalization -> Dense(vocabulary), logits in float32.
"""

import warnings

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mmzoo")
class AttentionGRUDecoder(keras.layers.Layer):
    """A GRU caption decoder with dot-product attention over image positions.

    Args:
        vocabulary_size: int. Output classes (padding and `[UNK]` included).
        embedding_dim: int. Word embedding width.
        attention_dim: int. Width of the projected image features and of the
            GRU state (dot-product attention needs both equal).
        dropout: float. Dropout on the embeddings while training.

    Call arguments:
        features: float (batch, positions, channels). Encoder features.
        tokens: int (batch, length). Decoder input ids (start token first).
        training: bool.

    Returns:
        `(logits, attention)`: float32 (batch, length, vocabulary_size) and
        float32 (batch, length, positions) attention weights.
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=256,
        attention_dim=256,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, value in (
            ("vocabulary_size", vocabulary_size),
            ("embedding_dim", embedding_dim),
            ("attention_dim", attention_dim),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(
                    f"`{arg}` must be a positive integer. Received {value!r}"
                )
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.attention_dim = attention_dim
        self.dropout = float(dropout)
        self.project = keras.layers.Dense(
            attention_dim, activation="relu", dtype=self.dtype_policy, name="project"
        )
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, dtype=self.dtype_policy, name="embedding"
        )
        self.embedding_dropout = keras.layers.Dropout(self.dropout)
        self.gru = keras.layers.GRU(
            attention_dim,
            return_sequences=True,
            return_state=True,
            dtype=self.dtype_policy,
            name="gru",
        )
        self.attention = keras.layers.Attention(
            score_mode="dot", dtype=self.dtype_policy, name="attention"
        )
        self.add = keras.layers.Add(dtype=self.dtype_policy, name="add")
        self.norm = keras.layers.LayerNormalization(
            dtype=self.dtype_policy, name="norm"
        )
        self.logits = keras.layers.Dense(
            vocabulary_size, dtype="float32", name="logits"
        )

    def build(self, features_shape, tokens_shape=None):
        channels = features_shape[-1]
        self.project.build((None, None, channels))
        self.embedding.build((None, None))
        self.gru.build((None, None, self.embedding_dim))
        d = self.attention_dim
        self.attention.build([(None, None, d), (None, None, d)])
        # Stateless, but built here: Keras' distributed `fit` builds unbuilt
        # layers symbolically from a data batch, which for the frozen-encoder
        # fit holds `image_features`, not the model's `image` input.
        self.add.build([(None, None, d), (None, None, d)])
        self.norm.build((None, None, d))
        self.logits.build((None, None, d))

    def project_features(self, features):
        """Encoder features -> (batch, positions, attention_dim)."""
        return self.project(features)

    def initial_state(self, batch_size):
        return ops.zeros((batch_size, self.attention_dim), dtype=self.compute_dtype)

    def decode(self, projected, tokens, state, training=False):
        """Run the GRU from `state` over `tokens`: (logits, attention, state)."""
        x = self.embedding(tokens)
        x = self.embedding_dropout(x, training=training)
        sequence, state = self.gru(x, initial_state=state, training=training)
        with warnings.catch_warnings():
            # A grid of one position (a TF-Hub feature vector, or
            # InceptionResNetV2 at 75 px): the softmax over it is 1, as meant.
            warnings.filterwarnings(
                "ignore",
                message="You are using a softmax over axis -1 .* has size 1",
                category=UserWarning,
            )
            context, scores = self.attention(
                [sequence, projected], return_attention_scores=True, training=training
            )
        x = self.norm(self.add([sequence, context]))
        return self.logits(x), ops.cast(scores, "float32"), state

    def step(self, projected, token, state):
        """One word: token (batch,) -> logits (batch, V), new state, attention."""
        logits, scores, state = self.decode(projected, token[:, None], state)
        return logits[:, 0], state, scores[:, 0]

    def call(self, features, tokens, training=False):
        projected = self.project_features(features)
        state = self.initial_state(ops.shape(tokens)[0])
        logits, scores, _ = self.decode(projected, tokens, state, training=training)
        return logits, scores

    def compute_output_spec(self, features, tokens, training=False):
        batch, length = tokens.shape[0], tokens.shape[1]
        return (
            keras.KerasTensor((batch, length, self.vocabulary_size), dtype="float32"),
            keras.KerasTensor((batch, length, features.shape[1]), dtype="float32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "attention_dim": self.attention_dim,
                "dropout": self.dropout,
            }
        )
        return config
