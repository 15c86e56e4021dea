"""Losses for multimodal learning (pure `keras.ops` functions and Loss wrappers)."""

__all__ = []
