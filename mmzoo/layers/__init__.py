"""Keras layers for multimodal fusion."""

from mmzoo.layers.additive_fusion import AdditiveFusion
from mmzoo.layers.bilinear_fusion import BilinearFusion
from mmzoo.layers.concat_fusion import ConcatFusion
from mmzoo.layers.cross_modal_transformer_fusion import CrossModalTransformerFusion
from mmzoo.layers.gated_attention_fusion import GatedAttentionFusion
from mmzoo.layers.gated_multimodal_unit import GatedMultimodalUnit
from mmzoo.layers.gaussian_sample import GaussianSample
from mmzoo.layers.hybrid_fusion import HybridFusion
from mmzoo.layers.late_fusion import LateFusion
from mmzoo.layers.low_rank_fusion import LowRankFusion
from mmzoo.layers.modality_dropout import ModalityDropout
from mmzoo.layers.modality_shifting_fusion import ModalityShiftingFusion
from mmzoo.layers.multiplicative_fusion import MultiplicativeFusion
from mmzoo.layers.polynomial_fusion import PolynomialFusion
from mmzoo.layers.product_of_experts import ProductOfExperts
from mmzoo.layers.tensor_fusion import TensorFusion

__all__ = [
    "AdditiveFusion",
    "BilinearFusion",
    "ConcatFusion",
    "CrossModalTransformerFusion",
    "GatedAttentionFusion",
    "GatedMultimodalUnit",
    "GaussianSample",
    "HybridFusion",
    "LateFusion",
    "LowRankFusion",
    "ModalityDropout",
    "ModalityShiftingFusion",
    "MultiplicativeFusion",
    "PolynomialFusion",
    "ProductOfExperts",
    "TensorFusion",
]
