"""Metrics: how good a model's predictions on a split are.

>>> import numpy as np
>>> m = classification_metrics(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), num_classes=3)
>>> m["accuracy"], m["per_class_recall"]
(0.75, [1.0, 1.0, 0.5])
"""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``[true class, predicted class]``.

    >>> confusion_matrix(np.array([1, 1]), np.array([0, 1]), 2).tolist()
    [[0, 1], [0, 1]]
    """
    index = labels.astype(np.int64) * num_classes + predicted.astype(np.int64)
    return np.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def classification_metrics(predicted: np.ndarray, labels: np.ndarray,
                           num_classes: int = 7) -> dict[str, Any]:
    """Accuracy, per-class recall and precision, macro-F1 and the confusion matrix.

    A class with no true samples has recall ``nan`` (and does not count in macro-F1).
    """
    cm = confusion_matrix(predicted, labels, num_classes)
    true_counts, predicted_counts, hits = cm.sum(1), cm.sum(0), np.diag(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(true_counts > 0, hits / true_counts, np.nan)
        precision = np.where(predicted_counts > 0, hits / predicted_counts, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = true_counts > 0
    return {
        "accuracy": float(hits.sum() / max(cm.sum(), 1)),
        "per_class_recall": [round(float(r), 6) for r in recall],
        "per_class_precision": [round(float(p), 6) for p in precision],
        "macro_f1": float(np.mean(f1[present])) if present.any() else float("nan"),
        "confusion_matrix": cm.tolist(),
    }
