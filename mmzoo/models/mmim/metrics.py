"""Sentiment metrics of MMIM in NumPy: regression scores and binary labels.

`regression_metrics` follows the reference's `eval_mosei_senti`
(src/utils/eval_metrics.py of declare-lab/Multimodal-Infomax): MAE, Pearson
correlation, Acc-7 (scores clipped to [-3, 3] and rounded, NumPy's
round-half-to-even as in the reference) and Acc-2 / F1 under the conventions
papers report, F1 being sklearn's `average="weighted"` F1 of the two classes:

- `nonneg`: negative (< 0) vs non-negative (>= 0): zero labels count with the
  positives (the reference's "has0", the left number of MMIM's "Acc-2").
- `non0`: negative vs positive with zero labels left out (the reference's
  "non0", the right number).
- `zero_negative`: positive (> 0) vs non-positive (<= 0): zero labels count
  with the negatives.
"""

import numpy as np


def _weighted_f1(pred, truth):
    """sklearn's `f1_score(truth, pred, average="weighted")` for 0/1 arrays."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if truth.size == 0:
        return float("nan")
    total = 0.0
    for cls in (False, True):
        support = np.sum(truth == cls)
        tp = np.sum((pred == cls) & (truth == cls))
        denominator = np.sum(pred == cls) + support
        f1 = 2.0 * tp / denominator if denominator else 0.0
        total += support * f1
    return float(total / truth.size)


def _positive_f1(pred, truth):
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    tp = np.sum(pred & truth)
    denominator = np.sum(pred) + np.sum(truth)
    return float(2.0 * tp / denominator) if denominator else 0.0


def _accuracy(pred, truth):
    return float(np.mean(pred == truth)) if len(truth) else float("nan")


def _pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / denominator) if denominator > 0 else float("nan")


def regression_metrics(predictions, labels):
    """MAE, Corr, Acc-7 and Acc-2 / F1 of sentiment scores.

    Args:
        predictions: (n,) or (n, 1) predicted scores.
        labels: (n,) true scores (e.g. in [-3, 3]).

    Returns:
        dict of floats: `mae`, `corr` (NaN when either side is constant),
        `acc7`, and `acc2_<c>`, `f1_<c>` for c in `nonneg`, `non0`,
        `zero_negative` (see the module docstring; NaN when a convention
        leaves no sample), and `num_samples`.

    Example:

    >>> m = regression_metrics([1.4, -0.4, 0.6, 2.6], [1.0, 0.0, -0.5, 3.0])
    >>> [round(m[k], 4) for k in ("mae", "acc7", "acc2_nonneg", "acc2_non0")]
    [0.575, 0.75, 0.5, 0.6667]
    """
    p = np.asarray(predictions, "float64").reshape(-1)
    t = np.asarray(labels, "float64").reshape(-1)
    if p.shape != t.shape:
        raise ValueError(
            f"`predictions` and `labels` must have the same length. Received "
            f"{p.shape[0]} predictions and {t.shape[0]} labels."
        )
    non0 = t != 0
    groups = {
        "nonneg": (p >= 0, t >= 0),
        "non0": (p[non0] > 0, t[non0] > 0),
        "zero_negative": (p > 0, t > 0),
    }
    out = {
        "mae": float(np.mean(np.abs(p - t))) if len(t) else float("nan"),
        "corr": _pearson(p, t),
        "acc7": _accuracy(np.round(np.clip(p, -3, 3)), np.round(np.clip(t, -3, 3))),
    }
    for name, (pred, truth) in groups.items():
        out[f"acc2_{name}"] = _accuracy(pred, truth)
        out[f"f1_{name}"] = _weighted_f1(pred, truth)
    out["num_samples"] = int(len(t))
    return out


def binary_metrics(probabilities, labels):
    """Accuracy and F1 of binary predictions (MOSI's 0/1 labels).

    Args:
        probabilities: (n, 2) class probabilities, or (n,) / (n, 1)
            probabilities of class 1 (thresholded at 0.5).
        labels: (n,) 0/1 labels.

    Returns:
        dict: `accuracy`, `f1` (of class 1, as
        `mmzoo.training.metrics.classification_metrics`), `f1_weighted` (the
        reference's sklearn `average="weighted"`) and `num_samples`.

    Example:

    >>> m = binary_metrics([[0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], [1, 1, 0])
    >>> [round(m[k], 4) for k in ("accuracy", "f1", "f1_weighted")]
    [0.3333, 0.5, 0.3333]
    """
    p = np.asarray(probabilities, "float64")
    y = np.asarray(labels).reshape(-1).astype(bool)
    pred = (
        np.argmax(p, -1) == 1
        if p.ndim == 2 and p.shape[-1] == 2
        else (p.reshape(-1) >= 0.5)
    )
    if pred.shape != y.shape:
        raise ValueError(
            f"`probabilities` and `labels` must have the same length. Received "
            f"{pred.shape[0]} predictions and {y.shape[0]} labels."
        )
    return {
        "accuracy": _accuracy(pred, y),
        "f1": _positive_f1(pred, y),
        "f1_weighted": _weighted_f1(pred, y),
        "num_samples": int(len(y)),
    }
