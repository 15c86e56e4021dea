"""Captioner SavedModel: image bytes -> captions, and features -> captions.

`serving_default` takes a batch of encoded JPEG/PNG images (tf.string, name
`image_bytes`: TF Serving's REST API decodes `{"b64": ...}` into these bytes)
and returns `captions` (tf.string); decoding, resizing and scaling run in the
graph and the vocabulary is baked in. `caption_from_features` takes encoder
features (batch, positions, channels). `teacher_forcing` is the Keras model's
own signature (image pixels and a caption -> logits, attention).

Bad requests are answered in the graph (so by TF Serving too) with an
`InvalidArgumentError` naming the input: an empty batch; bytes that are not a
JPEG or PNG image; an image whose header declares more than `max_image_pixels`
(a decompression bomb: refused from the header, before any pixel is decoded).
At most 4 images of a request are decoded at once, which bounds the memory of
one request to about 4 x 17 bytes x `max_image_pixels`.
"""

import tensorflow as tf

from mmzoo.data.coco import MAX_IMAGE_PIXELS, decode_image
from mmzoo.export.saved_model import assert_non_empty, export_saved_model, input_specs


def serving_functions(
    model,
    method="greedy",
    max_length=None,
    beam_width=3,
    max_image_pixels=MAX_IMAGE_PIXELS,
):
    """`{signature name: tf.function}` for `export_saved_model`."""
    size = model.image_size
    positions, channels = model.feature_shape
    from_images = model.caption_function(method, max_length, beam_width=beam_width)
    from_features = model.caption_function(
        method, max_length, beam_width=beam_width, from_features=True
    )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bytes(image_bytes):
        image_bytes = assert_non_empty({"image_bytes": image_bytes})["image_bytes"]
        images = tf.map_fn(
            lambda b: decode_image(
                b, size, max_image_pixels, what="Input `image_bytes`"
            ),
            image_bytes,
            fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8),
            parallel_iterations=4,
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
        inputs = assert_non_empty({"image_features": image_features})
        out = from_features(inputs["image_features"])
        return {"captions": out["captions"], "tokens": out["tokens"]}

    @tf.function(input_signature=[input_specs(model)])
    def teacher_forcing(inputs):
        return model(assert_non_empty(inputs), training=False)

    return {
        "serving_default": serve_bytes,
        "caption_from_features": serve_features,
        "teacher_forcing": teacher_forcing,
    }


def export_captioner(
    model,
    base_dir,
    version=None,
    method="greedy",
    max_length=None,
    beam_width=3,
    max_image_pixels=MAX_IMAGE_PIXELS,
):
    """Export to `base_dir/<version>/` (TF Serving layout); returns the path."""
    fns = serving_functions(model, method, max_length, beam_width, max_image_pixels)
    serving = fns.pop("serving_default")
    return export_saved_model(
        model, base_dir, version=version, extra_signatures=fns, serving_fn=serving
    )
