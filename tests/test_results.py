"""Run summaries in results/: exported without labels, read back, used in place of a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_course.data import load_fer2013, make_synthetic_fer
from fer_course.engine import MissingRunError, RunMismatchError
from fer_course.ensemble import EnsembleMembers
from fer_course.profiles import get_profile
from fer_course.results import StoredRun, export_run, find_results, results_root
from fer_course.train import fit

TINY = dict(image_size=32, epochs=1, batch_size=32)
COMMITTED = sorted(p for p in results_root().glob("*/*") if StoredRun(p).is_finished())


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    data = make_synthetic_fer(140, 35, 35, seed=8)
    result = fit(data, "resnet18", get_profile("smoke", **TINY), root / "resnet18",
                 progress=False)
    return data, result, export_run(result.run, root / "stored" / "resnet18")


def test_summary_holds_no_labels_and_joins_them_back(finished) -> None:
    data, result, stored = finished
    assert sorted(p.name for p in stored.iterdir()) == [
        "history.csv", "metrics.json", "predictions.npz", "run_card.json"]
    with np.load(stored / "predictions.npz") as z:
        assert sorted(z.files) == ["test_probs", "test_rows", "val_probs", "val_rows"]
    original = result.run.read_predictions()
    joined = StoredRun(stored).read_predictions(data)
    for key in ("val_labels", "test_labels", "val_probs", "test_probs"):
        np.testing.assert_array_equal(joined[key], original[key])
    assert [r.path.name for r in find_results(stored.parent)] == ["resnet18"]
    members = EnsembleMembers.from_runs([StoredRun(stored)], data)
    assert members.accuracies("test")[0] == result.metrics["test"]["accuracy"]
    with pytest.raises(ValueError, match="holds no labels"):
        EnsembleMembers.from_runs([StoredRun(stored)])


def test_a_stored_summary_stands_in_for_a_missing_run(finished, tmp_path: Path) -> None:
    data, result, stored = finished
    profile = get_profile("smoke", **TINY)
    again = fit(data, "resnet18", profile, tmp_path / "resnet18", stored=stored,
                train_missing=False)
    assert again.loaded and isinstance(again.run, StoredRun)
    assert again.metrics["test"] == result.metrics["test"]
    # a summary made with other settings does not stand in: the run counts as missing
    with pytest.raises(MissingRunError):
        fit(data, "resnet18", profile.overridden(epochs=2), tmp_path / "other", stored=stored,
            train_missing=False)
    (tmp_path / "mismatch").mkdir()
    fit(data, "resnet18", profile, tmp_path / "mismatch" / "resnet18", progress=False)
    with pytest.raises(RunMismatchError, match="epochs: saved 1, asked 2"):
        fit(data, "resnet18", profile.overridden(epochs=2), tmp_path / "mismatch" / "resnet18")
    with pytest.raises(MissingRunError, match="train_missing = True"):
        fit(data, "vgg11", profile, tmp_path / "vgg11", stored=tmp_path / "nothing",
            train_missing=False)


def test_results_folder_stays_small() -> None:
    size = sum(p.stat().st_size for p in results_root().rglob("*") if p.is_file())
    assert size <= 10 * 2**20, f"results/ holds {size / 2**20:.1f} MiB; keep it under 10 MiB"


@pytest.mark.parametrize("path", COMMITTED, ids=[f"{p.parent.name}/{p.name}" for p in COMMITTED])
def test_committed_summary_matches_its_predictions(path: Path) -> None:
    """Without labels: each split's predicted-class counts are the confusion matrix's
    column sums. The exact accuracies are checked on the real data below."""
    run = StoredRun(path)
    metrics, predictions = run.read_metrics(), run.read_predictions()
    classes = len(metrics["classes"])  # 7; 8 for a run on the FER+ labels (Contempt)
    assert classes in (7, 8)
    for split in ("val", "test"):
        probs, rows = predictions[f"{split}_probs"], predictions[f"{split}_rows"]
        assert probs.shape == (len(rows), classes) and np.allclose(probs.sum(1), 1, atol=1e-3)
        predicted = np.bincount(probs.argmax(1), minlength=classes)
        matrix = np.asarray(metrics[split]["confusion_matrix"])
        np.testing.assert_array_equal(predicted, matrix.sum(0))
    assert len(run.read_history()) == metrics["settings"]["epochs"]


def _on_ferplus(path: Path) -> bool:
    return len(StoredRun(path).read_metrics()["classes"]) == 8


@pytest.mark.realdata
def test_committed_accuracies_are_recomputed_from_predictions(real_data_path: Path) -> None:
    runs = [p for p in COMMITTED if not _on_ferplus(p)]
    if not runs:
        pytest.skip("no committed summaries")
    data = load_fer2013(real_data_path)
    _check_accuracies(runs, data)


@pytest.mark.realdata
def test_committed_ferplus_accuracies_are_recomputed(real_data_path: Path,
                                                    real_ferplus_path: Path) -> None:
    runs = [p for p in COMMITTED if _on_ferplus(p)]
    if not runs:
        pytest.skip("no committed FER+ summaries")
    _check_accuracies(runs, load_fer2013(real_data_path, labels="ferplus",
                                         ferplus_path=real_ferplus_path))


def _check_accuracies(runs: list[Path], data) -> None:
    for path in runs:
        run = StoredRun(path)
        metrics, predictions = run.read_metrics(), run.read_predictions(data)
        for split in ("val", "test"):
            accuracy = (predictions[f"{split}_probs"].argmax(1) ==
                        predictions[f"{split}_labels"]).mean()
            assert accuracy == pytest.approx(metrics[split]["accuracy"], abs=1e-12), path
