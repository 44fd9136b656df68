"""Course runs by name (``fer_course.course_runs``) and label-noise scores
(``fer_course.label_noise``)."""

from __future__ import annotations

import numpy as np
import pytest

from fer_course.course_runs import fit_course_run, parse_run_name
from fer_course.data import make_synthetic_fer
from fer_course.data.ferplus import apply_ferplus_labels, synthetic_ferplus_votes
from fer_course.engine import MissingRunError
from fer_course.label_noise import label_comparison, score_against_both
from fer_course.profiles import get_profile

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.mark.parametrize("name, expected", [
    ("multitask-lam1", ("multitask", {"lam": 1.0})),
    ("multitask-lam0", ("multitask", {"lam": 0.0})),
    ("resnet18", ("backbone", {"arch": "resnet18"})),
    ("resnext50_32x4d-seed2", ("backbone", {"arch": "resnext50_32x4d", "seed": 2})),
    ("vgg11_bn-ferplus", ("backbone", {"arch": "vgg11_bn", "labels": "ferplus"})),
])
def test_parse_run_name(name, expected):
    assert parse_run_name(name) == expected


@pytest.mark.parametrize("name", ["multitask-lamx", "resnet19", "resnet18-seed", "", "Resnet18"])
def test_unknown_run_names_are_refused(name):
    with pytest.raises(ValueError, match="not a course run name"):
        parse_run_name(name)


def test_a_missing_run_is_trained_only_when_asked(tmp_path):
    data = make_synthetic_fer(32, 16, 16)
    profile = get_profile("smoke", epochs=1)
    with pytest.raises(MissingRunError, match="train_missing = True"):
        fit_course_run(data, "resnet18", profile, tmp_path, train_missing=False)
    assert not (tmp_path / "resnet18").exists()
    trained = fit_course_run(data, "resnet18", profile, tmp_path, train_missing=True,
                             progress=False)
    assert not trained.loaded and (tmp_path / "resnet18" / "checkpoint.pt").is_file()
    again = fit_course_run(data, "resnet18", profile, tmp_path, train_missing=False,
                           progress=False)
    assert again.loaded and again.metrics["test"] == trained.metrics["test"]


def test_labels_must_match_the_run(tmp_path):
    data = make_synthetic_fer(32, 16, 16)
    with pytest.raises(ValueError, match="FER\\+ labels, but the data has 7 classes"):
        fit_course_run(data, "resnet18-ferplus", get_profile("smoke"), tmp_path,
                       train_missing=True)


def _both():
    data = make_synthetic_fer(28, 14, 42, seed=3)
    return data, apply_ferplus_labels(data, synthetic_ferplus_votes(data, agreement=0.6))


def test_scores_against_both_labels_by_hand():
    data, plus = _both()
    crowd = dict(zip(plus.test.rows.tolist(), plus.test.labels.tolist()))
    fer = dict(zip(data.test.rows.tolist(), data.test.labels.tolist()))
    rng = np.random.default_rng(0)
    probs = rng.random((len(data.test), 7))
    score = score_against_both(probs, data.test.rows, data, plus)
    kept = [i for i, r in enumerate(data.test.rows.tolist()) if r in crowd]
    predicted = probs.argmax(1)
    assert score["faces"] == len(kept) and score["left_out"] == len(data.test) - len(kept)
    rows = data.test.rows
    assert score["accuracy_fer2013"] == pytest.approx(
        np.mean([predicted[i] == fer[rows[i]] for i in kept]))
    assert score["accuracy_ferplus"] == pytest.approx(
        np.mean([predicted[i] == crowd[rows[i]] for i in kept]))
    wrong = [i for i in kept if predicted[i] != fer[rows[i]]]
    assert score["errors_fer2013"] == len(wrong)
    assert score["errors_matching_crowd"] == pytest.approx(
        np.mean([predicted[i] == crowd[rows[i]] for i in wrong]))


def test_a_model_that_answers_the_crowd_scores_one_on_ferplus():
    data, plus = _both()
    probs = np.eye(8)[plus.test.labels.numpy()]  # an eight-class model, always the crowd
    table = label_comparison({"crowd": (probs, plus.test.rows)}, data, plus)
    assert table.loc["crowd", "accuracy_ferplus"] == 1.0
    assert table.loc["crowd", "errors_matching_crowd"] == 1.0
    assert table.loc["crowd", "accuracy_fer2013"] == table.loc["crowd", "labels_agree"]


def test_mismatched_predictions_are_refused():
    data, plus = _both()
    with pytest.raises(ValueError, match="probs must be"):
        score_against_both(np.zeros((3, 7)), data.test.rows, data, plus)
