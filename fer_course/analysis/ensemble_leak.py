"""What choosing an ensemble on the test split costs (the leak), and how fast accuracy stops
growing with more members (diminishing returns): chapter 3's arguments about the paper's
top-13 vote, with stand-in members for the exercises.

>>> members = simulated_members(5, n_images=300, seed=0)
>>> leak = leak_table(members)
>>> list(leak.index)
['majority', 'majority (random ties)', 'weighted', 'soft']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fer_course.analysis.best_report import signed_points
from fer_course.analysis.ensemble import RULES, EnsembleMembers, selection_comparison

PAPER_RULE = "majority (random ties)"  # the paper's vote: a tie goes to a random tied class
PAPER_BEST_ENSEMBLE = {"k": 13, "test": 0.740}  # section 5.1.2: its top-13 ensemble, chosen on test


def leak_table(members: EnsembleMembers, rules: Sequence[str] = RULES) -> pd.DataFrame:
    """Per rule: the honest choice (order and k on validation) and the paper's (order and k
    on test), each with its test accuracy, and the leak: how many percentage points the
    paper's choice adds to the reported test accuracy."""
    rows = []
    for rule in rules:
        honest, paper = selection_comparison(members, rule).values()
        rows.append({"rule": rule, "honest k": honest["k"], "honest test": honest["test"],
                     "paper's k": paper["k"], "paper's test": paper["test"],
                     "leak (points)": 100 * (paper["test"] - honest["test"])})
    return pd.DataFrame(rows).set_index("rule")


def leak_sentence(points: float, rule: str = PAPER_RULE) -> str:
    """The leak of ``leak_table`` (percentage points) for ``rule``, in words for any sign.

    >>> "no leak" in leak_sentence(0.0), "0.50 percentage points more" in leak_sentence(0.5)
    (True, True)
    """
    if abs(points) < 1e-9:
        return (f"With the {rule} vote, both ways of choosing land on the same test accuracy "
                "here: no leak this time.")
    if points > 0:
        return (f"With the {rule} vote, choosing the order and k on the test split reports "
                f"{points:.2f} percentage points more than choosing them on validation: a gain "
                "no new face would see.")
    return (f"With the {rule} vote, the honest choice happens to score {-points:.2f} points "
            "higher on test than the paper's: choosing on test maximises along its own order, "
            "not over every ensemble, so the leak can fall either way on one data set.")


def diminishing_returns(curves: dict[str, np.ndarray], rules: Sequence[str] = RULES,
                        at: int = 5) -> pd.DataFrame:
    """The paper's advice ("the top ``at`` models are good enough") against a curve, per
    rule: accuracy at k = 1, k = ``at`` and the best k, the share of the best gain over
    k = 1 reached at k = ``at``, the mean gain per member added after ``at``, and the first
    k that beats k = 1. Columns that need ``at`` members are NaN when there are fewer."""
    rows = []
    for rule in rules:
        acc = np.asarray(curves[rule], dtype=np.float64)
        n, best = len(acc), int(np.argmax(acc))
        reached = acc[at - 1] if n >= at else np.nan
        above = np.flatnonzero(acc > acc[0])
        rows.append({
            "rule": rule, "k=1": acc[0], f"k={at}": reached, "best k": best + 1,
            "best": acc[best], f"all {n}": acc[-1],
            f"share of best gain at k={at}": reached_share(acc, at) if n >= at else np.nan,
            f"gain per member after {at} (points)":
                100 * (acc[-1] - reached) / (n - at) if n > at else np.nan,
            "first k above k=1": int(above[0]) + 1 if len(above) else np.nan,
        })
    return pd.DataFrame(rows).set_index("rule")


def reached_share(acc: Sequence[float], at: int) -> float:
    """How much of the best gain over k = 1 the curve ``acc`` has made at k = ``at``
    (1.0: all of it; NaN when no k beats k = 1).

    >>> reached_share([0.60, 0.62, 0.63, 0.64, 0.64], 3)
    0.75
    """
    acc = np.asarray(acc, dtype=np.float64)
    gain = acc.max() - acc[0]
    return float(round((acc[at - 1] - acc[0]) / gain, 12)) if gain > 0 else float("nan")


def advice_sentence(curve: Sequence[float], rule: str, at: int = 5) -> str:
    """The paper's "top ``at``" advice checked on one curve, in words that start with
    ``rule`` (any label of the curve)."""
    acc = np.asarray(curve, dtype=np.float64)
    n, best = len(acc), int(np.argmax(acc)) + 1
    if n < at:
        return (f"{rule}: with {n} members the curve stops before k = {at}, so the advice "
                f"cannot be checked here (best k = {best}).")
    share = reached_share(acc, at)
    if np.isnan(share):
        return (f"{rule}: no ensemble beats the single best member on this curve, so there "
                f"is no gain for the top {at} to reach.")
    rest = (f"; adding the other {n - at} members moves it by "
            f"{signed_points(acc[-1] - acc[at - 1])} points" if n > at else "")
    return (f"{rule}: the top {at} reach {share:.0%} of the best gain over k = 1 "
            f"({signed_points(acc[at - 1] - acc[0])} of {signed_points(acc[best - 1] - acc[0])} "
            f"points; best k = {best}){rest}.")


def simulated_members(n_members: int, n_images: int = 3589, n_classes: int = 7,
                      signal: float = 2.5, shared: float = 1.2, noise: float = 0.6,
                      seed: int = 0) -> EnsembleMembers:
    """Exchangeable stand-in members (equally good by construction) on independent val and
    test sets of ``n_images`` each: logits = ``signal`` at the true class + a per-image part
    shared by all members (``shared``: correlated errors) + each member's own ``noise``.
    With the defaults a member is right about 69 % of the time and voting adds a few points.

    >>> m = simulated_members(3, n_images=2000)
    >>> len(m), bool(0.6 < m.accuracies("test").mean() < 0.8)
    (3, True)
    """
    rng = np.random.default_rng(seed)
    splits = {}
    for split in ("val", "test"):
        labels = rng.integers(0, n_classes, n_images)
        logits = (signal * np.eye(n_classes)[labels]
                  + rng.normal(0.0, shared, (n_images, n_classes))
                  + rng.normal(0.0, noise, (n_members, n_images, n_classes)))
        logits -= logits.max(-1, keepdims=True)
        probs = np.exp(logits)
        splits[split] = (probs / probs.sum(-1, keepdims=True), labels)
    predictions = [{f"{s}_probs": splits[s][0][m] for s in splits}
                   | {f"{s}_labels": splits[s][1] for s in splits} for m in range(n_members)]
    return EnsembleMembers([f"sim{m}" for m in range(n_members)], predictions)


def mean_leak(n_members: int, rule: str = PAPER_RULE, repeats: int = 10,
              n_images: int = 3589, seed: int = 0) -> float:
    """The leak in percentage points (paper's choice minus honest choice, on test) averaged
    over ``repeats`` draws of ``simulated_members``."""
    leaks = []
    for r in range(repeats):
        members = simulated_members(n_members, n_images=n_images, seed=seed + r)
        honest, paper = selection_comparison(members, rule).values()
        leaks.append(100 * (paper["test"] - honest["test"]))
    return float(np.mean(leaks))
