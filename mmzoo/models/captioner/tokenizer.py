"""`CaptionTokenizer`: caption strings -> token ids, with start and end tokens.

Captions are lower-cased, punctuation is replaced by spaces, and the words are
wrapped in `startseq ... endseq` (plain words: the standardisation never strips
them, unlike `[start]`, and no custom standardize callable has to be serialised).
A `keras.layers.TextVectorization` with a fixed vocabulary maps words to ids:
0 is padding, 1 is `[UNK]`. The vocabulary is a constructor argument, so it is
in `get_config` and a `.keras` file round-trips in safe mode.
"""

import keras

START_TOKEN = "startseq"
END_TOKEN = "endseq"
PAD_ID = 0
OOV_ID = 1
_PUNCTUATION = r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]"


def standardize(captions):
    """Lower-case and strip punctuation of a tf.string tensor (TF op: strings)."""
    import tensorflow as tf

    captions = tf.strings.lower(captions)
    captions = tf.strings.regex_replace(captions, _PUNCTUATION, " ")
    return tf.strings.strip(tf.strings.regex_replace(captions, r"\s+", " "))


def caption_words(caption):
    """Python twin of `standardize` + split, for BLEU references."""
    import re

    text = re.sub(_PUNCTUATION, " ", str(caption).lower())
    return text.split()


def build_vocabulary(captions, max_tokens=5000):
    """The `max_tokens - 2` most frequent words of `captions` (adapted with
    `TextVectorization`), start and end tokens included."""
    import tensorflow as tf

    if max_tokens < 5:
        raise ValueError(f"`max_tokens` must be >= 5. Received max_tokens={max_tokens}")
    texts = tf.strings.join(
        [START_TOKEN, standardize(tf.constant(list(captions))), END_TOKEN],
        separator=" ",
    )
    layer = keras.layers.TextVectorization(max_tokens=max_tokens, standardize=None)
    layer.adapt(texts)
    return [str(w) for w in layer.get_vocabulary()[2:]]


@keras.saving.register_keras_serializable(package="mmzoo")
class CaptionTokenizer(keras.layers.Layer):
    """Caption strings (batch,) -> ids (batch, max_length + 1).

    The ids are `startseq w1 ... wn endseq` then padding, cut at
    `max_length + 1` tokens (a cut caption loses its end token).

    Args:
        vocabulary: list of str. Words (without padding and `[UNK]`); must hold
            `startseq` and `endseq`.
        max_length: int. Tokens a decoder input/target holds (start or end
            token included).
    """

    def __init__(self, vocabulary, max_length=20, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        vocabulary = [str(w) for w in vocabulary]
        for token in (START_TOKEN, END_TOKEN):
            if token not in vocabulary:
                raise ValueError(
                    f"`vocabulary` must contain {token!r}. Received "
                    f"{len(vocabulary)} words starting {vocabulary[:5]!r}"
                )
        if not isinstance(max_length, int) or max_length < 2:
            raise ValueError(
                f"`max_length` must be an integer >= 2. Received {max_length!r}"
            )
        self.vocabulary = vocabulary
        self.max_length = max_length
        self.vectorizer = keras.layers.TextVectorization(
            standardize=None,
            vocabulary=vocabulary,
            output_sequence_length=max_length + 1,
            name="vectorizer",
        )
        # TextVectorization runs its StringLookup's `call` directly, so that
        # (stateless) layer is never marked built. Keras' distributed `fit`
        # builds every unbuilt layer symbolically from a data batch, which
        # for the frozen-encoder fit holds `image_features` instead of the
        # model's `image` input, and fails: build it now.
        for layer in self.vectorizer._flatten_layers(include_self=False):
            if not layer.built:
                layer.build(None)
        self.words = ["", "[UNK]"] + vocabulary
        self.start_id = self.words.index(START_TOKEN)
        self.end_id = self.words.index(END_TOKEN)

    @property
    def vocabulary_size(self):
        return len(self.words)

    def call(self, captions):
        import tensorflow as tf  # string ops: tokenisation is TF-only

        texts = tf.strings.join(
            [START_TOKEN, standardize(captions), END_TOKEN], separator=" "
        )
        return tf.cast(self.vectorizer(texts), "int32")

    def detokenize(self, ids):
        """Ids (batch, length) -> strings; stops at the end token (TF graph)."""
        import tensorflow as tf

        ids = tf.cast(ids, "int32")
        ended = tf.cumsum(tf.cast(tf.equal(ids, self.end_id), "int32"), axis=1) > 0
        keep = ~ended & (ids != PAD_ID) & (ids != self.start_id)
        words = tf.gather(tf.constant(self.words), ids)
        words = tf.ragged.boolean_mask(words, keep)
        return tf.strings.reduce_join(words, axis=1, separator=" ")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.max_length + 1,)

    def compute_output_spec(self, captions):
        return keras.KerasTensor(
            tuple(captions.shape) + (self.max_length + 1,), dtype="int32"
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {"vocabulary": list(self.vocabulary), "max_length": self.max_length}
        )
        return config
