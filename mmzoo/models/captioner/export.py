"""Captioner SavedModel: image bytes -> captions, and features -> captions.

`serving_default` takes a batch of encoded JPEG/PNG images (tf.string, name
`image_bytes`: TF Serving's REST API decodes `{"b64": ...}` into these bytes)
and returns `captions` (tf.string); decoding, resizing and scaling run in the
graph and the vocabulary is baked in. `caption_from_features` takes encoder
features (batch, positions, channels). `teacher_forcing` is the Keras model's
own signature (image pixels and a caption -> logits, attention).
"""

import tensorflow as tf

from mmzoo.data.coco import decode_image
from mmzoo.export.saved_model import export_saved_model, input_specs
from mmzoo.models.captioner.encoder import feature_channels, grid_size


def serving_functions(model, method="greedy", max_length=None, beam_width=3):
    """`{signature name: tf.function}` for `export_saved_model`."""
    size = model.image_size
    positions = grid_size(model.encoder_name, size) ** 2
    channels = feature_channels(model.encoder_name)
    from_images = model.caption_function(method, max_length, beam_width=beam_width)
    from_features = model.caption_function(
        method, max_length, beam_width=beam_width, from_features=True
    )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bytes(image_bytes):
        images = tf.map_fn(
            lambda b: decode_image(b, size),
            image_bytes,
            fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8),
        )
        out = from_images(tf.cast(images, "float32"))
        return {"captions": out["captions"], "tokens": out["tokens"]}

    @tf.function(
        input_signature=[
            tf.TensorSpec(
                [None, positions, channels], tf.float32, name="image_features"
            )
        ]
    )
    def serve_features(image_features):
        out = from_features(image_features)
        return {"captions": out["captions"], "tokens": out["tokens"]}

    @tf.function(input_signature=[input_specs(model)])
    def teacher_forcing(inputs):
        return model(inputs, training=False)

    return {
        "serving_default": serve_bytes,
        "caption_from_features": serve_features,
        "teacher_forcing": teacher_forcing,
    }


def export_captioner(
    model, base_dir, version=None, method="greedy", max_length=None, beam_width=3
):
    """Export to `base_dir/<version>/` (TF Serving layout); returns the path."""
    fns = serving_functions(model, method, max_length, beam_width)
    serving = fns.pop("serving_default")
    return export_saved_model(
        model, base_dir, version=version, extra_signatures=fns, serving_fn=serving
    )
