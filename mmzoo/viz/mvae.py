"""MVAE plots: reconstructions from every subset, and a latent traversal grid."""

import numpy as np

from mmzoo.models.mvae.subsets import PRESENCE, all_subsets


def _pyplot():
    # No backend is forced: headless runs fall back to Agg by themselves, and a
    # notebook keeps its inline backend so the figures show.
    import matplotlib.pyplot as plt

    return plt


def _show(ax, kind, value, vmin=None, vmax=None):
    value = np.asarray(value)
    if kind == "label" or value.ndim == 1:
        ax.bar(np.arange(value.shape[-1]), value.reshape(-1), color="tab:blue")
        ax.set_ylim(0, 1 if kind == "label" else None)
    elif kind == "image":
        ax.imshow(value, cmap="gray", vmin=0, vmax=1)
    else:  # features, e.g. MFCC (frames, coefficients): time on x
        ax.imshow(value.T, aspect="auto", origin="lower", vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_reconstructions(model, data, index=0, path=None):
    """A grid: the inputs, then every modality reconstructed from each subset.

    Rows: the example's inputs, then one row per non-empty subset of
    modalities (the model sees only that subset). Columns: the modalities.

    Args:
        model: an `MVAE`.
        data: `MultimodalData` with the model's modalities.
        index: int. The example to show.
        path: where to save the PNG; `None` only returns the figure.

    Returns:
        The matplotlib figure.
    """
    plt = _pyplot()
    mods = model.modalities
    sample = {m: data.features[m][index : index + 1] for m in mods}
    subsets = all_subsets(mods)
    fig, axes = plt.subplots(
        len(subsets) + 1, len(mods), figsize=(2.2 * len(mods), 1.6 * len(subsets) + 2)
    )
    axes = np.asarray(axes).reshape(len(subsets) + 1, len(mods))
    ranges = {m: (float(np.min(sample[m])), float(np.max(sample[m]))) for m in mods}
    for j, m in enumerate(mods):
        _show(axes[0, j], model.modality_types[m], sample[m][0], *ranges[m])
        axes[0, j].set_title(m)
    axes[0, 0].set_ylabel("input", rotation=0, ha="right")
    for i, members in enumerate(subsets, start=1):
        mask = np.array([[float(m in members) for m in mods]], "float32")
        out = model({**sample, PRESENCE: mask}, training=False)
        probs = np.asarray(out["probabilities"])[0]
        for j, m in enumerate(mods):
            recon = np.asarray(out[f"reconstruction_{m}"])[0]
            _show(axes[i, j], model.modality_types[m], recon, *ranges[m])
        axes[i, 0].set_ylabel(
            f"{'+'.join(members)}\n-> {int(np.argmax(probs))}",
            rotation=0,
            ha="right",
            fontsize=8,
        )
    fig.suptitle(f"MVAE reconstructions from each subset (label {data.labels[index]})")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        _pyplot().close(fig)
    return fig


def latent_traversal(model, modality, base=None, dims=None, steps=7, span=3.0):
    """Decoded `modality` along each latent dim: array (dims, steps, *shape).

    Each row moves one latent dimension over `[-span, span]` (in prior
    standard deviations) from `base` (default the prior mean, 0), the others
    fixed.
    """
    latent = model.latent_dim
    base = np.zeros(latent, "float32") if base is None else np.asarray(base)
    dims = list(range(min(latent, 8))) if dims is None else list(dims)
    values = np.linspace(-span, span, steps, dtype="float32")
    z = np.repeat(base[None, None].astype("float32"), len(dims), 0)
    z = np.repeat(z, steps, 1)
    for row, d in enumerate(dims):
        z[row, :, d] = values
    decoded = np.asarray(model.decode(z.reshape(-1, latent))[modality])
    return decoded.reshape(len(dims), steps, *decoded.shape[1:])


def plot_latent_traversal(
    model, modality, base=None, dims=None, steps=7, span=3.0, path=None
):
    """Plot `latent_traversal`: rows are latent dims, columns the values."""
    plt = _pyplot()
    grid = latent_traversal(model, modality, base, dims, steps, span)
    dims = list(range(len(grid))) if dims is None else list(dims)
    fig, axes = plt.subplots(len(grid), steps, figsize=(1.3 * steps, 1.3 * len(grid)))
    axes = np.asarray(axes).reshape(len(grid), steps)
    lo, hi = float(grid.min()), float(grid.max())
    for r in range(len(grid)):
        for c in range(steps):
            _show(axes[r, c], model.modality_types[modality], grid[r, c], lo, hi)
        axes[r, 0].set_ylabel(f"z[{dims[r]}]", rotation=0, ha="right")
    fig.suptitle(f"Latent traversal of '{modality}' over [-{span}, {span}]")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        _pyplot().close(fig)
    return fig
