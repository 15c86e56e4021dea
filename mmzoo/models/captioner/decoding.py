"""Batched caption decoding in one graph: greedy, top-k sampling, beam search.

Each method is a `tf.while_loop` over positions (TF ops: the loop, its
fixed-shape state and the early exit once every sequence has produced the end
token). After its end token a sequence emits padding (id 0). All functions take
the projected image features and return `(tokens, attention)`: int32
(batch, max_length) and float32 (batch, max_length, positions).
"""

import tensorflow as tf

from mmzoo.models.captioner.tokenizer import PAD_ID

METHODS = ("greedy", "top_k", "beam")
_NEG = -1e9


def _write(buffer, t, values):
    """buffer[:, t] = values, for buffers (batch, length, ...) of fixed shape."""
    length = tf.shape(buffer)[1]
    onehot = tf.one_hot(t, length, dtype=buffer.dtype)
    onehot = tf.reshape(onehot, [1, -1] + [1] * (len(buffer.shape) - 2))
    return buffer + onehot * tf.expand_dims(tf.cast(values, buffer.dtype), 1)


def sample_decode(
    decoder, projected, start_id, end_id, max_length, k=0, seed=0, temperature=1.0
):
    """Greedy (`k=0`) or top-k sampling (`k>0`, seeded, stateless)."""
    batch = tf.shape(projected)[0]
    positions = tf.shape(projected)[1]
    tokens = tf.zeros([batch, max_length], "int32")
    attention = tf.zeros([batch, max_length, positions], "float32")
    token = tf.fill([batch], tf.constant(start_id, "int32"))
    state = decoder.initial_state(batch)
    finished = tf.zeros([batch], "bool")

    def cond(t, token, state, finished, tokens, attention):
        return (t < max_length) & ~tf.reduce_all(finished)

    def body(t, token, state, finished, tokens, attention):
        logits, state, scores = decoder.step(projected, token, state)
        if k:
            top, index = tf.math.top_k(logits / temperature, k=k)
            pick = tf.random.stateless_categorical(
                top, 1, seed=tf.stack([tf.constant(seed, "int32"), t]), dtype="int32"
            )
            nxt = tf.gather(index, pick, batch_dims=1)[:, 0]
        else:
            nxt = tf.argmax(logits, axis=-1, output_type="int32")
        nxt = tf.where(finished, PAD_ID, nxt)
        scores = tf.where(finished[:, None], 0.0, scores)
        tokens = _write(tokens, t, nxt)
        attention = _write(attention, t, scores)
        return t + 1, nxt, state, finished | (nxt == end_id), tokens, attention

    loop = tf.while_loop(
        cond,
        body,
        (tf.constant(0), token, state, finished, tokens, attention),
        maximum_iterations=max_length,
    )
    return loop[4], loop[5]


def beam_decode(decoder, projected, start_id, end_id, max_length, beam_width=3):
    """Beam search; returns the highest-scoring beam (sum of log-probabilities)."""
    batch = tf.shape(projected)[0]
    positions = tf.shape(projected)[1]
    flat = batch * beam_width
    projected = tf.repeat(projected, beam_width, axis=0)
    tokens = tf.zeros([flat, max_length], "int32")
    attention = tf.zeros([flat, max_length, positions], "float32")
    token = tf.fill([flat], tf.constant(start_id, "int32"))
    state = decoder.initial_state(flat)
    finished = tf.zeros([flat], "bool")
    first = tf.concat([[0.0], tf.fill([beam_width - 1], _NEG)], axis=0)
    beam_scores = tf.tile(first[None], [batch, 1])
    offsets = tf.repeat(tf.range(batch) * beam_width, beam_width)

    def cond(t, token, state, finished, tokens, attention, beam_scores):
        return (t < max_length) & ~tf.reduce_all(finished)

    def body(t, token, state, finished, tokens, attention, beam_scores):
        logits, state, scores = decoder.step(projected, token, state)
        logp = tf.nn.log_softmax(tf.cast(logits, "float32"), axis=-1)
        vocab = tf.shape(logp)[1]
        # A finished beam continues with padding only, at no cost.
        done_row = tf.where(tf.range(vocab) == PAD_ID, 0.0, _NEG)
        logp = tf.where(finished[:, None], done_row[None], logp)
        total = beam_scores[:, :, None] + tf.reshape(logp, [batch, beam_width, vocab])
        beam_scores, index = tf.math.top_k(
            tf.reshape(total, [batch, beam_width * vocab]), k=beam_width
        )
        source = offsets + tf.reshape(index // vocab, [-1])
        nxt = tf.reshape(index % vocab, [-1])
        state = tf.gather(state, source)
        was_finished = tf.gather(finished, source)
        tokens = _write(tf.gather(tokens, source), t, nxt)
        scores = tf.where(was_finished[:, None], 0.0, tf.gather(scores, source))
        attention = _write(tf.gather(attention, source), t, scores)
        finished = was_finished | (nxt == end_id)
        return t + 1, nxt, state, finished, tokens, attention, beam_scores

    loop = tf.while_loop(
        cond,
        body,
        (tf.constant(0), token, state, finished, tokens, attention, beam_scores),
        maximum_iterations=max_length,
    )
    # top_k sorts the beams: beam 0 of every image is the best one.
    best = tf.range(batch) * beam_width
    return tf.gather(loop[4], best), tf.gather(loop[5], best)


def decode(
    decoder,
    projected,
    start_id,
    end_id,
    method="greedy",
    max_length=20,
    k=5,
    beam_width=3,
    seed=0,
    temperature=1.0,
):
    """Dispatch to greedy / top-k / beam decoding (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}. Received {method!r}")
    if method == "beam":
        if not isinstance(beam_width, int) or beam_width < 1:
            raise ValueError(f"`beam_width` must be >= 1. Received {beam_width!r}")
        return beam_decode(decoder, projected, start_id, end_id, max_length, beam_width)
    if method == "top_k":
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"`k` must be a positive integer. Received k={k!r}")
        return sample_decode(
            decoder, projected, start_id, end_id, max_length, k, seed, temperature
        )
    return sample_decode(decoder, projected, start_id, end_id, max_length)
