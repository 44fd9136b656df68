"""Chapter 3's tables and comparisons: honest choices, ties, the leak, the bootstrap verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_course.analysis import ensemble
from fer_course.analysis.ensemble_report import (
    PAPER_RULE,
    EnsembleChoice,
    SingleVsEnsemble,
    advice_sentence,
    best_on_validation,
    compare_with_best_single,
    curve_table,
    diminishing_returns,
    leak_table,
    mean_leak,
    member_runs,
    member_table,
    reached_share,
    recall_change,
    recall_sentence,
    simulated_members,
    tie_rate_table,
    top_k_states,
)
from fer_course.analysis.significance import BootstrapResult, McNemarResult, paired_bootstrap
from fer_course.data import make_synthetic_fer
from fer_course.engine.loop import MissingRunError
from fer_course.engine.named_runs import fit_missing_runs
from fer_course.profiles import get_profile
from fer_course.runs.store import RESULTS_ENV, RunStore


@pytest.fixture(scope="module")
def members() -> ensemble.EnsembleMembers:
    return simulated_members(6, n_images=400, seed=3)


def test_too_few_runs_say_how_to_get_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "results"))
    store = RunStore("smoke", tmp_path / "runs")
    with pytest.raises(MissingRunError, match="train_missing = True.*resnet18, vgg11"):
        member_runs(store, min_members=1, standby_archs=["resnet18", "vgg11"])
    assert member_runs(store) == []  # the analysis never trains


@pytest.mark.usefixtures("one_thread")  # tests/conftest.py
def test_standby_members_are_registry_runs_the_engine_trains(tmp_path: Path,
                                                               monkeypatch) -> None:
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "results"))
    data = make_synthetic_fer(70, 14, 14, seed=1)
    profile = get_profile("smoke", image_size=32)
    store = RunStore("smoke", tmp_path / "runs")
    trained = fit_missing_runs(data, ["resnet18"], profile, store=store, progress=False,
                               epochs=1)
    assert [r.run.path.name for r in trained] == ["resnet18"]
    runs = member_runs(store, data, min_members=1)
    assert [r.path.name for r in runs] == ["resnet18"]
    assert len(runs[0].read_history()) == 1  # the override shortens the standby run
    members = ensemble.EnsembleMembers.from_runs(runs, data)
    table = member_table(runs, members)
    assert table.loc[0, ["run", "architecture", "seed"]].tolist() == ["resnet18", "resnet18", 0]
    assert table.loc[0, "test"] == members.accuracies("test")[0]
    # a finished run of the name (chapter 2's, other epochs) is kept: no retraining into a
    # clash with its folder
    assert fit_missing_runs(data, ["resnet18"], profile, store=store, epochs=2) == []
    assert [len(r.read_history()) for r in member_runs(store, data)] == [1]
    # a run on other labels (FER+) is no member of an ensemble on FER-2013's labels
    from fer_course.data.ferplus import apply_ferplus_labels, synthetic_ferplus_votes
    from fer_course.engine.backbone_task import fit

    plus = apply_ferplus_labels(data, synthetic_ferplus_votes(data))
    fit(plus, "resnet18", profile.overridden(epochs=1), tmp_path / "runs" / "resnet18-ferplus",
        progress=False)
    assert [r.path.name for r in member_runs(store, data, min_members=1)] == ["resnet18"]
    assert len(member_runs(store, min_members=1)) == 2  # no data: no check


def test_curve_table_rows_are_k(members) -> None:
    curves = members.curves("val", "test")
    table = curve_table(curves)
    assert table.index.tolist() == list(range(1, 7))
    assert table["added member"].tolist() == list(curves["members"])
    assert table.loc[3, "soft"] == curves["soft"][2]


def test_tie_rates_per_k(members) -> None:
    table = tie_rate_table(members)
    assert table.loc[1, "tie rate (test)"] == 0.0  # one voter never ties
    top2 = ensemble.order_by(members.accuracies("val"))[:2]
    votes = members.test_probs[top2].argmax(-1)
    assert table.loc[2, "tie rate (test)"] == pytest.approx((votes[0] != votes[1]).mean())
    assert table["k is even"].tolist() == [False, True] * 3


def test_the_best_ensemble_is_chosen_without_the_test_split(members) -> None:
    choice = best_on_validation(members)
    on_val = members.curves("val", "val")
    assert choice.val == max(float(on_val[r].max()) for r in ensemble.RULES)
    assert choice.members == tuple(ensemble.order_by(members.accuracies("val"))[:choice.k])
    predicted = choice.predictions(members, "test")
    assert choice.test == ensemble.accuracy(predicted, members.test_labels)
    scrambled = simulated_members(6, n_images=400, seed=3)  # the same; then only test changes
    scrambled.test_probs = scrambled.test_probs[::-1].copy()
    again = best_on_validation(scrambled)
    assert (again.rule, again.k) == (choice.rule, choice.k)


def test_comparison_uses_the_paired_tests(members) -> None:
    choice = best_on_validation(members)
    result = compare_with_best_single(members, choice, n_boot=500)
    single = ensemble.order_by(members.accuracies("val"))[0]
    single_correct = members.test_probs[single].argmax(-1) == members.test_labels
    ensemble_correct = choice.predictions(members, "test") == members.test_labels
    assert result.single == members.names[single]
    assert result.bootstrap == paired_bootstrap(ensemble_correct, single_correct, n_boot=500)
    assert result.mcnemar.a_only == int((ensemble_correct & ~single_correct).sum())
    assert result.ensemble_test - result.single_test == pytest.approx(
        result.bootstrap.difference)
    table = result.table()
    assert table.shape[0] == 3 and "95% interval" in table.columns
    assert table.attrs["p_floor"] == 1 / 500  # a bootstrap p of 0 means p < 1 / n_boot


def test_the_table_shows_the_exact_p_and_the_bootstrap_floor() -> None:
    from fer_course.views.reading import readable

    choice = EnsembleChoice("soft", 3, (0, 1, 2), 0.7, 0.7)
    # 40 images only the ensemble gets right, 5 only the member: 2 * P(X <= 5),
    # X ~ Binomial(45, 1/2) = 2 * (1 + 45 + 990 + 14190 + 148995 + 1221759) / 2**45
    exact = 2 * 1385980 / 2**45
    result = SingleVsEnsemble(choice, "resnet18", 0.60, 0.63, 3589,
                              BootstrapResult(0.03, 0.02, 0.04, 0.0, 0.95, 10_000),
                              McNemarResult(40, 5, exact, "exact binomial"))
    cells = readable(result.table()).iloc[2]
    assert cells["bootstrap p"] == "< 1e-4"  # no resample reached 0: below 1 / 10,000
    assert cells["McNemar p"] == "7.9e-8" and f"{exact:.1e}" == "7.9e-08"
    assert cells["95% interval"] == "[+0.020, +0.040]"
    assert "McNemar p = 7.9e-8" in result.sentence()
    assert "3,589 test images" in result.sentence()


def test_recall_change_in_words() -> None:
    table = recall_change([0.30, 0.0, 0.26, 0.78, 0.51], [0.33, 0.0, 0.20, 0.78, 0.42],
                          ["Angry", "Disgust", "Fear", "Happy", "Sad"])
    assert table["change"].round(3).tolist() == [0.03, 0.0, -0.06, 0.0, -0.09]
    text = recall_sentence(table)
    assert "more than its best member on 1 of the 5 classes (Angry +3.0 points)" in text
    assert "less on 2 (Sad -9.0 points, Fear -6.0 points)" in text  # largest change first
    assert "Unchanged: Happy." in text and "single Disgust face" in text
    assert "trades recall" in text  # unlike the paper's "nearly every class"
    nearly = recall_change([0.3, 0.4, 0.5, 0.6], [0.4, 0.5, 0.6, 0.59], list("ABCD"))
    assert "close to the paper's finding" in recall_sentence(nearly)
    better = recall_change([0.3, 0.4], [0.4, 0.4], list("AB"))
    assert "at least as good on every class" in recall_sentence(better)
    same = recall_change([0.3, 0.4], [0.3, 0.4], list("AB"))
    assert "exactly as its best member" in recall_sentence(same)


def test_top_k_states_are_the_ensembles_of_the_validation_order(members) -> None:
    states = top_k_states(members, seed=0)
    order = ensemble.order_by(members.accuracies("val"))
    weights = members.accuracies("val")
    for rule in ensemble.RULES:
        assert [s["k"] for s in states[rule]] == list(range(1, len(members) + 1))
        for state in states[rule]:
            chosen = order[:state["k"]]
            assert state["members"] == [members.names[i] for i in chosen]
            predicted = ensemble.ensemble_predictions(members.test_probs, chosen, rule,
                                                      weights, seed=0)
            assert state["test"] == ensemble.accuracy(predicted, members.test_labels)
    # k = 1 is the best member by validation under every rule
    assert {s[0]["val"] for s in states.values()} == {float(members.accuracies("val").max())}


def verdict(difference: float, low: float, high: float, k: int = 3) -> str:
    choice = EnsembleChoice("soft", k, tuple(range(k)), 0.7, 0.7)
    return SingleVsEnsemble(choice, "resnet18", 0.68, 0.68 + difference, 1000,
                            BootstrapResult(difference, low, high, 0.01, 0.95, 1000),
                            McNemarResult(60, 40, 0.06, "exact binomial")).sentence()


def test_the_sentence_reads_right_whichever_way_it_falls() -> None:
    assert "lies above 0" in verdict(0.02, 0.005, 0.035)
    assert "2.0 percentage points more accurate" in verdict(0.02, 0.005, 0.035)
    assert "includes 0" in verdict(0.01, -0.004, 0.024)
    below = verdict(-0.02, -0.035, -0.005)
    assert "less accurate" in below and "lies below 0" in below
    assert "equally accurate" in verdict(0.0, -0.01, 0.01)
    assert "k = 1" in verdict(0.0, 0.0, 0.0, k=1)


def test_leak_table_is_the_selection_comparison(members) -> None:
    table = leak_table(members)
    honest, paper = ensemble.selection_comparison(members, PAPER_RULE).values()
    row = table.loc[PAPER_RULE]
    assert (row["honest k"], row["paper's k"]) == (honest["k"], paper["k"])
    assert row["leak (points)"] == pytest.approx(100 * (paper["test"] - honest["test"]))


def test_one_member_has_no_leak() -> None:
    assert mean_leak(1, repeats=2, n_images=200) == 0.0


def test_diminishing_returns_on_a_known_curve() -> None:
    curve = np.array([0.60, 0.58, 0.63, 0.64, 0.66, 0.66, 0.67, 0.665])
    table = diminishing_returns({"soft": curve}, rules=["soft"])
    row = table.loc["soft"]
    assert row["best k"] == 7 and row["first k above k=1"] == 3
    assert row["share of best gain at k=5"] == pytest.approx(6 / 7)
    assert row["gain per member after 5 (points)"] == pytest.approx(100 * 0.005 / 3)
    short = diminishing_returns({"soft": curve[:3]}, rules=["soft"]).loc["soft"]
    assert np.isnan(short["k=5"]) and short["best k"] == 3
    assert np.isnan(reached_share([0.6, 0.5], 2))


def test_advice_sentences() -> None:
    assert "cannot be checked" in advice_sentence([0.6, 0.62, 0.63], "soft")
    assert "no gain" in advice_sentence([0.6, 0.5, 0.55, 0.5, 0.6, 0.59], "soft")
    text = advice_sentence([0.60, 0.58, 0.63, 0.64, 0.66, 0.66, 0.67, 0.665], "soft")
    assert "86%" in text and "best k = 7" in text and "other 3 members" in text


def test_simulated_members_are_exchangeable_and_reproducible() -> None:
    a, b = simulated_members(4, n_images=3000, seed=1), simulated_members(4, n_images=3000,
                                                                            seed=1)
    np.testing.assert_array_equal(a.test_probs, b.test_probs)
    accuracies = a.accuracies("test")
    assert accuracies.max() - accuracies.min() < 0.05
    assert not np.array_equal(a.val_labels, a.test_labels)
