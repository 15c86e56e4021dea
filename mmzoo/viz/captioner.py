"""Attention maps of a generated caption: one panel per word."""

import math

import matplotlib.pyplot as plt
import numpy as np


def plot_caption_attention(image, words, attention, max_words=12, title=None):
    """Overlay each word's attention over the image positions.

    Args:
        image: (S, S, 3) pixels 0..255.
        words: list of str. The generated words (end token excluded).
        attention: (length, positions) weights; positions form a square grid.
        max_words: int. Panels at most.
        title: str, optional.

    Returns:
        The matplotlib figure: one panel per word (at most `max_words`), each
        the image with the word's (side, side) attention grid over it.
    """
    attention = np.asarray(attention, dtype="float32")
    side = int(round(math.sqrt(attention.shape[-1])))
    if side * side != attention.shape[-1]:
        raise ValueError(
            f"`attention` positions must form a square grid. Received "
            f"{attention.shape[-1]} positions"
        )
    words = list(words)[:max_words] or ["(empty)"]
    cols = min(4, len(words))
    rows = -(-len(words) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    size = image.shape[0]
    for ax in axes.flat:
        ax.axis("off")
    for i, word in enumerate(words):
        ax = axes.flat[i]
        grid = (
            attention[i].reshape(side, side)
            if i < len(attention)
            else np.zeros((side, side))
        )
        ax.imshow(np.asarray(image).astype("uint8"))
        ax.imshow(  # the (side, side) grid stretched over the image
            grid,
            cmap="gray",
            alpha=0.6,
            interpolation="nearest",
            extent=(0, size, size, 0),
        )
        ax.set_title(word)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
