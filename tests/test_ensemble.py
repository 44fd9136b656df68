"""Voting rules against a plain-Python reference, ties included; curves and selection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from fer_course.ensemble import (
    greedy_selection,
    majority_vote,
    order_by,
    soft_vote,
    top_k_curve,
    vote_counts,
    weighted_vote,
)


def reference_majority(labels: np.ndarray) -> list[int]:
    out = []
    for column in labels.T:
        counts = Counter(column.tolist())
        best = max(counts.values())
        out.append(min(c for c, n in counts.items() if n == best))
    return out


def reference_weighted(labels: np.ndarray, weights, num_classes: int) -> list[int]:
    out = []
    for column in labels.T:
        score = [0.0] * num_classes
        for m, c in enumerate(column):
            score[c] += weights[m]
        out.append(score.index(max(score)))
    return out


@pytest.fixture
def random_predictions():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(7), size=(6, 500))  # 6 models, 500 samples
    return probs, probs.argmax(-1), rng.integers(0, 7, 500)


def test_majority_matches_reference_with_ties(random_predictions) -> None:
    _, labels, _ = random_predictions
    for k in range(1, 7):  # even k gives many ties
        assert majority_vote(labels[:k]).tolist() == reference_majority(labels[:k])


def test_random_tie_break_picks_a_tied_class_uniformly() -> None:
    labels = np.array([[0] * 4000, [3] * 4000])  # every sample tied between 0 and 3
    picked = majority_vote(labels, rng=np.random.default_rng(1))
    assert set(picked.tolist()) == {0, 3}
    assert abs((picked == 0).mean() - 0.5) < 0.03
    again = majority_vote(labels, rng=np.random.default_rng(1))
    assert np.array_equal(picked, again)  # seeded
    assert majority_vote(labels).tolist() == [0] * 4000  # no rng: lowest tied class


def test_weighted_and_soft_match_reference(random_predictions) -> None:
    probs, labels, _ = random_predictions
    weights = [0.61, 0.7, 0.65, 0.7, 0.52, 0.6]
    assert weighted_vote(labels, weights).tolist() == reference_weighted(labels, weights, 7)
    equal = weighted_vote(labels, [1.0] * 6)
    assert equal.tolist() == reference_majority(labels)  # equal weights = majority vote
    expected = [int(np.argmax(probs[:, i].mean(0))) for i in range(probs.shape[1])]
    assert soft_vote(probs).tolist() == expected


def test_input_errors() -> None:
    with pytest.raises(ValueError, match="int \\[n_models, n_samples\\]"):
        majority_vote(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="2 weights for 3 models"):
        weighted_vote(np.zeros((3, 4), int), [1, 2])
    with pytest.raises(ValueError, match="n_classes"):
        soft_vote(np.zeros((3, 4)))


def test_top_k_curve_agrees_with_the_rules(random_predictions) -> None:
    probs, labels, truth = random_predictions
    order = [2, 0, 5, 1, 4, 3]
    weights = [0.61, 0.7, 0.65, 0.7, 0.52, 0.6]
    curves = top_k_curve(probs, truth, order, weights=weights)
    for k in range(1, 7):
        members = order[:k]
        acc = lambda pred: float((pred == truth).mean())  # noqa: E731
        assert curves["majority"][k - 1] == acc(majority_vote(labels[members], num_classes=7))
        assert curves["weighted"][k - 1] == acc(
            weighted_vote(labels[members], [weights[m] for m in members]))
        assert curves["soft"][k - 1] == acc(soft_vote(probs[members]))
        ties = vote_counts(labels[members], 7)
        tied = (ties == ties.max(1, keepdims=True)).sum(1) > 1
        assert curves["tie rate"][k - 1] == tied.mean()
    assert curves["tie rate"][0] == 0.0  # one model never ties


def test_order_and_greedy_selection() -> None:
    assert order_by([0.5, 0.9, 0.7]) == [1, 2, 0]
    truth = np.array([0, 1, 2, 0, 1, 2])
    good = np.eye(3)[truth] * 0.9 + 0.05
    noise = np.full((6, 3), 1 / 3)
    chosen, scores = greedy_selection(np.stack([noise, good, noise]), truth)
    assert chosen[0] == 1 and scores[0] == 1.0
    assert len(chosen) == 1  # adding a useless member does not help, so selection stops


class FakeRun:
    """Stands in for a RunFolder: a name and saved predictions."""

    def __init__(self, name: str, preds: dict, classes=("a", "b", "c")) -> None:
        self.path = Path(name)
        self._preds, self._classes = preds, classes

    def read_predictions(self) -> dict:
        return self._preds

    def read_metrics(self) -> dict:
        return {"classes": list(self._classes)}


def make_members(n_models: int = 4, n: int = 300, seed: int = 0):
    from fer_course.ensemble import EnsembleMembers

    rng = np.random.default_rng(seed)
    val_y, test_y = rng.integers(0, 3, (2, n))
    runs = []
    for m in range(n_models):
        def noisy(y, skill):
            return np.eye(3)[y] * skill + rng.dirichlet(np.ones(3), size=n)
        runs.append(FakeRun(f"m{m}", {"val_probs": noisy(val_y, 0.3 + 0.1 * m),
                                      "val_labels": val_y, "test_probs": noisy(test_y, 0.3),
                                      "test_labels": test_y}))
    return EnsembleMembers.from_runs(runs)


def test_members_curves_and_selection() -> None:
    from fer_course.ensemble import ensemble_predictions, selection_comparison

    members = make_members()
    assert members.classes == ("a", "b", "c") and len(members) == 4
    val_acc = members.accuracies("val")
    curves = members.curves("val", "test")
    assert curves["members"][0] == members.names[int(np.argmax(val_acc))]
    chosen = selection_comparison(members, "soft")
    honest, leaky = chosen["honest (choose on val)"], chosen["paper's (choose on test)"]
    # choosing k on the test curve can only match or beat choosing it on validation
    assert leaky["test"] >= max(members.curves("val", "test")["soft"][honest["k"] - 1], 0)
    assert leaky["test"] == members.curves("test", "test")["soft"].max()
    first_k = ensemble_predictions(members.test_probs, [0, 1], "soft")
    assert first_k.tolist() == soft_vote(members.test_probs[[0, 1]]).tolist()
    with pytest.raises(ValueError, match="unknown rule 'median'"):
        ensemble_predictions(members.test_probs, [0], "median")


def test_members_must_share_their_data() -> None:
    from fer_course.ensemble import EnsembleMembers

    y = np.array([0, 1, 2])
    p = np.eye(3)
    a = {"val_probs": p, "val_labels": y, "test_probs": p, "test_labels": y}
    b = {**a, "test_labels": np.array([2, 1, 0])}
    with pytest.raises(ValueError, match="other test data"):
        EnsembleMembers(["a", "b"], [a, b])
