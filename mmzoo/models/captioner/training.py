"""Captioner training: a features cache for the frozen encoder, the train step.

Under a `tf.distribute` strategy (`--strategy mirrored|multi_worker`) the
frozen-encoder `fit` still computes each image's features once, before
`fit`, and distributes batches of (`image_features`, `caption`) to train the
decoder. Two things make that work and exact:

- every layer is built at construction (the tokenizer's StringLookup, the
  decoder's Add), so Keras' distributed pre-build does not call the model on
  `image_features`; its reduce of the first batch with
  `strategy.reduce("MEAN")`, which fails on the caption strings, is replaced
  by `mmzoo.training.upstream_fixes` (applied by `make_strategy`);
- `global_mean_loss` divides each replica's summed token loss by the real-token
  count of the whole global batch, so N replicas train to the weights of one
  device on the same global batches (1e-5; `tests/training/distribute_test.py`).
"""

import numpy as np

from mmzoo.models.captioner.feature_cache import FeatureCache, image_digest

__all__ = [
    "FeatureCache",
    "cached_feature_dataset",
    "global_mean_loss",
    "test_step",
    "train_step",
]


def cached_feature_dataset(model, dataset, shuffle=False):
    """`dataset` of ({image, caption}, caption) batches -> the same examples
    with `image_features` instead of `image`, each distinct image encoded once.

    Other inputs (arrays, dicts) are returned unchanged. The examples are read
    once into memory (one per (image, caption) pair); features are looked up by
    index, so epochs run the decoder only. Batch size is that of the input.
    """
    import tensorflow as tf  # tf.data pipeline

    if not isinstance(dataset, tf.data.Dataset):
        return dataset
    images, captions, batch_size = [], [], None
    for x, _ in dataset.as_numpy_iterator():
        if "image" not in x:
            return dataset  # already features
        batch_size = batch_size or len(x["caption"])
        images.append(x["image"])
        captions.append(x["caption"])
    images = np.concatenate(images)
    captions = np.concatenate(captions)
    digests = [image_digest(im) for im in images]
    first = {}
    for i, d in enumerate(digests):
        first.setdefault(d, i)
    unique = list(first)
    table = model.feature_cache.features(
        model.image_encoder,
        images[[first[d] for d in unique]],
        digests=unique,
        identity=model.encoder_identity,
    )
    row = {d: r for r, d in enumerate(unique)}
    index = np.asarray([row[d] for d in digests], "int32")
    table = tf.constant(table)
    ds = tf.data.Dataset.from_tensor_slices((index, captions))
    if shuffle:
        ds = ds.shuffle(len(index), seed=model.seed, reshuffle_each_iteration=True)

    def to_example(i, caption):
        return {"image_features": tf.gather(table, i), "caption": caption}, caption

    return ds.batch(batch_size).map(to_example).prefetch(tf.data.AUTOTUNE)


def global_mean_loss(total, count):
    """`(loss to differentiate, loss to report)` of a replica's masked sums.

    Under a multi-replica `tf.distribute` strategy each replica holds a share
    of the global batch, and the optimizer sums the replicas' gradients. Each
    replica divides its own sum by the real-token count of the whole global
    batch (an all-reduce): the summed gradient is then that of the global
    batch's masked mean, whatever the caption lengths on each replica, so N
    replicas train exactly like one device on the same global batches. The
    reported loss is the global mean itself (the same on every replica).
    Outside a multi-replica context both are the batch's masked mean.
    """
    import tensorflow as tf  # replica context: the project trains on TF

    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        loss = total / tf.maximum(count, 1.0)
        return loss, loss
    count = tf.maximum(ctx.all_reduce("SUM", tf.stop_gradient(count)), 1.0)
    reported = ctx.all_reduce("SUM", tf.stop_gradient(total)) / count
    return total / count, reported


def train_step(model, data):
    import tensorflow as tf  # the TF backend's GradientTape: the project trains on TF

    x = data[0]
    with tf.GradientTape() as tape:
        loss, reported = global_mean_loss(*model.caption_loss_terms(x, training=True))
        scaled = model.optimizer.scale_loss(loss)
    variables = model.trainable_variables
    grads = tape.gradient(scaled, variables)
    model.optimizer.apply(grads, variables)
    model.loss_tracker.update_state(reported)
    return {"loss": model.loss_tracker.result()}


def test_step(model, data):
    _, reported = global_mean_loss(*model.caption_loss_terms(data[0], training=False))
    model.loss_tracker.update_state(reported)
    return {"loss": model.loss_tracker.result()}
