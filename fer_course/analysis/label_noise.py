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

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from fer_course.data.ferplus import (
    DROP_REASONS,
    FERPLUS_CLASSES,
    FERPlusVotes,
    as_votes,
    check_alignment,
    ferplus_majority,
    labels_by_csv_row,
)
from fer_course.data.types import FERData
from fer_course.runs.store import labels_by_row

__all__ = ["ferplus_confusion", "ferplus_counts", "ferplus_disagreement", "label_comparison",
           "score_against_both"]


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


def ferplus_counts(data: FERData, ferplus: FERPlusVotes | str | os.PathLike,
                   rule: str = "plurality") -> pd.DataFrame:
    """Images per FER+ label and split: the eight classes kept, then the images dropped and
    why, then the FER-2013 total; one column per split and ``all``.

    >>> from fer_course.data import make_synthetic_fer
    >>> from fer_course.data.ferplus import synthetic_ferplus_votes
    >>> d = make_synthetic_fer(70, 14, 14)
    >>> ferplus_counts(d, synthetic_ferplus_votes(d)).loc["FER-2013 images"].tolist()
    [70, 14, 14, 98]
    """
    votes = as_votes(ferplus)
    check_alignment(data, votes)
    majority = ferplus_majority(votes.votes, rule)
    index = [*FERPLUS_CLASSES, *(f"dropped: {r}" for r in DROP_REASONS.values()),
             "FER-2013 images"]
    table = pd.DataFrame(0, index=index, columns=[*data.splits(), "all"], dtype=np.int64)
    for name, split in data.splits().items():
        labels = majority[np.asarray(split.rows, dtype=np.int64)]
        table.loc[list(FERPLUS_CLASSES), name] = np.bincount(
            labels[labels >= 0], minlength=len(FERPLUS_CLASSES))
        for code, reason in DROP_REASONS.items():
            table.loc[f"dropped: {reason}", name] = int((labels == code).sum())
        table.loc["FER-2013 images", name] = len(split)
    table["all"] = table[list(data.splits())].sum(axis=1)
    return table


def ferplus_disagreement(data: FERData, ferplus_data: FERData) -> pd.DataFrame:
    """Per FER-2013 class (all splits): its images, how many kept a FER+ label, the share of
    those whose FER+ label differs, and the FER+ label they most often get instead.

    ``ferplus_data``: ``data`` after ``apply_ferplus_labels`` (joined by csv row).

    >>> from fer_course.data import make_synthetic_fer
    >>> from fer_course.data.ferplus import apply_ferplus_labels, synthetic_ferplus_votes
    >>> d = make_synthetic_fer(70, 14, 14)
    >>> table = ferplus_disagreement(d, apply_ferplus_labels(d, synthetic_ferplus_votes(d)))
    >>> list(table.columns)
    ['images', 'with FER+ label', 'FER+ differs', 'differs (%)', 'most often instead']
    """
    rows, original = labels_by_csv_row(data)
    plus_rows, plus = labels_by_csv_row(ferplus_data)
    by_row = np.full(int(max(rows.max(), plus_rows.max())) + 1, -1, dtype=np.int64)
    by_row[plus_rows] = plus
    relabelled = by_row[rows]
    records = []
    for label, name in [*enumerate(data.classes), (None, "all")]:
        mine = np.ones(len(rows), bool) if label is None else original == label
        kept = mine & (relabelled >= 0)
        differ = kept & (relabelled != original)
        instead = ""
        if label is not None and differ.any():
            counts = np.bincount(relabelled[differ], minlength=len(ferplus_data.classes))
            top = int(counts.argmax())
            instead = f"{ferplus_data.classes[top]} ({counts[top] / differ.sum():.0%})"
        records.append({"FER-2013 label": name, "images": int(mine.sum()),
                        "with FER+ label": int(kept.sum()), "FER+ differs": int(differ.sum()),
                        "differs (%)": round(100 * differ.sum() / max(kept.sum(), 1), 1),
                        "most often instead": instead})
    return pd.DataFrame.from_records(records, index="FER-2013 label")


def ferplus_confusion(data: FERData, ferplus_data: FERData) -> pd.DataFrame:
    """Counts of images per (FER-2013 label, FER+ label), over all splits; rows FER-2013.

    >>> from fer_course.data import make_synthetic_fer
    >>> from fer_course.data.ferplus import apply_ferplus_labels, synthetic_ferplus_votes
    >>> d = make_synthetic_fer(70, 14, 14)
    >>> ferplus_confusion(d, apply_ferplus_labels(d, synthetic_ferplus_votes(d))).shape
    (7, 8)
    """
    rows, original = labels_by_csv_row(data)
    plus_rows, plus = labels_by_csv_row(ferplus_data)
    position = {int(r): i for i, r in enumerate(rows)}
    table = np.zeros((len(data.classes), len(ferplus_data.classes)), dtype=np.int64)
    np.add.at(table, (original[[position[int(r)] for r in plus_rows]], plus), 1)
    return pd.DataFrame(table, index=pd.Index(data.classes, name="FER-2013"),
                        columns=pd.Index(ferplus_data.classes, name="FER+"))
