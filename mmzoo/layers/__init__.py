"""Keras layers for multimodal fusion."""

from mmzoo.layers.gated_multimodal_unit import GatedMultimodalUnit

__all__ = ["GatedMultimodalUnit"]
