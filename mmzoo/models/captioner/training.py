"""Captioner training: a features cache for the frozen encoder, the train step."""

import numpy as np

from mmzoo.models.captioner.feature_cache import FeatureCache, image_digest

__all__ = ["FeatureCache", "cached_feature_dataset", "train_step"]


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
        model.image_encoder, images[[first[d] for d in unique]], digests=unique
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


def train_step(model, data):
    import tensorflow as tf  # the TF backend's GradientTape: the project trains on TF

    x = data[0]
    with tf.GradientTape() as tape:
        loss = model.caption_loss(x, training=True)
        scaled = model.optimizer.scale_loss(loss)
    variables = model.trainable_variables
    grads = tape.gradient(scaled, variables)
    model.optimizer.apply(grads, variables)
    model.loss_tracker.update_state(loss)
    return {"loss": model.loss_tracker.result()}
