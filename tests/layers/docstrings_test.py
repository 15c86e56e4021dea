"""Run the `Example:` doctests of the fusion layer modules."""

import doctest
import importlib

import pytest

MODULES = [
    "additive_fusion",
    "bilinear_fusion",
    "concat_fusion",
    "cross_modal_transformer_fusion",
    "gated_attention_fusion",
    "gated_multimodal_unit",
    "hybrid_fusion",
    "late_fusion",
    "low_rank_fusion",
    "modality_dropout",
    "modality_shifting_fusion",
    "multiplicative_fusion",
    "polynomial_fusion",
    "tensor_fusion",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module):
    mod = importlib.import_module(f"mmzoo.layers.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module} has no doctest example"
    assert result.failed == 0
