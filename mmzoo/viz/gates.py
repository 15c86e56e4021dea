"""Gate maps: what a bimodal GMU trusts over the input plane."""

import numpy as np


def plane_grid(data, resolution=120, margin=1.0):
    """A grid over the 2-D plane of two scalar modalities (sorted names)."""
    names = sorted(data.features)
    if len(names) != 2 or any(data.features[n].shape[1:] != (1,) for n in names):
        raise ValueError(
            "A gate map needs exactly two scalar modalities; got shapes "
            f"{ {n: data.features[n].shape[1:] for n in names} }"
        )
    axes = []
    for n in names:
        v = data.features[n][:, 0]
        axes.append(np.linspace(v.min() - margin, v.max() + margin, resolution))
    xx, yy = np.meshgrid(axes[0], axes[1], indexing="xy")
    grid = {
        names[0]: xx.reshape(-1, 1).astype("float32"),
        names[1]: yy.reshape(-1, 1).astype("float32"),
    }
    return names, xx, yy, grid


def plot_gate_map(
    predict, data, path=None, gate_modality="visual", resolution=120, title="GMU"
):
    """Plot data, the gate of `gate_modality` and the prediction map side by side.

    Args:
        predict: callable `{name: array} -> {"probabilities", "gates"}`
            (a `Predictor` or a model).
        data: `MultimodalData` with two scalar modalities.
        path: where to save the PNG; `None` only returns the figure.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt  # no backend forced: notebooks keep inline

    names, xx, yy, grid = plane_grid(data, resolution)
    out = predict(grid)
    gates = np.asarray(out["gates"])  # (n, modalities, units), sorted names
    z = gates[:, names.index(gate_modality)].mean(axis=-1).reshape(xx.shape)
    p = np.asarray(out["probabilities"])[:, 1].reshape(xx.shape)
    x0, x1 = data.features[names[0]][:, 0], data.features[names[1]][:, 0]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    axes[0].scatter(x0, x1, c=data.labels, cmap="coolwarm", s=6, alpha=0.6)
    axes[0].set_title("data (colour = class)")
    im = axes[1].contourf(xx, yy, z, levels=20, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[1])
    axes[1].set_title(f"{title}: gate z of '{gate_modality}' (mean over units)")
    im = axes[2].contourf(xx, yy, p, levels=20, cmap="coolwarm", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[2])
    axes[2].scatter(
        x0, x1, c=data.labels, cmap="coolwarm", s=2, alpha=0.3, edgecolors="none"
    )
    axes[2].set_title(f"{title}: P(class 1)")
    for ax in axes:
        ax.set_xlabel(f"{names[0]} (centred)")
        ax.set_ylabel(f"{names[1]} (centred)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
        plt.close(fig)
    return fig
