"""Chapter 7's ensemble of the recipe's seeds: every choice on validation, hand-checked."""

from __future__ import annotations

import numpy as np
import pytest

from fer_course.analysis.best_report import seed_ensembles


def five_seeds() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Ten faces, all of class 1; seed i answers class 0 on faces 2i and 2i+1 only, so
    each face is missed by exactly one seed."""
    probs = {}
    for i in range(5):
        answers = np.ones(10, dtype=int)
        answers[[2 * i, 2 * i + 1]] = 0
        probs[f"seed{i}"] = np.eye(2)[answers]
    return probs, np.ones(10, dtype=int)


def test_the_vote_of_all_fixes_what_each_seed_misses_and_greedy_stops_at_one() -> None:
    probs, labels = five_seeds()
    result = seed_ensembles(probs, probs, labels, labels, n_boot=200)
    # each seed alone: 8 of 10; two seeds tie on 4 faces and np.argmax breaks ties
    # towards class 0 (wrong); three or more outvote every single miss
    assert result.members["test accuracy"].tolist() == [0.8] * 5
    assert result.members["soft vote so far (test)"].tolist() == [0.8, 0.6, 1.0, 1.0, 1.0]
    assert result.best_member == "seed0"  # a tie on validation: the first
    table = result.table
    assert list(table.index) == ["best member on validation (seed0)", "vote of all 5",
                                 "greedy selection (1 of 5)"]
    assert table["test accuracy"].tolist() == [0.8, 1.0, 0.8]
    assert table.loc["vote of all 5", "rule"] == "soft"
    assert table.loc["vote of all 5", "vs best member (points)"] == "+20.0"
    assert table.iloc[0]["vs best member (points)"] == "—"  # not against itself
    # greedy adds a member only when validation accuracy rises; any second seed lowers it
    assert table.loc["greedy selection (1 of 5)", "members"] == "seed0"
    assert table.loc["greedy selection (1 of 5)", "vs best member (points)"] == "0.0"
    assert (result.all_predicted == labels).all()
    assert result.view().loc["vote of all 5", "95 % interval"] == "1.000 to 1.000"
    low, high = table.loc["vote of all 5", ["low", "high"]]
    assert low == high == 1.0  # every bootstrap sample of an all-correct vote is all correct


def test_the_rule_of_the_vote_of_all_is_chosen_on_validation_not_test() -> None:
    probs, labels = five_seeds()
    val = {k: v.copy() for k, v in probs.items()}
    # face 0 on validation: two sure wrong answers, three unsure right ones
    val["seed0"][0] = [1.0, 0.0]
    val["seed1"][0] = [0.99, 0.01]
    for k in ("seed2", "seed3", "seed4"):
        val[k][0] = [0.45, 0.55]
    # soft: 1 + 0.99 + 3 * 0.45 = 3.34 for class 0 against 1.66, wrong; majority 2 to 3, right
    result = seed_ensembles(val, probs, labels, labels, n_boot=200)
    assert result.all_rule == "majority"
    assert result.table.loc["vote of all 5", "validation accuracy"] == 1.0


def test_a_full_length_ablation_reads_against_the_short_one() -> None:
    from fer_course.analysis.best_report import verdict_at_length

    # an ingredient worth +2.2 points at 12 epochs
    assert verdict_at_length(0.022, 0.001, 0.02) == "keeps its sign, beyond the noise"
    assert verdict_at_length(0.022, -0.02, -0.001) == "turns over, beyond the noise"
    assert verdict_at_length(0.022, -0.001, 0.02) == "is within the noise at full length"
    # and one that cost a point at 12 epochs
    assert verdict_at_length(-0.01, -0.02, -0.005) == "keeps its sign, beyond the noise"
    assert verdict_at_length(-0.01, 0.004, 0.02) == "turns over, beyond the noise"
    # an interval that touches zero is not beyond the noise
    assert verdict_at_length(-0.01, -0.02, 0.0) == "is within the noise at full length"


def test_the_worth_summary_names_the_ingredient_worth_the_most() -> None:
    import pandas as pd

    from fer_course.analysis.best_report import worth_summary

    table = pd.DataFrame({"worth": [None, -0.004, 0.012], "low": [None, -0.02, 0.002],
                          "high": [None, 0.01, 0.03]}, index=["(full)", "erasing", "affine"])
    lines = worth_summary(table, 35).splitlines()
    assert lines[0].startswith("- **erasing** is worth -0.4 points") and "noise by one" in lines[0]
    assert "+1.2 points" in lines[1] and "it helps, beyond the noise" in lines[1]
    assert lines[2] == "Worth the most at 35 epochs: **affine**, +1.2 points."


def test_disagreement_counts_the_faces_two_networks_answer_differently() -> None:
    from fer_course.analysis.best_report import disagreement

    probs, _ = five_seeds()
    table = disagreement(probs)
    # seeds i and j (i != j) each answer 0 on two faces of their own: 4 of 10 differ
    assert table.loc["seed0", "seed0"] == 0.0
    assert table.loc["seed0", "seed3"] == table.loc["seed3", "seed0"] == 0.4
    assert list(table.index) == list(table.columns) == list(probs)


def test_a_student_is_compared_with_the_same_network_on_labels_alone() -> None:
    import numpy as np

    from fer_course.analysis.best_report import student_report

    classes = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
    labels = np.arange(700) % 7
    eye = np.eye(7)
    right = eye[labels]
    wrong = eye[(labels + 1) % 7]
    student = {"val_probs": right, "val_labels": labels, "test_labels": labels,
               "test_probs": np.where((np.arange(700) < 630)[:, None], right, wrong)}
    alone = {"val_probs": wrong, "val_labels": labels, "test_labels": labels,
             "test_probs": np.where((np.arange(700) < 560)[:, None], right, wrong)}
    report = student_report(student, alone, ("s", "a"), classes, paper_single=0.708, n_boot=500)
    assert report.table.loc["s", "test accuracy"] == 0.9
    assert report.table.loc["a", "PublicTest accuracy"] == 0.0
    assert abs(report.versus.difference - 0.1) < 1e-12
    assert report.paper == "above" and (report.student, report.alone) == ("s", "a")
    assert report.table.loc["s", "on labels alone"] == "a"
    assert report.table.loc["s", "points against it (95 %)"].startswith("+10.0 (")
    assert report.table.loc["a", "on labels alone"] == ""
    assert set(report.recall.columns) == {"s", "a", "change (points)"}


CLASSES = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]


def run(correct: int) -> dict:
    """Predictions of a network right on the first ``correct`` of 700 faces (PublicTest and
    test alike), wrong by one class on the rest."""
    labels, eye = np.arange(700) % 7, np.eye(7)
    probs = np.where((np.arange(700) < correct)[:, None], eye[labels], eye[(labels + 1) % 7])
    return {"val_probs": probs, "val_labels": labels, "test_probs": probs,
            "test_labels": labels}


def test_students_share_one_table_with_the_networks_they_are_set_against() -> None:
    import pytest

    from fer_course.analysis.best_report import student_report, students_table

    classes = CLASSES
    alone = run(560)
    reports = [student_report(run(n), alone, (name, "a"), classes, 0.708, n_boot=200)
               for name, n in (("s1", 630), ("s2", 490))]
    table = students_table(reports)
    assert table.index.tolist() == ["s1", "s2", "a"]
    assert table["test accuracy"].tolist() == [0.9, 0.7, 0.8]
    # a student trained longer is set against its own network on labels alone, shown once
    longer = student_report(run(600), run(100), ("s3", "b"), classes, 0.708, n_boot=200)
    table = students_table([reports[0], longer, reports[1]])
    assert table.index.tolist() == ["s1", "s3", "s2", "a", "b"]
    assert table.loc["s3", "on labels alone"] == "b"
    assert table["test accuracy"].tolist() == [0.9, 600 / 700, 0.7, 0.8, 100 / 700]
    with pytest.raises(ValueError, match="no student"):
        students_table([])


def test_a_student_table_keeps_its_numbers_as_numbers() -> None:
    """``readable`` rounds float columns only: the transposed table must not leave them as
    objects."""
    import numpy as np

    from fer_course.analysis.best_report import student_report
    from fer_course.views.reading import readable

    labels = np.arange(70) % 7
    probs = np.eye(7)[labels]
    runs = {"val_probs": probs, "val_labels": labels, "test_probs": probs,
            "test_labels": labels}
    classes = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
    table = student_report(runs, runs, ("s", "a"), classes, 0.708,
                           n_boot=100).table
    assert table["test accuracy"].dtype.kind == "f"
    assert readable(table).loc["s", "PublicTest accuracy"] == "1.000"


def test_the_students_summary_leads_with_the_student_chosen_on_public_test() -> None:
    from fer_course.analysis.best_report import chosen_student, student_report, students_summary
    from fer_course.analysis.significance import paired_bootstrap

    alone = run(560)
    reports = {name: student_report(run(n), alone, (name, "a"), CLASSES, 0.708, n_boot=200)
               for name, n in (("s1", 630), ("s2", 420))}
    assert chosen_student(reports) == "s1"
    line = students_summary(reports, 0.708)
    assert line.startswith("Of the distilled students, PublicTest chooses `s1`: test "
                           "accuracy **0.900**, +10.0 points against `a`, the same network "
                           "on labels alone")
    assert "above the paper's 0.708" in line
    assert "ahead of `a` (0.900 against 0.800)" in line
    assert line.endswith("The others on test: `s2` 0.600.")
    assert "default" not in line
    assert "It ships as the course's default network." in students_summary(
        reports, 0.708, default="s1")
    labels = run(0)["test_labels"]
    versus = paired_bootstrap(run(630)["test_probs"].argmax(1) == labels,
                              run(490)["test_probs"].argmax(1) == labels, n_boot=200)
    beside = students_summary(reports, 0.708, against=("best", versus))
    assert "on labels alone (paired 95 % interval +" in beside
    assert ", +20.0 against `best` (+" in beside
    behind = students_summary({"s2": reports["s2"]}, 0.708)
    assert "below the paper's" in behind
    assert behind.endswith("`a` stays ahead of `s2`.")
    with pytest.raises(ValueError, match="no student"):
        chosen_student({})


def test_a_pool_is_judged_by_its_vote_of_all_under_the_better_rule() -> None:
    """``vote_accuracy`` decides whether a member joins chapter 7's pool: a network right
    where the pool is wrong raises it, a copy of a member does not; the rule is the better
    of soft and majority."""
    from fer_course.analysis.best_report import vote_accuracy

    labels = np.array([0, 1, 2])
    a = np.array([[.7, .3, 0], [.7, .3, 0], [0, 0, 1]])  # wrong on the second face
    b = np.array([[.6, .4, 0], [0, 1, 0], [0, 0, 1]])  # right there, surely
    assert vote_accuracy({"a": a}, labels) == 2 / 3
    assert vote_accuracy({"a": a, "copy": a.copy()}, labels) == 2 / 3
    assert vote_accuracy({"a": a, "b": b}, labels) == 1.0
    # two members slightly right outvote one surely wrong by majority, not by the mean
    weak, sure = np.array([[.6, .4]]), np.array([[0., 1.]])
    three = {"x": weak, "y": weak, "z": sure}
    assert vote_accuracy(three, np.array([0]), rules=("soft",)) == 0.0
    assert vote_accuracy(three, np.array([0])) == 1.0
    with pytest.raises(ValueError, match="no network"):
        vote_accuracy({}, labels)
