"""Chapter 3's tables: the members, ties per k, the leak, and the best ensemble against the
best single member with a paired bootstrap interval and McNemar's test.

Everything here reads an ``ensemble.EnsembleMembers`` and calls the voting functions of
``fer_course.analysis.ensemble`` (one implementation per rule) and the tests of
``fer_course.analysis.significance``; nothing votes on its own.

>>> members = simulated_members(5, n_images=300, seed=0)
>>> choice = best_on_validation(members)
>>> 1 <= choice.k <= 5 and choice.rule in RULES
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fer_course.analysis.ensemble import (
    RULES,
    EnsembleMembers,
    ensemble_predictions,
    order_by,
)

# The leak and diminishing returns live in ensemble_leak; chapter 3 reads them from here too.
from fer_course.analysis.ensemble_leak import (  # noqa: E402
    PAPER_BEST_ENSEMBLE,
    PAPER_RULE,
    advice_sentence,
    diminishing_returns,
    leak_sentence,
    leak_table,
    mean_leak,
    reached_share,
    simulated_members,
)
from fer_course.analysis.significance import (
    BootstrapResult,
    McNemarResult,
    mcnemar,
    paired_bootstrap,
)
from fer_course.runs.kinds import kind_of_settings

__all__ = [
    "PAPER_BEST_ENSEMBLE", "PAPER_RULE", "RULES", "EnsembleChoice", "SingleVsEnsemble",
    "advice_sentence", "best_on_validation", "compare_with_best_single", "curve_table",
    "diminishing_returns", "leak_sentence", "leak_table", "mean_leak", "member_runs",
    "member_table", "reached_share", "recall_change", "recall_sentence", "simulated_members",
    "tie_rate_table", "top_k_states",
]


def member_runs(store: Any, data: Any = None, min_members: int = 0,
                standby_archs: Sequence[str] = ()) -> list:
    """The finished backbone runs to ensemble, from ``store`` (a ``RunStore``: its local
    runs, then the committed ones); with ``data``, only the runs trained on the same splits
    and labels (not a FER+ run). Fewer than ``min_members`` raise a ``MissingRunError``
    that says how to get them (``standby_archs``: the ones the chapter trains when asked,
    with ``fer_course.engine.named_runs.fit_missing_runs``). Nothing is trained here."""
    from fer_course.engine.loop import MissingRunError
    from fer_course.runs.recipes import data_fingerprint

    runs = store.all(setting="arch")
    if data is not None:  # a run on other labels (FER+) or splits cannot vote on these
        fingerprint = data_fingerprint(data)
        runs = [r for r in runs if r.read_settings().get(
            "data_fingerprint", fingerprint) == fingerprint]
    if len(runs) < min_members:
        raise MissingRunError(
            f"{len(runs)} finished backbone run(s) in {store.runs_dir} and "
            f"{store.results_dir}, but the ensembles need at least {min_members}. "
            "Train them with chapter 2 (02_backbones.ipynb) or the batch runner "
            "(tools/train_results.py --chapter 3), or set the parameter "
            f"train_missing = True to train {', '.join(standby_archs) or 'some'} here.")
    return runs


def member_table(runs: Sequence, members: EnsembleMembers) -> pd.DataFrame:
    """One row per member, most accurate on validation first: run, architecture, seed,
    validation and test accuracy (from the saved predictions) and training minutes."""
    rows = []
    for run, val, test in zip(runs, members.accuracies("val"), members.accuracies("test")):
        metrics = run.read_metrics()
        settings = metrics.get("settings", {})
        network = kind_of_settings(settings).network_name(settings)
        rows.append({"run": run.path.name, "architecture": network,
                     "seed": settings.get("seed"), "val": float(val), "test": float(test),
                     "minutes": run.training_seconds() / 60})
    table = pd.DataFrame(rows)
    return table.sort_values("val", ascending=False, kind="stable", ignore_index=True)


def curve_table(curves: dict[str, np.ndarray], rules: Sequence[str] = RULES) -> pd.DataFrame:
    """A ``top_k_curve`` (or ``EnsembleMembers.curves``) as a table indexed by k, with the
    member added at each k."""
    table = pd.DataFrame({rule: curves[rule] for rule in (*rules, "tie rate")},
                         index=pd.RangeIndex(1, len(curves[rules[0]]) + 1, name="k"))
    if "members" in curves:
        table.insert(0, "added member", list(curves["members"]))
    return table


def tie_rate_table(members: EnsembleMembers, seed: int = 0) -> pd.DataFrame:
    """Per k (members in validation order): the share of tied majority votes on val and
    test, and the test accuracy of the majority vote with ties to the lowest class and
    with random ties, beside the soft vote's."""
    val, test = (members.curves("val", split, seed=seed) for split in ("val", "test"))
    return pd.DataFrame({
        "k is even": [k % 2 == 0 for k in range(1, len(members) + 1)],
        "tie rate (val)": val["tie rate"], "tie rate (test)": test["tie rate"],
        "majority, ties to lowest": test["majority"],
        "majority, random ties": test[PAPER_RULE], "soft": test["soft"],
    }, index=pd.RangeIndex(1, len(members) + 1, name="k"))


@dataclass(frozen=True)
class EnsembleChoice:
    """An ensemble chosen on validation data: its rule, its size k, its members (indices
    into the ``EnsembleMembers``, most accurate on validation first) and its accuracies."""

    rule: str
    k: int
    members: tuple[int, ...]
    val: float
    test: float

    def predictions(self, members: EnsembleMembers, split: str, seed: int = 0) -> np.ndarray:
        """The class this ensemble gives each image of ``split``."""
        probs, _ = members.split(split)
        return ensemble_predictions(probs, self.members, self.rule,
                                    weights=members.accuracies("val"), seed=seed)


def best_on_validation(members: EnsembleMembers, rules: Sequence[str] = RULES,
                       seed: int = 0) -> EnsembleChoice:
    """The top-k ensemble (members ordered by validation accuracy) whose rule and k give the
    highest validation accuracy; the smallest k and the first rule win a tie. The test
    split plays no part in the choice."""
    order = order_by(members.accuracies("val"))
    on_val = members.curves("val", "val", seed=seed)
    on_test = members.curves("val", "test", seed=seed)
    best: EnsembleChoice | None = None
    for rule in rules:
        k = int(np.argmax(on_val[rule])) + 1
        if best is None or on_val[rule][k - 1] > best.val:
            best = EnsembleChoice(rule, k, tuple(order[:k]), float(on_val[rule][k - 1]),
                                  float(on_test[rule][k - 1]))
    assert best is not None, "no rules given"
    return best


@dataclass(frozen=True)
class SingleVsEnsemble:
    """The chosen ensemble against the best single member (by validation) on the same
    test images: accuracies, the paired bootstrap of the difference and McNemar's test."""

    choice: EnsembleChoice
    single: str
    single_test: float
    ensemble_test: float
    n_images: int
    bootstrap: BootstrapResult
    mcnemar: McNemarResult

    def table(self) -> pd.DataFrame:
        """Two rows (the single member, the ensemble) and one for their difference, with
        its interval and p-values (``views.reading.readable`` shows a bootstrap p of 0 as
        ``< 1 / n_boot``, from ``attrs["p_floor"]``)."""
        b, pct = self.bootstrap, f"{self.bootstrap.confidence:.0%}"
        table = pd.DataFrame([
            {"what": f"best single member ({self.single})", "test accuracy": self.single_test},
            {"what": f"ensemble: {self.choice.rule}, top {self.choice.k} by val",
             "test accuracy": self.ensemble_test},
            {"what": "difference (ensemble - single)", "test accuracy": b.difference,
             f"{pct} interval": f"[{b.low:+.3f}, {b.high:+.3f}]",
             "bootstrap_p": b.p_value, "McNemar_p": self.mcnemar.p_value},
        ]).set_index("what")
        # a bootstrap p of 0 means "no resample reached 0": below 1 / n_boot, not zero
        table.attrs["p_floor"] = b.p_floor
        return table

    def sentence(self) -> str:
        """What the comparison says, in words that hold whichever way it fell: a short
        paragraph (Markdown) of three sentences."""
        b, m = self.bootstrap, self.mcnemar
        if self.choice.k == 1:
            return ("Validation chose a single model (k = 1), so the 'ensemble' is the best "
                    "single member itself: on this data, voting did not pay on validation.")
        pp = f"{100 * abs(b.difference):.1f} percentage points"
        interval = (f"{b.confidence:.0%} interval {100 * b.low:+.1f} to {100 * b.high:+.1f} "
                    "points")
        counts = (f"Of the {self.n_images:,} test images, the ensemble alone is right on "
                  f"{m.a_only:,} and the single member alone on {m.b_only:,} (McNemar "
                  f"{m.p_text}).")
        if b.difference == 0:
            head = "The ensemble and the best single member are equally accurate on test"
        else:
            way = "more" if b.difference > 0 else "less"
            head = f"The ensemble is {pp} {way} accurate than the best single member on test"
        if b.low > 0:
            verdict = ("The interval lies above 0: the gain is larger than the luck of "
                       "drawing these test images would explain.")
        elif b.high < 0:
            verdict = "The interval lies below 0: the ensemble is really worse."
        else:
            verdict = ("The interval includes 0: these test images cannot tell the two apart, "
                       "and the gain may be the luck of the draw.")
        return f"{head} ({interval}). {counts} {verdict}"


def compare_with_best_single(members: EnsembleMembers, choice: EnsembleChoice, seed: int = 0,
                             n_boot: int = 10_000, confidence: float = 0.95) -> SingleVsEnsemble:
    """``choice`` against the member with the best validation accuracy, on test: per-image
    correctness of both, a paired bootstrap interval of the difference and McNemar's test."""
    labels = members.test_labels
    single = int(order_by(members.accuracies("val"))[0])
    single_correct = members.test_probs[single].argmax(-1) == labels
    ensemble_correct = choice.predictions(members, "test", seed=seed) == labels
    return SingleVsEnsemble(
        choice, members.names[single], float(single_correct.mean()),
        float(ensemble_correct.mean()), len(labels),
        paired_bootstrap(ensemble_correct, single_correct, n_boot=n_boot, seed=seed,
                         confidence=confidence),
        mcnemar(ensemble_correct, single_correct))


def recall_change(best_member: Sequence[float], ensemble: Sequence[float],
                  classes: Sequence[str]) -> pd.DataFrame:
    """Per class: the test recall of the best member and of the ensemble, and the change
    (ensemble minus member).

    >>> recall_change([0.5, 0.0], [0.6, 0.0], ["Angry", "Disgust"])["change"].round(3).tolist()
    [0.1, 0.0]
    """
    table = pd.DataFrame({"best member": np.asarray(best_member, dtype=np.float64),
                          "ensemble": np.asarray(ensemble, dtype=np.float64)},
                         index=pd.Index(list(classes), name="class"))
    return table.assign(change=table["ensemble"] - table["best member"])


def recall_sentence(table: pd.DataFrame, paper_says_nearly_all: bool = True) -> str:
    """A ``recall_change`` table in words: the classes the ensemble recalls better and
    worse than its best member (in percentage points), the classes neither recognises,
    and how that compares with the paper's ensemble, better on nearly every class.

    >>> t = recall_change([0.3, 0.0, 0.5, 0.8], [0.4, 0.0, 0.45, 0.79],
    ...                   ["Angry", "Disgust", "Sad", "Happy"])
    >>> print(recall_sentence(t))  # doctest: +NORMALIZE_WHITESPACE
    The ensemble recalls more than its best member on 1 of the 4 classes (Angry +10.0
    points) and less on 2 (Sad -5.0 points, Happy -1.0 points). Neither recognises a single
    Disgust face (recall 0 for both). The paper's ensemble was better on nearly every
    class; here the vote trades recall between classes: it follows what most members say,
    so a class that the best member recognises better than the others can lose.
    """
    change = table["change"].round(12)
    never = [c for c in table.index
             if table.loc[c, "best member"] == 0 and table.loc[c, "ensemble"] == 0]

    def listed(classes: Sequence[str]) -> str:
        ranked = sorted(classes, key=lambda c: -abs(change[c]))
        return ", ".join(f"{c} {100 * change[c]:+.1f} points" for c in ranked)

    better = [c for c in table.index if change[c] > 0]
    worse = [c for c in table.index if change[c] < 0]
    n = len(table)
    if not better and not worse:
        return ("The ensemble recalls every class exactly as its best member does (the "
                "same predictions, as when validation chooses k = 1).")
    parts = [f"The ensemble recalls more than its best member on {len(better)} of the {n} "
             f"classes" + (f" ({listed(better)})" if better else "")]
    parts.append(f" and less on {len(worse)}" + (f" ({listed(worse)})." if worse else "."))
    same = [c for c in table.index if change[c] == 0 and c not in never]
    if same:
        parts.append(f" Unchanged: {', '.join(same)}.")
    if never:
        parts.append(f" Neither recognises a single {' or '.join(never)} face (recall 0 "
                     "for both).")
    if not paper_says_nearly_all:
        return "".join(parts)
    if not worse:
        parts.append(" As in the paper, the ensemble is at least as good on every class.")
    elif len(worse) == 1 and len(better) >= n - 2:
        parts.append(" That is close to the paper's finding, an ensemble better on nearly "
                     "every class.")
    else:
        parts.append(" The paper's ensemble was better on nearly every class; here the vote "
                     "trades recall between classes: it follows what most members say, so a "
                     "class that the best member recognises better than the others can lose.")
    return "".join(parts)


def top_k_states(members: EnsembleMembers, rules: Sequence[str] = RULES,
                 seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """Every state of the top-k view, precomputed: per rule, per k (members in validation
    order), the members' names and the ensemble's validation and test accuracy.

    >>> states = top_k_states(simulated_members(3, n_images=200), rules=["soft"])
    >>> [s["k"] for s in states["soft"]], len(states["soft"][1]["members"])
    ([1, 2, 3], 2)
    """
    order = order_by(members.accuracies("val"))
    weights = members.accuracies("val")
    states: dict[str, list[dict[str, Any]]] = {}
    for rule in rules:
        states[rule] = []
        for k in range(1, len(order) + 1):
            state: dict[str, Any] = {"k": k, "members": [members.names[i] for i in order[:k]]}
            for split in ("val", "test"):
                probs, labels = members.split(split)
                predicted = ensemble_predictions(probs, order[:k], rule, weights, seed=seed)
                state[split] = float((predicted == labels).mean())
            states[rule].append(state)
    return states

