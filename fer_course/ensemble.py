"""Ensembles from saved predictions: majority, weighted and soft votes; top-k curves; selection.

Everything works on arrays that run folders already hold (``predictions.npz``), so no
model is run again. Hard votes take class labels ``[n_models, n_samples]``; the soft vote
takes probabilities ``[n_models, n_samples, n_classes]``.

>>> majority_vote(np.array([[0, 1], [0, 2], [1, 2]]))
array([0, 2])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .data.types import CLASSES

RULES: tuple[str, ...] = ("majority", "majority (random ties)", "weighted", "soft")


def _check_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be int [n_models, n_samples], got {labels.dtype} "
                         f"{list(labels.shape)}")
    return labels


def vote_counts(labels: np.ndarray, num_classes: int, weights: np.ndarray | None = None,
                ) -> np.ndarray:
    """Votes per class ``[n_samples, num_classes]`` (each model's vote weighted if asked).

    >>> vote_counts(np.array([[0, 1], [0, 2]]), 3).tolist()
    [[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
    """
    labels = _check_labels(labels)
    n_models, n_samples = labels.shape
    w = np.ones(n_models) if weights is None else np.asarray(weights, dtype=np.float64)
    counts = np.zeros((n_samples, num_classes))
    for m in range(n_models):
        np.add.at(counts, (np.arange(n_samples), labels[m]), w[m])
    return counts


def _argmax_ties(scores: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Row-wise argmax; a tie goes to a uniformly random tied class with ``rng``, else the
    lowest tied class (``np.argmax`` takes the first maximum)."""
    if rng is None:
        return scores.argmax(-1)
    top = scores == scores.max(-1, keepdims=True)
    return np.where(top, rng.random(scores.shape), -1.0).argmax(-1)


def majority_vote(labels: np.ndarray, rng: np.random.Generator | None = None,
                  num_classes: int | None = None) -> np.ndarray:
    """Combine the class predictions of several models by majority vote.

    labels: int array ``[n_models, n_samples]``. A tie goes to a random tied class when
    ``rng`` is given (the paper's rule), else to the lowest tied class index.

    >>> majority_vote(np.array([[0, 1], [0, 2], [1, 2]]))
    array([0, 2])
    """
    labels = _check_labels(labels)
    k = num_classes or int(labels.max()) + 1
    return _argmax_ties(vote_counts(labels, k), rng)


def weighted_vote(labels: np.ndarray, weights: Sequence[float] | np.ndarray,
                  num_classes: int = 7) -> np.ndarray:
    """Each model's vote counts ``weights[m]`` (e.g. its validation accuracy); ties go to
    the lowest tied class. One strong model can outvote two weak ones:

    >>> weighted_vote(np.array([[0], [1], [1]]), [0.9, 0.4, 0.4], num_classes=2)
    array([0])
    """
    labels = _check_labels(labels)
    if len(weights) != len(labels):
        raise ValueError(f"{len(weights)} weights for {len(labels)} models")
    return vote_counts(labels, num_classes, np.asarray(weights)).argmax(-1)


def soft_vote(probs: np.ndarray) -> np.ndarray:
    """The class with the highest mean probability over the models.

    >>> soft_vote(np.array([[[0.6, 0.4]], [[0.1, 0.9]]]))
    array([1])
    """
    probs = np.asarray(probs)
    if probs.ndim != 3:
        raise ValueError(f"probs must be [n_models, n_samples, n_classes], got {list(probs.shape)}")
    return probs.mean(0).argmax(-1)


def top_k_curve(probs: np.ndarray, labels: np.ndarray, order: Sequence[int],
                weights: Sequence[float] | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Accuracy of the ensemble of the first k members of ``order``, k = 1..len(order),
    for every rule in ``RULES``; plus the tie rate of the plain majority vote.

    Cumulative vote counts make the whole curve one pass over the members.
    """
    probs = np.asarray(probs)[list(order)]
    n_models, n_samples, n_classes = probs.shape
    votes = probs.argmax(-1)
    w = np.ones(n_models) if weights is None else np.asarray(weights, dtype=np.float64)[
        list(order)]
    one_hot = np.zeros((n_models, n_samples, n_classes))
    one_hot[np.arange(n_models)[:, None], np.arange(n_samples)[None, :], votes] = 1.0
    counts = one_hot.cumsum(0)
    weighted = (one_hot * w[:, None, None]).cumsum(0)
    prob_sums = probs.cumsum(0)
    rng = np.random.default_rng(seed)
    top = counts == counts.max(-1, keepdims=True)
    random_pick = np.where(top, rng.random(counts.shape), -1.0).argmax(-1)
    curves = {
        "majority": (counts.argmax(-1) == labels).mean(1),
        "majority (random ties)": (random_pick == labels).mean(1),
        "weighted": (weighted.argmax(-1) == labels).mean(1),
        "soft": (prob_sums.argmax(-1) == labels).mean(1),
        "tie rate": (top.sum(-1) > 1).mean(1),
    }
    return curves


def order_by(accuracies: Sequence[float]) -> list[int]:
    """Member indices from the most to the least accurate (stable for equal accuracies).

    >>> order_by([0.6, 0.7, 0.6])
    [1, 0, 2]
    """
    return sorted(range(len(accuracies)), key=lambda i: -accuracies[i])


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float((np.asarray(predicted) == np.asarray(labels)).mean())


def greedy_selection(probs: np.ndarray, labels: np.ndarray, rule: str = "soft",
                     max_members: int | None = None) -> tuple[list[int], list[float]]:
    """Forward selection: start empty, repeatedly add the member that most raises the
    ensemble's accuracy on ``labels`` (validation labels!), stop when nothing helps.

    Returns the chosen members in order and the accuracy after each addition.
    """
    probs = np.asarray(probs)
    chosen: list[int] = []
    scores: list[float] = []
    limit = max_members or len(probs)
    while len(chosen) < limit:
        best, best_score = None, scores[-1] if scores else -1.0
        for m in range(len(probs)):
            if m in chosen:
                continue
            members = probs[chosen + [m]]
            if rule == "soft":
                predicted = soft_vote(members)
            else:
                predicted = majority_vote(members.argmax(-1), num_classes=probs.shape[-1])
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
    def from_runs(cls, runs: Sequence) -> EnsembleMembers:
        """Members from ``RunFolder``s (see ``fer_course.runs.find_runs``)."""
        classes = runs[0].read_metrics()["classes"] if runs else CLASSES
        return cls([r.path.name for r in runs], [r.read_predictions() for r in runs], classes)

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


def ensemble_predictions(probs: np.ndarray, members: Sequence[int], rule: str,
                         weights: Sequence[float] | None = None, seed: int = 0) -> np.ndarray:
    """Class predictions of the ensemble of ``members`` under ``rule`` (one of ``RULES``)."""
    chosen = np.asarray(probs)[list(members)]
    votes, n_classes = chosen.argmax(-1), chosen.shape[-1]
    if rule == "soft":
        return soft_vote(chosen)
    if rule == "weighted":
        w = np.ones(len(chosen)) if weights is None else np.asarray(weights)[list(members)]
        return weighted_vote(votes, w, n_classes)
    if rule in ("majority", "majority (random ties)"):
        rng = np.random.default_rng(seed) if rule == "majority (random ties)" else None
        return majority_vote(votes, rng=rng, num_classes=n_classes)
    raise ValueError(f"unknown rule {rule!r}; choose one of {RULES}")


def selection_comparison(members: EnsembleMembers, rule: str) -> dict[str, dict]:
    """The honest choice against the paper's, for one rule.

    honest: members ordered by validation accuracy, k chosen on the validation curve;
    leaky (the paper's): ordered by test accuracy, k chosen on the test curve itself.
    Each entry: the k chosen, its validation and test accuracy.
    """
    out = {}
    for name, split in (("honest (choose on val)", "val"), ("paper's (choose on test)", "test")):
        on_choice = members.curves(split, split)[rule]
        k = int(np.argmax(on_choice)) + 1  # the first k reaching the best value
        val_curve, test_curve = members.curves(split, "val")[rule], members.curves(
            split, "test")[rule]
        out[name] = {"k": k, "val": float(val_curve[k - 1]), "test": float(test_curve[k - 1]),
                     "members": list(members.curves(split, "test")["members"][:k])}
    return out
