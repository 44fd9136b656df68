"""Voting rules against a plain-Python reference, ties included; curves and selection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from fer_course.analysis.ensemble import (
    RULES,
    Rule,
    accuracy,
    break_ties,
    ensemble_predictions,
    greedy_selection,
    majority_vote,
    order_by,
    soft_vote,
    tie_rate,
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


def tied_case(n_models: int, seed: int, n_samples: int = 150):
    """Probabilities over 3 classes drawn from a few values, so that votes, weighted votes
    and mean probabilities tie often; weights from a few values too."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(1, 4, size=(n_models, n_samples, 3)).astype(np.float64)
    probs = raw / raw.sum(-1, keepdims=True)
    weights = rng.choice([0.5, 0.6, 0.7], size=n_models)
    return probs, rng.integers(0, 3, n_samples), weights, rng.permutation(n_models)


@pytest.mark.parametrize("n_models", [2, 3, 4, 5, 6])
def test_curve_is_the_accuracy_of_ensemble_predictions(n_models: int) -> None:
    for case in range(3):
        probs, truth, weights, order = tied_case(n_models, seed=10 * n_models + case)
        for w in (None, weights):
            for seed in (0, 1, 12345):
                curves = top_k_curve(probs, truth, order, weights=w, seed=seed)
                assert set(curves) == {*RULES, "tie rate"}
                for rule in RULES:
                    assert len(curves[rule]) == n_models
                    for k in range(1, n_models + 1):
                        predicted = ensemble_predictions(probs, order[:k], rule, w, seed)
                        assert curves[rule][k - 1] == accuracy(predicted, truth), (rule, k, seed)


def test_curve_of_a_partial_order_and_of_enum_rules() -> None:
    probs, truth, weights, _ = tied_case(5, seed=3)
    order = [4, 1, 2]  # not every model
    curves = top_k_curve(probs, truth, order, weights=weights, seed=5)
    for rule in Rule:
        assert all(isinstance(key, str) for key in curves)
        for k in (1, 2, 3):
            predicted = ensemble_predictions(probs, order[:k], rule, weights, seed=5)
            assert curves[rule.value][k - 1] == accuracy(predicted, truth)
            assert np.array_equal(predicted, ensemble_predictions(
                probs, order[:k], rule.value, weights, seed=5))  # plain strings work too


def test_random_ties_depend_on_the_seed_and_only_on_ties() -> None:
    probs, truth, _, order = tied_case(4, seed=0, n_samples=2000)
    votes = probs.argmax(-1)
    fixed = ensemble_predictions(probs, order, "majority")
    runs = [ensemble_predictions(probs, order, "majority (random ties)", seed=s)
            for s in range(3)]
    tied = (lambda c: (c == c.max(1, keepdims=True)).sum(1) > 1)(vote_counts(votes, 3))
    assert tied.any() and not np.array_equal(runs[0], runs[1])
    for run in runs:
        assert np.array_equal(run[~tied], fixed[~tied])  # a clear winner is never redrawn
    assert np.array_equal(runs[0], majority_vote(votes[order], rng=0, num_classes=3))
    assert np.array_equal(runs[0], majority_vote(votes[order], rng=np.random.default_rng(0),
                                                 num_classes=3))


def test_break_ties_and_tie_rate() -> None:
    scores = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]] * 500)
    assert break_ties(scores).tolist() == [1, 0] * 500
    picked = break_ties(scores, rng=4)
    assert set(picked[::2].tolist()) == {1, 2} and set(picked[1::2].tolist()) == {0}
    assert np.array_equal(picked, break_ties(scores, rng=np.random.default_rng(4)))
    assert tie_rate(np.array([[0, 1, 2], [1, 1, 0]]), 3) == 2 / 3


def test_rule_names() -> None:
    assert RULES == ("majority", "majority (random ties)", "weighted", "soft")
    assert Rule("weighted") is Rule.WEIGHTED and Rule(Rule.SOFT) is Rule.SOFT
    assert f"{Rule.MAJORITY}" == "majority" and Rule.SOFT == "soft"
    with pytest.raises(ValueError, match="unknown rule 'median'"):
        Rule("median")


def test_order_and_greedy_selection() -> None:
    assert order_by([0.5, 0.9, 0.7]) == [1, 2, 0]
    truth = np.array([0, 1, 2, 0, 1, 2])
    good = np.eye(3)[truth] * 0.9 + 0.05
    noise = np.full((6, 3), 1 / 3)
    for rule in [*RULES, *Rule]:
        chosen, scores = greedy_selection(np.stack([noise, good, noise]), truth, rule=rule)
        assert chosen[0] == 1 and scores[0] == 1.0
        assert len(chosen) == 1  # adding a useless member does not help, so selection stops
    with pytest.raises(ValueError, match="unknown rule 'median'"):
        greedy_selection(np.stack([noise, good]), truth, rule="median")


@pytest.mark.parametrize("rule", RULES)
def test_greedy_scores_are_ensemble_accuracies(rule: str) -> None:
    probs, truth, weights, _ = tied_case(6, seed=1)
    chosen, scores = greedy_selection(probs, truth, rule=rule, weights=weights, seed=2)
    assert chosen and scores == sorted(scores) and len(set(chosen)) == len(chosen)
    for k, score in enumerate(scores, start=1):
        assert score == accuracy(ensemble_predictions(probs, chosen[:k], rule, weights, 2), truth)
    limited, _ = greedy_selection(probs, truth, rule=rule, max_members=1)
    assert len(limited) == 1


class FakeRun:
    """Stands in for a RunFolder: a name and saved predictions."""

    def __init__(self, name: str, preds: dict, classes=("a", "b", "c")) -> None:
        self.path = Path(name)
        self._preds, self._classes = preds, classes

    def read_predictions(self, data=None) -> dict:
        return self._preds

    def read_metrics(self) -> dict:
        return {"classes": list(self._classes)}


def make_members(n_models: int = 4, n: int = 300, seed: int = 0):
    from fer_course.analysis.ensemble import EnsembleMembers

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
    from fer_course.analysis.ensemble import ensemble_predictions, selection_comparison

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
    from fer_course.analysis.ensemble import EnsembleMembers

    y = np.array([0, 1, 2])
    p = np.eye(3)
    a = {"val_probs": p, "val_labels": y, "test_probs": p, "test_labels": y}
    b = {**a, "test_labels": np.array([2, 1, 0])}
    with pytest.raises(ValueError, match="other test data"):
        EnsembleMembers(["a", "b"], [a, b])
