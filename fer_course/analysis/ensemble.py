"""Ensembles from saved predictions: majority, weighted and soft votes; top-k curves; selection.

Everything works on arrays that run folders already hold (``predictions.npz``), so no
model is run again. Hard votes take class labels ``[n_models, n_samples]``; the soft vote
takes probabilities ``[n_models, n_samples, n_classes]``.

Each rule is implemented once, by ``majority_vote``, ``weighted_vote`` or ``soft_vote``
(random ties by ``break_ties``). ``ensemble_predictions`` and ``top_k_curve`` map a rule
to its function in one shared place, and ``greedy_selection`` calls
``ensemble_predictions``, so a curve point is exactly the accuracy of that ensemble,
random tie-breaks included.

>>> majority_vote(np.array([[0, 1], [0, 2], [1, 2]]))
array([0, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np

from fer_course.data.types import CLASSES


class Rule(str, Enum):
    """How the members' predictions become one; the plain strings work everywhere too.

    >>> Rule("soft") is Rule.SOFT, str(Rule.MAJORITY_RANDOM_TIES)
    (True, 'majority (random ties)')
    """

    MAJORITY = "majority"
    MAJORITY_RANDOM_TIES = "majority (random ties)"
    WEIGHTED = "weighted"
    SOFT = "soft"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def _missing_(cls, value: object) -> Rule:
        raise ValueError(f"unknown rule {value!r}; choose one of {RULES}")


RULES: tuple[str, ...] = tuple(rule.value for rule in Rule)


def _check_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be int [n_models, n_samples], got {labels.dtype} "
                         f"{list(labels.shape)}")
    return labels


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``labels`` with a new last axis of ``num_classes``: 1.0 at the label, 0.0 elsewhere.

    >>> one_hot(np.array([2, 0]), 3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    return np.eye(num_classes)[labels]


def vote_counts(labels: np.ndarray, num_classes: int,
                weights: np.ndarray | None = None) -> np.ndarray:
    """Votes per class ``[n_samples, num_classes]``: the sum over models m of
    ``weights[m] * one_hot(labels[m])``, every weight 1 when none are given.

    >>> vote_counts(np.array([[0, 1], [0, 2]]), 3).tolist()
    [[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
    """
    labels = _check_labels(labels)
    w = _weights_or_ones(weights, len(labels))
    return (w[:, None, None] * one_hot(labels, num_classes)).sum(0)


def break_ties(scores: np.ndarray,
               rng: np.random.Generator | int | None = None) -> np.ndarray:
    """The class with the highest score, row by row. A tie goes to a uniformly random tied
    class when ``rng`` (a generator or an int seed) is given, else to the lowest tied class.

    >>> scores = np.array([[2, 2, 0], [0, 1, 3]])
    >>> break_ties(scores).tolist()
    [0, 2]
    >>> break_ties(scores, rng=0)[0].item() in (0, 1)
    True
    """
    if rng is None:
        return scores.argmax(-1)
    # One draw per (sample, class), tied or not: a seed gives the same
    # draws for any k.
    noise = np.random.default_rng(rng).random(scores.shape)
    tied = scores == scores.max(-1, keepdims=True)
    return np.where(tied, noise, -1.0).argmax(-1)


def tie_rate(labels: np.ndarray, num_classes: int) -> float:
    """The share of samples whose majority vote ties (two classes or more share the most votes).

    >>> tie_rate(np.array([[0, 1], [1, 1]]), 2)
    0.5
    """
    counts = vote_counts(labels, num_classes)
    return float(((counts == counts.max(-1, keepdims=True)).sum(-1) > 1).mean())


def majority_vote(labels: np.ndarray,
                  rng: np.random.Generator | int | None = None,
                  num_classes: int | None = None) -> np.ndarray:
    """Combine the class predictions of several models by majority vote.

    labels: int array ``[n_models, n_samples]``. A tie goes to a random tied class when
    ``rng`` (a generator or a seed) is given (the paper's rule), else to the lowest one.

    >>> majority_vote(np.array([[0, 1], [0, 2], [1, 2]]))
    array([0, 2])
    """
    labels = _check_labels(labels)
    num_classes = num_classes or int(labels.max()) + 1
    return break_ties(vote_counts(labels, num_classes), rng)


def weighted_vote(labels: np.ndarray,
                  weights: Sequence[float] | np.ndarray,
                  num_classes: int = 7) -> np.ndarray:
    """Each model's vote counts ``weights[m]`` (e.g. its validation accuracy); ties go to
    the lowest tied class. One strong model can outvote two weak ones:

    >>> weighted_vote(np.array([[0], [1], [1]]), [0.9, 0.4, 0.4], num_classes=2)
    array([0])
    """
    labels = _check_labels(labels)
    if len(weights) != len(labels):
        raise ValueError(f"{len(weights)} weights for {len(labels)} models")
    counts = vote_counts(labels, num_classes, np.asarray(weights))
    return counts.argmax(-1)


def soft_vote(probs: np.ndarray) -> np.ndarray:
    """The class with the highest mean probability over the models.

    >>> soft_vote(np.array([[[0.6, 0.4]], [[0.1, 0.9]]]))
    array([1])
    """
    probs = np.asarray(probs)
    if probs.ndim != 3:
        raise ValueError("probs must be [n_models, n_samples, n_classes], "
                         f"got {list(probs.shape)}")
    return probs.mean(0).argmax(-1)


def ensemble_predictions(probs: np.ndarray, members: Sequence[int], rule: Rule | str,
                         weights: Sequence[float] | None = None, seed: int = 0) -> np.ndarray:
    """Class predictions of the ensemble of ``members`` under ``rule`` (one of ``RULES``).

    ``weights`` (one per model of ``probs``) are for the weighted vote, equal when not
    given; ``seed`` breaks the ties of "majority (random ties)".

    >>> probs = np.array([[[0.9, 0.1]], [[0.4, 0.6]], [[0.4, 0.6]]])  # one sure model
    >>> [ensemble_predictions(probs, [0, 1, 2], rule).item() for rule in RULES]
    [1, 1, 1, 0]
    """
    rule, members = Rule(rule), list(members)
    chosen = np.asarray(probs)[members]
    w = _weights_or_ones(weights, len(probs))[members]
    return _combine(chosen, chosen.argmax(-1), rule, w, seed)


def _weights_or_ones(weights: Sequence[float] | None, n_models: int) -> np.ndarray:
    return np.ones(n_models) if weights is None else np.asarray(weights, dtype=np.float64)


def _combine(probs: np.ndarray, votes: np.ndarray, rule: Rule, weights: np.ndarray,
             seed: int) -> np.ndarray:
    """All models of ``probs`` (``votes`` = ``probs.argmax(-1)``) voting by ``rule``: the
    one place, shared by ``ensemble_predictions`` and ``top_k_curve``, that maps a rule to
    its vote function."""
    if rule is Rule.SOFT:
        return soft_vote(probs)
    if rule is Rule.WEIGHTED:
        return weighted_vote(votes, weights, probs.shape[-1])
    rng = seed if rule is Rule.MAJORITY_RANDOM_TIES else None
    return majority_vote(votes, rng=rng, num_classes=probs.shape[-1])


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """The share of ``predicted`` equal to ``labels``.

    >>> accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 0]))
    0.75
    """
    return float((np.asarray(predicted) == np.asarray(labels)).mean())


def top_k_curve(probs: np.ndarray, labels: np.ndarray, order: Sequence[int],
                weights: Sequence[float] | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Accuracy of the ensemble of the first k members of ``order``, k = 1..len(order),
    for every rule in ``RULES``; plus the tie rate of the plain majority vote.

    Entry k - 1 of ``curves[rule]`` is exactly
    ``accuracy(ensemble_predictions(probs, order[:k], rule, weights, seed), labels)``.

    >>> probs = np.array([[[0.6, 0.4]], [[0.1, 0.9]]])
    >>> curves = top_k_curve(probs, np.array([1]), [0, 1])
    >>> curves["soft"].tolist(), curves["majority"].tolist(), curves["tie rate"].tolist()
    ([0.0, 1.0], [0.0, 0.0], [0.0, 1.0])
    """
    order = list(order)
    ordered = np.asarray(probs)[order]
    votes = ordered.argmax(-1)  # computed once: the first k members' votes are votes[:k]
    w = _weights_or_ones(weights, len(probs))[order]
    ks = range(1, len(order) + 1)
    curves = {}
    for rule in Rule:
        predictions = (_combine(ordered[:k], votes[:k], rule, w[:k], seed) for k in ks)
        curves[rule.value] = np.array([accuracy(p, labels) for p in predictions])
    curves["tie rate"] = np.array([tie_rate(votes[:k], ordered.shape[-1]) for k in ks])
    return curves


def order_by(accuracies: Sequence[float]) -> list[int]:
    """Member indices from the most to the least accurate (stable for equal accuracies).

    >>> order_by([0.6, 0.7, 0.6])
    [1, 0, 2]
    """
    return sorted(range(len(accuracies)), key=lambda i: -accuracies[i])


def greedy_selection(probs: np.ndarray, labels: np.ndarray, rule: Rule | str = "soft",
                     max_members: int | None = None, weights: Sequence[float] | None = None,
                     seed: int = 0) -> tuple[list[int], list[float]]:
    """Forward selection: start empty, repeatedly add the member that most raises the
    ensemble's accuracy on ``labels`` (validation labels!), stop when nothing helps.
    Any rule of ``RULES``; ``weights`` and ``seed`` as in ``ensemble_predictions``.

    Returns the chosen members in order and the accuracy after each addition.

    >>> probs = np.array([[[0.6, 0.4], [0.6, 0.4]], [[0.2, 0.8], [0.7, 0.3]]])
    >>> greedy_selection(probs, np.array([1, 0]), rule="majority")
    ([1], [1.0])
    """
    rule = Rule(rule)
    chosen: list[int] = []
    scores: list[float] = []
    limit = max_members or len(probs)
    while len(chosen) < limit:
        best, best_score = None, scores[-1] if scores else -1.0
        for m in range(len(probs)):
            if m in chosen:
                continue
            predicted = ensemble_predictions(probs, chosen + [m], rule, weights, seed)
            score = accuracy(predicted, labels)
            if score > best_score:
                best, best_score = m, score
        if best is None:
            break
        chosen.append(best)
        scores.append(best_score)
    return chosen, scores


class EnsembleMembers:
    """The saved val/test predictions of several finished runs, aligned and checked.

    ``val_probs`` / ``test_probs``: ``[n_models, n_samples, n_classes]``;
    ``val_labels`` / ``test_labels``: ``[n_samples]``; ``names``: one per model.
    """

    def __init__(self, names: list[str], predictions: list[dict[str, np.ndarray]],
                 classes: Sequence[str] = CLASSES) -> None:
        if not predictions:
            raise ValueError("no finished runs to ensemble")
        for name, p in zip(names, predictions):
            if "val_labels" not in p:
                raise ValueError(f"run {name!r} holds no labels (a stored summary): pass the "
                                 "loaded data, EnsembleMembers.from_runs(runs, data)")
        first = predictions[0]
        for name, p in zip(names, predictions):
            for split in ("val", "test"):
                if not np.array_equal(p[f"{split}_labels"], first[f"{split}_labels"]):
                    raise ValueError(f"run {name!r} was evaluated on other {split} data than "
                                     f"{names[0]!r}; ensemble runs of one data set only")
        self.names = list(names)
        self.classes = tuple(classes)
        self.val_probs = np.stack([p["val_probs"] for p in predictions])
        self.test_probs = np.stack([p["test_probs"] for p in predictions])
        self.val_labels = first["val_labels"]
        self.test_labels = first["test_labels"]

    @classmethod
    def from_runs(cls, runs: Sequence, data: Any = None) -> EnsembleMembers:
        """Members from ``RunFolder``s or stored summaries (``fer_course.runs.store``); the
        summaries hold no labels, so pass the loaded ``data`` to join them by csv row."""
        classes = runs[0].read_metrics()["classes"] if runs else CLASSES
        predictions = [r.read_predictions(data) for r in runs]
        return cls([r.path.name for r in runs], predictions, classes)

    def __len__(self) -> int:
        return len(self.names)

    def accuracies(self, split: str) -> np.ndarray:
        probs, labels = self.split(split)
        return (probs.argmax(-1) == labels).mean(1)

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        if split not in ("val", "test"):
            raise ValueError(f"split must be 'val' or 'test', got {split!r}")
        return (self.val_probs, self.val_labels) if split == "val" else (
            self.test_probs, self.test_labels)

    def curves(self, order_split: str, eval_split: str, seed: int = 0) -> dict[str, np.ndarray]:
        """Top-k curves on ``eval_split`` with members ordered by ``order_split`` accuracy;
        the weighted vote weighs each member by its validation accuracy."""
        order = order_by(self.accuracies(order_split))
        probs, labels = self.split(eval_split)
        curves = top_k_curve(probs, labels, order, weights=self.accuracies("val"), seed=seed)
        curves["members"] = np.array([self.names[i] for i in order])
        return curves


def selection_comparison(members: EnsembleMembers, rule: Rule | str,
                         seed: int = 0) -> dict[str, dict]:
    """The honest choice against the paper's, for one rule.

    honest: members ordered by validation accuracy, k chosen on the validation curve;
    leaky (the paper's): ordered by test accuracy, k chosen on the test curve itself.
    Each entry: the k chosen, its validation and test accuracy.
    """
    rule = Rule(rule).value
    out = {}
    for name, split in (("honest (choose on val)", "val"), ("paper's (choose on test)", "test")):
        curves = {on: members.curves(split, on, seed=seed) for on in ("val", "test")}
        k = int(np.argmax(curves[split][rule])) + 1  # the first k reaching the best value
        out[name] = {"k": k, "val": float(curves["val"][rule][k - 1]),
                     "test": float(curves["test"][rule][k - 1]),
                     "members": list(curves["test"]["members"][:k])}
    return out
