"""SavedModel export, serving signatures, TF Serving layout and payloads."""

from mmzoo.export.payloads import decode_predict_request, encode_predict_response
from mmzoo.export.predictor import Predictor, load_keras_model, load_predictor
from mmzoo.export.saved_model import (
    export_saved_model,
    input_specs,
    load_serving_signature,
    next_version,
)

__all__ = [
    "Predictor",
    "decode_predict_request",
    "encode_predict_response",
    "export_saved_model",
    "input_specs",
    "load_keras_model",
    "load_predictor",
    "load_serving_signature",
    "next_version",
]
