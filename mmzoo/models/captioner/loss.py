"""The caption loss: cross-entropy over real tokens only."""

from keras import ops

from mmzoo.models.captioner.tokenizer import PAD_ID


def masked_caption_loss(targets, logits):
    """Sparse cross-entropy summed over non-padding targets, divided by their count.

    Every real token of the batch weighs the same, whatever the caption lengths
    (the seed notebook sliced the loss by the total token count instead).

    Args:
        targets: int (batch, length). Target ids; `PAD_ID` (0) is padding.
        logits: float (batch, length, vocabulary_size). Unnormalised scores.

    Returns:
        A float32 scalar (0 when the batch has no real token).
    """
    total, count = masked_caption_loss_terms(targets, logits)
    return total / ops.maximum(count, 1.0)


def masked_caption_loss_terms(targets, logits):
    """`(sum of the cross-entropy over real tokens, their count)`, float32.

    The distributed train step divides each replica's sum by the count of the
    whole global batch (see `mmzoo.models.captioner.training`).
    """
    logits = ops.cast(logits, "float32")
    per_token = ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    mask = ops.cast(ops.not_equal(targets, PAD_ID), "float32")
    return ops.sum(per_token * mask), ops.sum(mask)
