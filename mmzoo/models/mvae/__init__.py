"""The Multimodal VAE (Wu and Goodman, NeurIPS 2018)."""

from mmzoo.models.mvae.model import MVAE

__all__ = ["MVAE"]
