"""The run store: summaries exported without labels, shipped weights, local runs first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fer_course.analysis.ensemble import EnsembleMembers
from fer_course.data import make_synthetic_fer
from fer_course.engine.backbone_task import fit
from fer_course.engine.inference import load_run_model
from fer_course.engine.loop import MissingRunError, RunMismatchError
from fer_course.profiles import get_profile
from fer_course.runs import RunFolder, RunStore, WeightsError, export_run

TINY = dict(image_size=32, epochs=1, batch_size=32)

pytestmark = pytest.mark.usefixtures("one_thread_module")  # tests/conftest.py


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    data = make_synthetic_fer(140, 35, 35, seed=8)
    result = fit(data, "resnet18", get_profile("smoke", **TINY), root / "resnet18",
                 progress=False)
    stored = export_run(result.run, root / "stored" / "resnet18", ship_weights=True)
    return data, result, stored


def test_summary_holds_no_labels_and_joins_them_back(finished) -> None:
    data, result, stored = finished
    assert sorted(p.name for p in stored.iterdir()) == [
        "history.csv", "metrics.json", "predictions.npz", "run_card.json", "weights.json",
        "weights.pt"]
    with np.load(stored / "predictions.npz") as z:
        assert sorted(z.files) == ["test_probs", "test_rows", "val_probs", "val_rows"]
    original = result.run.read_predictions()
    joined = RunFolder(stored).read_predictions(data)
    for key in ("val_labels", "test_labels", "val_probs", "test_probs"):
        np.testing.assert_array_equal(joined[key], original[key])
    members = EnsembleMembers.from_runs([RunFolder(stored)], data)
    assert members.accuracies("test")[0] == result.metrics["test"]["accuracy"]
    with pytest.raises(ValueError, match="holds no labels"):
        EnsembleMembers.from_runs([RunFolder(stored)])


def test_shipped_weights_are_half_precision_and_checked(finished, tmp_path: Path) -> None:
    _, result, stored = finished
    full = result.run.load_weights()
    shipped = RunFolder(stored).load_weights()
    assert torch.load(stored / "weights.pt", weights_only=True)["fc.weight"].dtype == torch.float16
    for key, value in full.items():
        assert shipped[key].dtype == value.dtype
        expected = value.half().float() if value.is_floating_point() else value
        torch.testing.assert_close(shipped[key], expected, rtol=0, atol=0)
    # the shipped model predicts (nearly) what the full one did
    faces = finished[0].test.images[:20]
    p_full = load_run_model(result.run, "cpu").predict_proba(faces)
    p_half = load_run_model(RunFolder(stored), "cpu").predict_proba(faces)
    assert np.abs(p_full - p_half).max() < 1e-2
    # one changed byte is caught before torch reads the file
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("weights.pt", "weights.json", "metrics.json"):
        (damaged / name).write_bytes((stored / name).read_bytes())
    raw = bytearray((damaged / "weights.pt").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (damaged / "weights.pt").write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="sha256"):
        RunFolder(damaged).load_weights()


def test_a_stored_summary_stands_in_and_a_different_one_is_an_error(finished,
                                                                    tmp_path: Path) -> None:
    data, result, stored = finished
    profile = get_profile("smoke", **TINY)
    again = fit(data, "resnet18", profile, tmp_path / "resnet18", stored=stored,
                train_missing=False)
    assert again.loaded and again.run.path == stored
    assert again.metrics["test"] == result.metrics["test"]
    # a summary made with other settings is named as such, never "missing"
    with pytest.raises(RunMismatchError, match="epochs: saved 1, asked 2"):
        fit(data, "resnet18", profile.overridden(epochs=2), tmp_path / "other", stored=stored,
            train_missing=False)
    with pytest.raises(MissingRunError, match="train_missing = True"):
        fit(data, "vgg11", profile, tmp_path / "vgg11", stored=tmp_path / "nothing",
            train_missing=False)


def test_store_prefers_the_local_run(finished, tmp_path: Path) -> None:
    _, result, stored = finished
    store = RunStore("smoke", runs_dir=tmp_path / "runs", results_dir=stored.parent)
    assert store.find("resnet18").path == stored
    assert [r.path for r in store.all("arch")] == [stored]
    assert store.find("vgg11") is None and store.with_weights("vgg11") is None
    local = store.local("resnet18").path
    local.mkdir(parents=True)
    for name in ("metrics.json", "history.csv", "run_card.json", "predictions.npz",
                 "checkpoint.pt"):
        (local / name).write_bytes((result.run.path / name).read_bytes())
    assert store.find("resnet18").path == local
    assert [r.path for r in store.all()] == [local]
    assert store.with_weights("resnet18").path == local


def test_ablation_runs_of_the_best_recipe_are_stored_apart(tmp_path: Path) -> None:
    store = RunStore("best", runs_dir=tmp_path / "runs", results_dir=tmp_path / "results" / "best")
    assert store.stored("best-seed1").path == tmp_path / "results" / "best" / "best-seed1"
    for name in ("best-e12", "best-e12-no-erasing", "best-no-balance"):
        assert store.stored(name).path == tmp_path / "results" / "best-ablation" / name
    assert store.local("best-e12").path == tmp_path / "runs" / "best-e12"


def test_an_ablation_run_with_weights_ships_nothing(finished, tmp_path: Path,
                                                    monkeypatch) -> None:
    """A run of ``best-ablation/`` keeps its weights for a teacher; it is not a shipped
    network, and its folder is no profile of its own."""
    from fer_course.runs.store import shipped_weights

    _, _, stored = finished
    results = tmp_path / "results"
    for folder, name in (("best", "best"), ("best-ablation", "best-seed1-no-affine")):
        (results / folder / name).mkdir(parents=True)
        for file in stored.iterdir():
            (results / folder / name / file.name).write_bytes(file.read_bytes())
    monkeypatch.setenv("FER_COURSE_RESULTS", str(results))
    assert shipped_weights() == {"best": "best"}
