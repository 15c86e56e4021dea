"""Checks that an exported model serves what the Keras model predicts."""

import numpy as np
import tensorflow as tf

from mmzoo.data.coco import decode_image


def assert_captioner_serves(model, loaded, encoded):
    """The SavedModel `loaded` (exported from the captioner `model`) captions
    the encoded images `encoded` (PNG/JPEG bytes) through `serving_default`
    as `model.caption` does on the same decoded pixels, and its
    `caption_from_features` gives the same captions from `model.encode`'s
    features. Returns the served captions as strings."""
    served = loaded.signatures["serving_default"](image_bytes=tf.constant(encoded))
    captions = [c.decode() for c in served["captions"].numpy()]
    images = np.stack([decode_image(b, model.image_size).numpy() for b in encoded])
    assert captions == model.caption(images)
    features = np.asarray(model.encode(images))
    from_features = loaded.signatures["caption_from_features"](
        image_features=tf.constant(features)
    )
    np.testing.assert_array_equal(from_features["captions"], served["captions"])
    return captions
