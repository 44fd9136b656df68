"""Chapter 7's measurements of the ``best`` recipe: accuracy with intervals, the paper's
numbers beside ours, the ablation (one ingredient removed at a time), mirror averaging
measured apart, a post-hoc class-prior correction chosen on PublicTest, and the ensemble.

Every interval is a bootstrap over the test faces (``fer_course.analysis.significance``);
a difference between two runs is paired (the same faces), so the faces both get right or
both get wrong cancel out.

>>> correct = np.array([True] * 68 + [False] * 32)
>>> acc, low, high = accuracy_interval(correct)
>>> acc, bool(low < 0.68 < high)
(0.68, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fer_course.analysis.ensemble import accuracy, ensemble_predictions, greedy_selection
from fer_course.analysis.significance import bootstrap_means, paired_bootstrap
from fer_course.evaluate import classification_metrics
from fer_course.paper import PAPER_BEST_ENSEMBLE, PAPER_MULTITASK, PAPER_TABLE5

__all__ = ["StudentReport", "ablation_table", "accuracy_interval", "choose_prior_power",
           "chosen_student", "disagreement", "ensemble_of", "paper_comparison",
           "prior_adjusted", "scores", "seed_ensembles", "signed_points", "student_report",
           "students_summary", "students_table", "teacher_sentence", "verdict_at_length",
           "views_sentence", "vote_accuracy", "worth_sentence", "worth_summary"]


def signed_points(fraction: float) -> str:
    """A difference of accuracies in percentage points, signed, one decimal, never "-0.0".

    >>> signed_points(0.0071), signed_points(-0.0004), signed_points(-0.012)
    ('+0.7', '0.0', '-1.2')
    """
    value = round(fraction * 100, 1)
    return "0.0" if value == 0 else f"{value:+.1f}"


def accuracy_interval(correct: np.ndarray, n_boot: int = 10_000, seed: int = 0,
                      confidence: float = 0.95) -> tuple[float, float, float]:
    """Accuracy of per-face correctness and its bootstrap percentile interval."""
    values = np.asarray(correct, dtype=np.float64)
    boot = bootstrap_means(values, n_boot, seed)
    low, high = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(values.mean()), float(low), float(high)


def scores(probs: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and each class's recall of probabilities ``[N, C]``.

    >>> s = scores(np.eye(3)[[0, 1, 1]], np.array([0, 1, 2]), ["a", "b", "c"])
    >>> s["accuracy"], s["recall"]["c"]
    (0.6666666666666666, 0.0)
    """
    metrics = classification_metrics(probs.argmax(1), np.asarray(labels), len(classes))
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "recall": dict(zip(classes, metrics["per_class_recall"])),
            "confusion_matrix": metrics["confusion_matrix"]}


def prior_adjusted(probs: np.ndarray, prior: np.ndarray, power: float) -> np.ndarray:
    """Probabilities divided by ``prior ** power`` and renormalised: ``power=1`` undoes
    the training set's class frequencies (a balanced decision), ``0`` changes nothing.

    >>> prior_adjusted(np.array([[0.6, 0.4]]), np.array([0.75, 0.25]), 1.0).round(3).tolist()
    [[0.333, 0.667]]
    """
    adjusted = probs / np.asarray(prior, dtype=np.float64) ** power
    return adjusted / adjusted.sum(1, keepdims=True)


def choose_prior_power(val_probs: np.ndarray, val_labels: np.ndarray, prior: np.ndarray,
                       classes: Sequence[str], powers: Sequence[float] = tuple(
                           np.round(np.arange(0, 1.01, 0.1), 2)),
                       max_accuracy_loss: float = 0.005) -> tuple[float, pd.DataFrame]:
    """The ``power`` of ``prior_adjusted`` with the best validation macro-F1 among those
    that cost at most ``max_accuracy_loss`` of validation accuracy; and the table of all.
    Chosen on PublicTest (validation) only."""
    rows = []
    for power in powers:
        s = scores(prior_adjusted(val_probs, prior, power), val_labels, classes)
        rows.append({"power": float(power), "val accuracy": s["accuracy"],
                     "val macro-F1": s["macro_f1"],
                     "val Disgust recall": s["recall"].get("Disgust", np.nan)})
    table = pd.DataFrame(rows).set_index("power")
    allowed = table[table["val accuracy"] >= table.loc[0.0, "val accuracy"] - max_accuracy_loss]
    return float(allowed["val macro-F1"].idxmax()), table


def paper_comparison(ours: Mapping[str, tuple[np.ndarray, str]], labels: np.ndarray,
                     ) -> pd.DataFrame:
    """The paper's best single network, its multitask network and its 13-network vote
    beside ours: ``ours`` maps a row name to (test probabilities, how it was made)."""
    best_arch = max(PAPER_TABLE5, key=lambda a: PAPER_TABLE5[a][2])
    rows = [
        {"model": f"paper: best single ({best_arch}, ImageNet, 224 px, GPU)",
         "test accuracy": PAPER_TABLE5[best_arch][2], "95% interval": "not reported"},
        {"model": "paper: multitask autoencoder", "test accuracy": PAPER_MULTITASK["test"],
         "95% interval": "not reported"},
        {"model": f"paper: vote of {PAPER_BEST_ENSEMBLE['members']} networks "
                  "(chosen on the test split)",
         "test accuracy": PAPER_BEST_ENSEMBLE["test"], "95% interval": "not reported"},
    ]
    for name, (probs, how) in ours.items():
        acc, low, high = accuracy_interval(probs.argmax(1) == labels)
        rows.append({"model": f"course: {name} ({how})", "test accuracy": acc,
                     "95% interval": f"{low:.3f} to {high:.3f}"})
    return pd.DataFrame(rows).set_index("model")


def ablation_table(base: np.ndarray, removed: Mapping[str, np.ndarray], labels: np.ndarray,
                   classes: Sequence[str], n_boot: int = 10_000) -> pd.DataFrame:
    """One row per ingredient removed (after a first row for the full recipe ``base``):
    test accuracy, macro-F1 and Disgust recall of its run (probabilities ``[N, C]`` on the
    same test faces), and what the ingredient is **worth**: the paired difference in
    accuracy, with it minus without it (the full recipe minus this run), with its 95 %
    interval (``low``, ``high``) and p-value. Positive: the ingredient helps accuracy; the
    other columns show what it does for the rare classes."""
    def row(probs: np.ndarray) -> dict[str, float]:
        s = scores(probs, labels, classes)
        return {"test accuracy": s["accuracy"], "macro-F1": s["macro_f1"],
                "Disgust recall": s["recall"].get("Disgust", np.nan)}

    base_correct = base.argmax(1) == labels
    rows = [{"without": "(nothing: the full recipe)", **row(base)}]
    for ingredient, probs in removed.items():
        test = paired_bootstrap(base_correct, probs.argmax(1) == labels, n_boot=n_boot)
        rows.append({"without": ingredient, **row(probs),
                     "worth": test.difference, "low": test.low,
                     "high": test.high, "p-value": test.p_value})
    return pd.DataFrame(rows).set_index("without")


WORTH = "worth: with − without (points)"


def ablation_points(table: pd.DataFrame, n_boot: int = 10_000) -> pd.DataFrame:
    """``ablation_table`` as a reader compares it: what each ingredient is worth in
    accuracy, with it minus without it, in signed percentage points, with its 95 %
    interval as text; the full recipe's row has none.

    >>> t = pd.DataFrame({"test accuracy": [0.65, 0.66], "macro-F1": [0.6, 0.58],
    ...                   "Disgust recall": [0.5, 0.1], "worth": [None, -0.008],
    ...                   "low": [None, -0.018], "high": [None, 0.002], "p-value": [None, 0.13]},
    ...                  index=pd.Index(["(full)", "balance"], name="without"))
    >>> ablation_points(t).loc["balance", [WORTH, "95 % interval"]].tolist()
    ['-0.8', '-1.8 to +0.2']
    """
    out = table[["test accuracy", "macro-F1", "Disgust recall"]].copy()
    worth, interval = [], []
    for _, row in table.iterrows():
        if pd.isna(row["worth"]):
            worth.append("—")
            interval.append("—")
        else:
            worth.append(signed_points(row["worth"]))
            interval.append(f"{signed_points(row['low'])} to {signed_points(row['high'])}")
    out[WORTH] = worth
    out["95 % interval"] = interval
    out["p-value"] = table["p-value"]
    # a bootstrap resolves p-values down to 1 / n_boot; 0 means "below that"
    out.attrs["p_floor"] = 1 / n_boot
    return out


def worth_sentence(ingredient: str, row: Mapping[str, float], epochs: int) -> str:
    """One sentence: what ``ingredient`` is worth at ``epochs`` (a row of
    ``ablation_table``), and whether that is beyond the noise.

    >>> worth_sentence("affine", {"worth": -0.022, "low": -0.035, "high": -0.01}, 12)[-52:]
    ' -3.5 to -1.0): it costs accuracy, beyond the noise.'
    """
    if row["low"] > 0:
        reading = "it helps, beyond the noise"
    elif row["high"] < 0:
        reading = "it costs accuracy, beyond the noise"
    else:
        reading = "not told apart from the noise by one seed"
    return (f"**{ingredient}** is worth {signed_points(row['worth'])} points of test accuracy "
            f"at {epochs} epochs (95 % interval {signed_points(row['low'])} to "
            f"{signed_points(row['high'])}): {reading}.")


def worth_summary(table: pd.DataFrame, epochs: int) -> str:
    """A sentence per ingredient of ``ablation_table`` (``worth_sentence``), then the
    verdict: the ingredient worth the most at this budget.

    >>> t = pd.DataFrame({"worth": [None, 0.01, 0.03], "low": [None, -0.01, 0.01],
    ...                   "high": [None, 0.02, 0.05]}, index=["(full)", "balance", "affine"])
    >>> worth_summary(t, 12).splitlines()[-1]
    'Worth the most at 12 epochs: **affine**, +3.0 points.'
    """
    rows = table.iloc[1:]
    lines = [f"- {worth_sentence(name, row, epochs)}" for name, row in rows.iterrows()]
    best = rows["worth"].astype(float).idxmax()
    lines.append(f"Worth the most at {epochs} epochs: **{best}**, "
                 f"{signed_points(rows.loc[best, 'worth'])} points.")
    return "\n".join(lines)


@dataclass(frozen=True)
class StudentReport:
    """A distilled student against the same network trained on labels alone (same
    recipe, epochs and seed): ``table`` (one row each: PublicTest and test accuracy, the
    test interval, macro-F1, Disgust recall; the student's row names the other and the
    paired difference), ``recall`` (per class, both, and the change), ``versus`` (the
    paired test difference, student minus the other), and where the student's test
    interval stands against the paper's single network (``paper``: above, level with or
    below)."""

    table: pd.DataFrame
    recall: pd.DataFrame
    versus: Any
    paper: str = ""

    @property
    def student(self) -> str:
        """The student's name (the table's first row)."""
        return str(self.table.index[0])

    @property
    def alone(self) -> str:
        """The name of the network on labels alone it is set against (the second row)."""
        return str(self.table.index[1])


def student_report(student: Mapping[str, np.ndarray], alone: Mapping[str, np.ndarray],
                   names: tuple[str, str], classes: Sequence[str], paper_single: float,
                   n_boot: int = 10_000) -> StudentReport:
    """Compare two runs' predictions (``val_probs``/``test_probs`` with their labels, as
    ``RunFolder.read_predictions(data)`` gives them): the student ``names[0]`` against the
    network trained on labels alone ``names[1]``, and the student's test interval against
    ``paper_single`` (a number without an interval)."""
    rows, recalls = {}, {}
    for name, p in zip(names, (student, alone)):
        test = scores(p["test_probs"], p["test_labels"], classes)
        acc, low, high = accuracy_interval(p["test_probs"].argmax(1) == p["test_labels"],
                                           n_boot=n_boot)
        rows[name] = {"PublicTest accuracy": accuracy(p["val_probs"].argmax(1),
                                                      p["val_labels"]),
                      "test accuracy": acc, "95 % interval": f"{low:.3f} to {high:.3f}",
                      "macro-F1": test["macro_f1"], "Disgust recall": test["recall"]["Disgust"],
                      "low": low, "high": high}
        recalls[name] = test["recall"]
    recall = pd.DataFrame(recalls)
    change = recall[names[0]] - recall[names[1]]
    recall["change (points)"] = [signed_points(v) for v in change]
    versus = paired_bootstrap(student["test_probs"].argmax(1) == student["test_labels"],
                              alone["test_probs"].argmax(1) == alone["test_labels"],
                              n_boot=n_boot)
    s = rows[names[0]]
    against_paper = ("above" if s["low"] > paper_single else "below" if s["high"] < paper_single
                     else "level with")
    rows[names[0]]["on labels alone"] = names[1]
    rows[names[0]]["points against it (95 %)"] = (
        f"{signed_points(versus.difference)} ({signed_points(versus.low)} to "
        f"{signed_points(versus.high)})")
    rows[names[1]].update({"on labels alone": "", "points against it (95 %)": ""})
    table = pd.DataFrame(rows).T.drop(columns=["low", "high"]).infer_objects()
    return StudentReport(table, recall, versus, against_paper)


def chosen_student(reports: Mapping[str, StudentReport]) -> str:
    """The student PublicTest chooses: the one of ``reports`` (by name) most accurate there.

    >>> row = lambda s, pub: pd.DataFrame({"PublicTest accuracy": [pub, .5]}, index=[s, "a"])
    >>> chosen_student({s: StudentReport(row(s, pub), None, None)
    ...                 for s, pub in (("s1", .68), ("s2", .69))})
    's2'
    """
    if not reports:
        raise ValueError("no student to choose from")
    return max(reports, key=lambda name: reports[name].table.loc[name, "PublicTest accuracy"])


def students_summary(reports: Mapping[str, StudentReport], paper_single: float,
                     default: str | None = None, against: tuple[str, Any] | None = None,
                     minutes: Mapping[str, float] | None = None, budget: float = 60.0) -> str:
    """One line on several students (``student_report``'s reports by name): the one
    PublicTest chooses, with its test accuracy, its paired difference against the same
    network on labels alone (and against ``against``: a run's name and the chosen
    student's paired difference with it), where it stands against the paper's single
    network, whether PublicTest puts it ahead of its network on labels alone and whether it
    is the course's ``default`` network (or, by the students' training ``minutes``, why
    not: over the ``budget``); then the others' test accuracy.

    >>> acc = lambda a, pub: {"test accuracy": a, "PublicTest accuracy": pub}
    >>> class V: difference, low, high = .003, -.007, .013
    >>> report = StudentReport(pd.DataFrame({"s": acc(.701, .673), "best": acc(.698, .677)}).T,
    ...                        None, V(), "level with")
    >>> students_summary({"s": report}, 0.708)[-40:]
    'On PublicTest `best` stays ahead of `s`.'
    >>> line = students_summary({"s": report}, 0.708, "d", minutes={"s": 62.3, "d": 50.9})
    >>> "does not ship: its own training took 62.3 minutes, over the 60-minute budget" in line
    True
    """
    chosen = chosen_student(reports)
    report = reports[chosen]
    row, v, alone = report.table.loc[chosen], report.versus, report.alone
    line = (f"Of the distilled students, PublicTest chooses `{chosen}`: test accuracy "
            f"**{row['test accuracy']:.3f}**, {signed_points(v.difference)} points against "
            f"`{alone}`, the same network on labels alone (paired 95 % interval "
            f"{signed_points(v.low)} to {signed_points(v.high)})")
    if against is not None:
        name, paired = against
        line += (f", {signed_points(paired.difference)} against `{name}` "
                 f"({signed_points(paired.low)} to {signed_points(paired.high)})")
    line += f"; {report.paper} the paper's {paper_single:.3f}. "
    public, own = row["PublicTest accuracy"], report.table.loc[alone, "PublicTest accuracy"]
    line += (f"On PublicTest it is ahead of `{alone}` ({public:.3f} against {own:.3f})."
             if public > own else f"On PublicTest `{alone}` stays ahead of `{chosen}`.")
    if default == chosen:
        line += " It ships as the course's default network."
    elif (minutes is not None and default in minutes
          and minutes.get(chosen, 0.0) > budget >= minutes[default]):
        line += (f" It does not ship: its own training took {minutes[chosen]:.1f} minutes, "
                 f"over the {budget:g}-minute budget; `{default}` ({minutes[default]:.1f}) stays "
                 "the default.")
    others = [f"`{name}` {r.table.loc[name, 'test accuracy']:.3f}"
              for name, r in reports.items() if name != chosen]
    if others:
        line += f" The others on test: {', '.join(others)}."
    return line


def teacher_sentence(teacher: str, members: Mapping[str, Mapping[str, np.ndarray]],
                     minutes: float) -> str:
    """What a teacher is: its members, the PublicTest accuracy of their soft vote against
    its best member, and their training ``minutes`` in all (a student's hidden cost).
    ``members`` maps each run to its predictions (``val_probs``, ``val_labels``).

    >>> eye, labels = np.eye(7), np.arange(4)
    >>> one = {"val_probs": eye[[0, 1, 2, 0]], "val_labels": labels}
    >>> two = {"val_probs": eye[[0, 1, 0, 3]], "val_labels": labels}
    >>> three = {"val_probs": eye[[1, 1, 2, 3]], "val_labels": labels}
    >>> teacher_sentence("t", {"a": one, "b": two, "c": three}, 110.4)[:72]
    'The teacher `t` is the soft vote of `a`, `b`, `c`: 1.000 on PublicTest ('
    >>> teacher_sentence("t", {"a": one, "b": two, "c": three}, 110.4)[72:]
    'its best member 0.750), trained in 110 minutes in all.'
    """
    if not members:
        raise ValueError(f"teacher {teacher!r} has no member")
    alone = {n: accuracy(p["val_probs"].argmax(1), p["val_labels"]) for n, p in members.items()}
    first = next(iter(members.values()))
    vote = accuracy(np.mean([p["val_probs"] for p in members.values()], 0).argmax(1),
                    first["val_labels"])
    what = ("the network" if len(members) == 1 else "the soft vote of") + " " + ", ".join(
        f"`{n}`" for n in members)
    best = f" (its best member {max(alone.values()):.3f})" if len(members) > 1 else ""
    return (f"The teacher `{teacher}` is {what}: {vote:.3f} on PublicTest{best}, trained in "
            f"{minutes:.0f} minutes in all.")


def views_sentence(students: Sequence[str], teacher: str, views: int,
                   seconds: float | None) -> str:
    """How consistently taught students got their targets: the teacher's answers on
    ``views`` stored views of each training face, what they cost, and who learns from them.

    >>> views_sentence(["s"], "t", 8, 2040.0)[:68]
    '`t` answered 8 stored views of every training face in 34 minutes, on'
    >>> views_sentence(["s"], "t", 8, 2040.0)[-39:]
    'its own training: `s` learns from them.'
    >>> views_sentence(["a", "b"], "t", 8, None)[-28:]
    '`a` and `b` learn from them.'
    """
    if not students:
        raise ValueError(f"no student learns from {teacher!r}'s {views} views")
    names = [f"`{name}`" for name in students]
    who = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    cost = f" in {seconds / 60:.0f} minutes, on top of its own training" if seconds else ""
    return (f"`{teacher}` answered {views} stored views of every training face{cost}: {who} "
            f"learn{'s' if len(names) == 1 else ''} from them.")


def students_table(reports: Iterable[StudentReport]) -> pd.DataFrame:
    """One table of several students: each student's row, then each network on labels
    alone they are set against, once (``StudentReport.table`` rows, in the order given).

    >>> row = lambda name, acc: pd.DataFrame({"test accuracy": [acc]}, index=[name])
    >>> report = lambda s, acc, alone: StudentReport(
    ...     pd.concat([row(s, acc), row(alone, 0.70)]), None, None)
    >>> students_table([report("a", 0.69, "best"), report("b", 0.71, "best-e44"),
    ...                 report("c", 0.72, "best")]).index.tolist()
    ['a', 'b', 'c', 'best', 'best-e44']
    """
    tables = [report.table for report in reports]
    if not tables:
        raise ValueError("no student to show")
    alone: dict[str, pd.DataFrame] = {}
    for table in tables:
        alone.setdefault(str(table.index[1]), table.iloc[1:2])
    return pd.concat([*(table.iloc[:1] for table in tables), *alone.values()])


def disagreement(probs: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """For each pair of networks, the share of faces on which their predicted classes
    differ: networks that agree everywhere cannot correct each other in a vote.

    >>> eye = np.eye(2)
    >>> float(disagreement({"a": eye[[0, 0, 1, 1]], "b": eye[[0, 1, 1, 1]]}).loc["a", "b"])
    0.25
    """
    names = list(probs)
    predicted = {n: np.asarray(probs[n]).argmax(1) for n in names}
    return pd.DataFrame([[float((predicted[a] != predicted[b]).mean()) for b in names]
                         for a in names], index=names, columns=names)


def verdict_at_length(short_worth: float | None, low: float, high: float) -> str:
    """How an ingredient's worth at full length reads against its worth at the short
    budget: ``low`` to ``high`` is the 95 % interval of its worth (with it minus without
    it) at full length, ``short_worth`` its worth at the short budget (``None``: not run).

    >>> verdict_at_length(0.022, 0.004, 0.030), verdict_at_length(0.022, -0.031, -0.012)
    ('keeps its sign, beyond the noise', 'turns over, beyond the noise')
    >>> verdict_at_length(0.022, -0.005, 0.010), verdict_at_length(None, 0.01, 0.02)
    ('is within the noise at full length', 'was not measured at the short budget')
    """
    if short_worth is None:
        return "was not measured at the short budget"
    if low <= 0 <= high:
        return "is within the noise at full length"
    if (low > 0) == (short_worth > 0):
        return "keeps its sign, beyond the noise"
    return "turns over, beyond the noise"


def ensemble_of(val_probs: np.ndarray, test_probs: np.ndarray, val_labels: np.ndarray,
                rules: Sequence[str] = ("soft", "majority")) -> dict[str, Any]:
    """Members and rule chosen on validation (greedy forward selection per rule, the rule
    with the best validation accuracy wins); the test predictions follow from that choice.
    ``*_probs`` are ``[models, N, C]``."""
    best: dict[str, Any] | None = None
    for rule in rules:
        members, curve = greedy_selection(val_probs, val_labels, rule=rule)
        if best is None or curve[-1] > best["val_accuracy"]:
            best = {"rule": rule, "members": members, "val_accuracy": curve[-1]}
    assert best is not None
    best["test_predicted"] = ensemble_predictions(test_probs, best["members"], best["rule"])
    return best


def vote_accuracy(probs: Mapping[str, np.ndarray], labels: np.ndarray,
                  rules: Sequence[str] = ("soft", "majority")) -> float:
    """The accuracy of the vote of all ``probs`` (a network's name to its ``[N, C]``
    probabilities) under the best of ``rules``: how a pool is judged on PublicTest before a
    member joins it.

    >>> eye = np.eye(2)
    >>> vote_accuracy({"a": eye[[0, 0, 1]], "b": eye[[0, 1, 1]], "c": eye[[1, 1, 1]]},
    ...               np.array([0, 1, 1]))
    1.0
    """
    if not probs:
        raise ValueError("no network to vote")
    stacked = np.stack(list(probs.values()))
    return max(accuracy(ensemble_predictions(stacked, range(len(stacked)), rule), labels)
               for rule in rules)


@dataclass
class SeedEnsembles:
    """The recipe's networks (one per seed) alone and voting together.

    ``members``: each network's validation and test accuracy, and the test accuracy of the
    soft vote of it and every network above it. ``table``: the best member on validation,
    the vote of all (rule chosen on validation) and the greedy selection (members and rule
    chosen on validation), each with its test accuracy, 95 % interval and paired
    difference from the best member. ``all_predicted``: the vote of all's test classes.
    """

    members: pd.DataFrame
    table: pd.DataFrame
    best_member: str
    all_rule: str
    all_predicted: np.ndarray
    greedy: dict[str, Any]

    def view(self) -> pd.DataFrame:
        """``table`` as the page shows it: the interval as text, the members left out."""
        out = self.table.drop(columns=["members", "low", "high"])
        out.insert(3, "95 % interval", [f"{lo:.3f} to {hi:.3f}" for lo, hi in
                                        zip(self.table["low"], self.table["high"])])
        return out


def seed_ensembles(val_probs: Mapping[str, np.ndarray], test_probs: Mapping[str, np.ndarray],
                   val_labels: np.ndarray, test_labels: np.ndarray,
                   rules: Sequence[str] = ("soft", "majority"), n_boot: int = 10_000,
                   ) -> SeedEnsembles:
    """Every choice on validation, the test faces scored once: ``*_probs`` map a network's
    name to its ``[N, C]`` probabilities.

    >>> eye = np.eye(2)
    >>> val = {"a": eye[[0, 0, 1]], "b": eye[[0, 1, 1]], "c": eye[[1, 1, 1]]}
    >>> test = {"a": eye[[0, 1, 0]], "b": eye[[0, 1, 1]], "c": eye[[1, 1, 1]]}
    >>> s = seed_ensembles(val, test, np.array([0, 1, 1]), np.array([0, 1, 1]), n_boot=100)
    >>> s.best_member, s.members["test accuracy"].tolist()
    ('b', [0.6666666666666666, 1.0, 0.6666666666666666])
    >>> s.table["test accuracy"].round(3).tolist()  # b alone; a+b+c vote; greedy: b
    [1.0, 1.0, 1.0]
    """
    names = list(val_probs)
    val = np.stack([val_probs[n] for n in names])
    test = np.stack([test_probs[n] for n in names])
    val_labels, test_labels = np.asarray(val_labels), np.asarray(test_labels)
    members = pd.DataFrame({
        "validation accuracy": [accuracy(v.argmax(1), val_labels) for v in val],
        "test accuracy": [accuracy(t.argmax(1), test_labels) for t in test],
        "soft vote so far (test)": [
            accuracy(ensemble_predictions(test, range(k + 1), "soft"), test_labels)
            for k in range(len(names))],
    }, index=pd.Index(names, name="network"))
    best = int(np.argmax(members["validation accuracy"].to_numpy()))
    all_rule = max(rules, key=lambda r: accuracy(ensemble_predictions(val, range(len(names)), r),
                                            val_labels))  # first rule wins a tie
    greedy = ensemble_of(val, test, val_labels, rules)
    all_predicted = ensemble_predictions(test, range(len(names)), all_rule)
    candidates = {
        f"best member on validation ({names[best]})": ([best], "—", test[best].argmax(1)),
        f"vote of all {len(names)}": (list(range(len(names))), all_rule, all_predicted),
        f"greedy selection ({len(greedy['members'])} of {len(names)})": (
            greedy["members"], greedy["rule"], greedy["test_predicted"]),
    }
    best_correct = test[best].argmax(1) == test_labels
    rows = []
    for label, (chosen, rule, predicted) in candidates.items():
        on_val = ensemble_predictions(val, chosen, rule if rule != "—" else "soft")
        score, low, high = accuracy_interval(predicted == test_labels, n_boot)
        change, interval = "—", "—"  # the best member against itself: nothing to compare
        if rule != "—":
            versus = paired_bootstrap(predicted == test_labels, best_correct, n_boot=n_boot)
            change = signed_points(versus.difference)
            interval = f"{signed_points(versus.low)} to {signed_points(versus.high)}"
        rows.append({"ensemble": label, "members": ", ".join(names[i] for i in chosen),
                     "rule": rule, "validation accuracy": accuracy(on_val, val_labels),
                     "test accuracy": score, "low": low, "high": high,
                     "vs best member (points)": change,
                     "its 95 % interval": interval})
    return SeedEnsembles(members, pd.DataFrame(rows).set_index("ensemble"), names[best],
                         all_rule, all_predicted, greedy)
