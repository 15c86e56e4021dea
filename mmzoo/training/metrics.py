"""Evaluation metrics computed in NumPy from predicted probabilities."""

import numpy as np


def classification_metrics(probabilities, labels, task="multiclass"):
    """Accuracy, F1 and cross-entropy of predicted probabilities.

    Args:
        probabilities: (n, num_classes) array.
        labels: (n,) int array (multiclass) or (n, num_classes) 0/1 (multilabel).
        task: `"multiclass"` or `"multilabel"`.

    Returns:
        dict with `accuracy`, `f1` (binary: of the positive class; multiclass:
        macro over classes; multilabel: micro), `loss` and `num_samples`.
    """
    p = np.asarray(probabilities, dtype="float64")
    y = np.asarray(labels)
    eps = 1e-7
    if task == "multilabel":
        pred = (p >= 0.5).astype(int)
        y = y.astype(int)
        tp = np.sum(pred * y)
        fp = np.sum(pred * (1 - y))
        fn = np.sum((1 - pred) * y)
        f1 = _f1(tp, fp, fn)
        accuracy = float(np.mean(pred == y))
        loss = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
    else:
        pred = np.argmax(p, axis=-1)
        accuracy = float(np.mean(pred == y))
        num_classes = p.shape[-1]
        if num_classes == 2:
            f1 = _binary_f1(pred, y, positive=1)
        else:
            f1 = float(np.mean([_binary_f1(pred, y, c) for c in range(num_classes)]))
        loss = -np.mean(np.log(p[np.arange(len(y)), y] + eps))
    return {
        "accuracy": accuracy,
        "f1": float(f1),
        "loss": float(loss),
        "num_samples": int(len(y)),
    }


def _binary_f1(pred, y, positive):
    tp = np.sum((pred == positive) & (y == positive))
    fp = np.sum((pred == positive) & (y != positive))
    fn = np.sum((pred != positive) & (y == positive))
    return _f1(tp, fp, fn)


def _f1(tp, fp, fn):
    denominator = 2 * tp + fp + fn
    return float(2 * tp / denominator) if denominator else 0.0
