"""Plots of a fusion comparison: accuracy per model, and robustness.

Both take the summaries of `mmzoo.training.fusion_comparison` and return a
matplotlib `Figure` (nothing is shown or saved here). The backend is left as
it is: inline in a notebook; a script without a display should select `Agg`
(`matplotlib.use("Agg")`) before the first plot.
"""

import numpy as np


def _subplots(figsize):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)


def plot_fusion_accuracy(summary, metric="accuracy", chance=None, ax=None):
    """A dot per model: mean validation metric, with ± std error bars.

    Dots, not bars: the axis is zoomed on the multimodal models, so that small
    differences show (a truncated bar would mislead); a model below the range
    is an arrow at the left edge with its value.

    Args:
        summary: list of dicts from `summarize_runs` (`variant`, `<metric>`,
            `<metric>_std`, `modalities`, `seeds`).
        metric: str. `"accuracy"` or `"f1"`.
        chance: float, optional. Majority-class accuracy, quoted in the label.
        ax: matplotlib Axes, optional.

    Returns:
        The `Figure`.
    """
    if ax is None:
        _, ax = _subplots((7, 0.32 * len(summary) + 1.3))
    y = np.arange(len(summary))
    # Zoom on the fusion models: a model far below them (a weak modality
    # alone) is drawn as an arrow at the left edge, its value written out.
    multimodal = [s for s in summary if len(s["modalities"]) > 1] or summary
    low = min(s[metric] - s[f"{metric}_std"] for s in multimodal)
    left = max(0.0, min(low - 0.01, 1.0 - 0.05))
    for i, s in enumerate(summary):
        unimodal = len(s["modalities"]) == 1
        colour = "tab:gray" if unimodal else "tab:blue"
        if s[metric] < left:
            ax.plot(left, i, marker="<", color=colour, clip_on=False)
            ax.annotate(f"{s[metric]:.3f}", (left, i), xytext=(8, -3),
                        textcoords="offset points", fontsize=8, color=colour)
            continue
        ax.errorbar(
            s[metric], i, xerr=s[f"{metric}_std"], fmt="s" if unimodal else "o",
            color=colour, capsize=3,
        )
    ax.set_xlim(left, 1.0 + 0.1 * (1.0 - left))
    ax.set_yticks(y, [s["variant"] for s in summary])
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    seeds = max(s["seeds"] for s in summary)
    label = f"validation {metric} (mean ± std over {seeds} seeds)"
    if chance is not None:
        label += f"; majority class {chance:.3f}"
    ax.set_xlabel(label)
    ax.set_title("Fusion models (blue) and single modalities (grey squares)")
    ax.figure.tight_layout()
    return ax.figure


def plot_robustness(robust, modalities, ax=None):
    """Heatmap of accuracy with each modality removed, per model.

    Args:
        robust: dict from `summarize_robustness`: variant -> {(how, removed):
            (mean, std)}.
        modalities: list of str. Column order.
        ax: matplotlib Axes, optional.

    Returns:
        The `Figure`.
    """
    columns = [("none", None)] + [
        (how, m) for how in ("mask", "noise") for m in modalities
    ]
    labels = ["full"] + [f"−{m}\n({how})" for how, m in columns[1:]]
    names = list(robust)
    values = np.full((len(names), len(columns)), np.nan)
    for i, name in enumerate(names):
        for j, key in enumerate(columns):
            if key in robust[name]:
                values[i, j] = robust[name][key][0]
    if ax is None:
        _, ax = _subplots((1.0 * len(columns) + 2.5, 0.4 * len(names) + 1.5))
    image = ax.imshow(values, cmap="viridis", vmin=0.4, vmax=1.0, aspect="auto")
    ax.set_xticks(np.arange(len(columns)), labels, fontsize=8)
    ax.set_yticks(np.arange(len(names)), names)
    for i in range(len(names)):
        for j in range(len(columns)):
            if np.isfinite(values[i, j]):
                colour = "w" if values[i, j] < 0.75 else "k"
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center",
                        fontsize=7, color=colour)
    ax.figure.colorbar(image, ax=ax, label="validation accuracy")
    ax.set_title("Accuracy with one modality removed at test time")
    ax.figure.tight_layout()
    return ax.figure
