"""How much of a model's "error" is the label's? Score the same predictions against
FER-2013's labels and against the FER+ crowd's majority, on the faces that have both.

A FER+ label is the majority of ten annotators (``fer_course.data.ferplus``); a face whose
majority is unknown, not a face or a tie has no FER+ label and is left out of both scores,
so the two accuracies are measured on the same faces.

>>> from fer_course.data import make_synthetic_fer
>>> from fer_course.data.ferplus import apply_ferplus_labels, synthetic_ferplus_votes
>>> data = make_synthetic_fer(14, 7, 21)
>>> plus = apply_ferplus_labels(data, synthetic_ferplus_votes(data))
>>> probs = np.eye(7)[data.test.labels.numpy()]            # always FER-2013's label
>>> score = score_against_both(probs, data.test.rows, data, plus)
>>> score["accuracy_fer2013"], score["accuracy_ferplus"] <= 1.0
(1.0, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from fer_course.data.types import FERData
from fer_course.runs.store import labels_by_row

__all__ = ["label_comparison", "score_against_both"]


def score_against_both(probs: np.ndarray, rows: np.ndarray, data: FERData,
                       ferplus_data: FERData, split: str = "test") -> dict[str, Any]:
    """Accuracy of ``probs`` (``[n, 7]`` or ``[n, 8]``, one row per csv row in ``rows``)
    against FER-2013's labels and against FER+'s, on the faces of ``split`` that keep a
    FER+ label; and, of the faces it gets wrong by FER-2013's label, the share whose
    prediction is the crowd's majority. A prediction of Contempt (class 7) is wrong for
    FER-2013, which has no such class.
    """
    probs, rows = np.asarray(probs), np.asarray(rows, dtype=np.int64)
    if probs.ndim != 2 or probs.shape[0] != len(rows):
        raise ValueError(f"probs must be [n, classes] with n = {len(rows)} rows, "
                         f"got {list(probs.shape)}")
    kept = set(np.asarray(getattr(ferplus_data, split).rows, dtype=np.int64).tolist())
    mask = np.fromiter((int(r) in kept for r in rows), dtype=bool, count=len(rows))
    rows, predicted = rows[mask], probs[mask].argmax(axis=1)
    fer = labels_by_row(getattr(data, split), rows, f"FER-2013 {split}")
    crowd = labels_by_row(getattr(ferplus_data, split), rows, f"FER+ {split}")
    wrong = predicted != fer
    return {
        "faces": int(mask.sum()), "left_out": int((~mask).sum()),
        "accuracy_fer2013": float(np.mean(predicted == fer)),
        "accuracy_ferplus": float(np.mean(predicted == crowd)),
        "labels_agree": float(np.mean(fer == crowd)),
        "errors_fer2013": int(wrong.sum()),
        "errors_matching_crowd": float(np.mean(predicted[wrong] == crowd[wrong]))
        if wrong.any() else float("nan"),
    }


def label_comparison(predictions: Mapping[str, tuple[np.ndarray, np.ndarray]], data: FERData,
                     ferplus_data: FERData, split: str = "test") -> pd.DataFrame:
    """``score_against_both`` for several runs: ``{name: (probs, rows)}`` to a table with
    one row per run; counts stay integers, the shares are floats."""
    table = pd.DataFrame({name: score_against_both(probs, rows, data, ferplus_data, split)
                          for name, (probs, rows) in predictions.items()}).T
    counts = {"faces": int, "left_out": int, "errors_fer2013": int}
    return table.astype({**{c: float for c in table.columns}, **counts})
