"""The registry of named runs, and named runs loaded, trained or refused through the store."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from fer_course.data import make_synthetic_fer
from fer_course.engine.loop import MissingRunError, RunMismatchError
from fer_course.engine.named_runs import fit_named_run, training_estimate
from fer_course.profiles import PROFILES, get_profile
from fer_course.runs import REGISTRY, RunStore, registry_mismatch, run_spec
from fer_course.runs.recipes import AutoencoderRecipe, BackboneRecipe, BestRecipe

TINY = get_profile("smoke")  # the registry's runs under the smoke profile as it is


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_registered_run_has_a_recipe_under_every_profile(profile: str) -> None:
    for name, spec in REGISTRY.items():
        recipe = spec.recipe(get_profile(profile))
        kind = {"backbone": BackboneRecipe, "best": BestRecipe}.get(spec.kind,
                                                                   AutoencoderRecipe)
        assert isinstance(recipe, kind), name


def test_entries_set_what_their_names_say() -> None:
    cpu = get_profile("cpu")
    assert run_spec("resnet34-seed1").recipe(cpu).seed == 1
    assert run_spec("resnet34-seed1").recipe(cpu).arch == "resnet34"
    assert run_spec("multitask-lam0.1").recipe(cpu).lam == 0.1
    assert run_spec("autoencoder-1000").recipe(cpu).latent_dim == 1000
    assert run_spec("autoencoder-1000").recipe(cpu).epochs == 3  # the cpu reconstruct budget
    assert run_spec("ae-lr-0.05").recipe(cpu).lr == 0.05
    assert run_spec("frozen-classifier-1000").recipe(cpu).encoder_run == "autoencoder-1000"
    assert run_spec("resnet18-ferplus").labels == "ferplus"
    shipped = {name for name, spec in REGISTRY.items() if spec.ships_weights}
    assert shipped == {"autoencoder-200", "autoencoder-500", "multitask-lam1", "best",
                       "best-distilled-vote3-views8", "best-distilled-vote3-views8-e44"}
    longer = run_spec("best-distilled-vote3-views8-e44-a0.8").recipe(get_profile("best"))
    assert (longer.epochs, longer.distill, longer.teacher_views) == (44, 0.8, 8)


def test_every_student_is_set_against_its_network_on_labels_alone() -> None:
    """Chapter 7 compares a student with the same network, epochs and seed trained without
    a teacher: that run's recipe is the student's with the teaching removed."""
    from dataclasses import replace

    from fer_course.runs.registry import distilled_runs, labels_only_twin

    own = get_profile("best")
    for student in distilled_runs():
        alone = labels_only_twin(student)
        taught = run_spec(student).recipe(own)
        plain = replace(taught, teacher=None, distill=0.0, temperature=1.0, teacher_views=0)
        assert run_spec(alone).recipe(own) == plain, (student, alone)
    assert labels_only_twin("best-distilled-vote3-views8-e44") == "best-e44"
    for name in ("best", "best-56px", "resnet18"):
        with pytest.raises(ValueError, match="not a student"):
            labels_only_twin(name)


def test_fixed_epochs_stay_tiny_under_smoke_only() -> None:
    """An entry's epochs, sized for the best profile, do not make a smoke run long."""
    spec = run_spec("best-distilled-vote3-views8-e44")
    assert spec.recipe(TINY).epochs == TINY.best.epochs
    assert spec.recipe(get_profile("colab")).epochs == 44
    assert run_spec("best-e1").recipe(TINY).epochs == 1
    assert run_spec("ae-lr-0.05").recipe(TINY).epochs == 3  # not a kind with its own profile


def test_names_outside_the_registry_follow_the_patterns() -> None:
    assert run_spec("vgg11").options == {"arch": "vgg11"}
    assert run_spec("densenet161-seed3-ferplus").options == {"arch": "densenet161", "seed": 3}
    assert run_spec("multitask-lam2").recipe(get_profile("cpu")).lam == 2.0
    with pytest.raises(ValueError, match="not a course run"):
        run_spec("resnet19")
    with pytest.raises(ValueError, match="not a course run"):
        run_spec("multitask-lamx")


def test_mismatch_names_the_fields() -> None:
    spec, cpu = run_spec("multitask-lam1"), get_profile("cpu")
    settings = {**asdict(spec.recipe(cpu)), "lam": 0.5, "epochs": 2}
    assert registry_mismatch(spec, cpu, settings) == {"lam": (0.5, 1.0), "epochs": (2, 8)}
    assert registry_mismatch(spec, cpu, asdict(spec.recipe(cpu))) == {}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_thread_module):
    root = tmp_path_factory.mktemp("named")
    data = make_synthetic_fer(64, 16, 16, seed=3)
    store = RunStore(TINY.name, runs_dir=root / "runs", results_dir=root / "results")
    result = fit_named_run(data, "resnet18", TINY, train_missing=True, store=store,
                           progress=False)
    store.export("resnet18")
    return data, store, result


def test_a_named_run_is_trained_then_found(trained, tmp_path: Path) -> None:
    data, store, result = trained
    assert not result.loaded and result.run.path == store.local("resnet18").path
    # another reader with only the committed summary reads the same numbers, no training
    reader = RunStore(TINY.name, runs_dir=tmp_path / "empty", results_dir=store.results_dir)
    again = fit_named_run(data, "resnet18", TINY, train_missing=False, store=reader)
    assert again.loaded and again.run.path == reader.stored("resnet18").path
    assert again.metrics["test"]["accuracy"] == result.metrics["test"]["accuracy"]
    # overrides make another run: the summary does not stand in for it
    with pytest.raises(MissingRunError, match="train_missing = True"):
        fit_named_run(data, "resnet18", TINY, train_missing=False, store=reader, epochs=2)


def test_a_stored_run_that_drifted_from_the_registry_is_an_error(trained,
                                                                 tmp_path: Path) -> None:
    data, store, _ = trained
    results = tmp_path / "results"
    drifted = results / "resnet18"
    drifted.mkdir(parents=True)
    for f in store.stored("resnet18").path.iterdir():
        (drifted / f.name).write_bytes(f.read_bytes())
    metrics = json.loads((drifted / "metrics.json").read_text())
    metrics["settings"]["lr"] = 0.5
    (drifted / "metrics.json").write_text(json.dumps(metrics))
    reader = RunStore(TINY.name, runs_dir=tmp_path / "empty", results_dir=results)
    with pytest.raises(RunMismatchError, match=r"lr: stored 0\.5, registry 0\.001"):
        fit_named_run(data, "resnet18", TINY, train_missing=False, store=reader)


def test_missing_run_says_how_to_get_it(tmp_path: Path) -> None:
    data = make_synthetic_fer(70, 14, 14, seed=1)
    store = RunStore(TINY.name, runs_dir=tmp_path / "r", results_dir=tmp_path / "s")
    with pytest.raises(MissingRunError, match="tools/train_results.py --profile smoke "
                                              "--runs vgg11"):
        fit_named_run(data, "vgg11", TINY, train_missing=False, store=store)
    with pytest.raises(ValueError, match="FER\\+ labels, but the data has 7 classes"):
        fit_named_run(data, "resnet18-ferplus", TINY, train_missing=False, store=store)


def test_the_estimate_reads_the_stored_cpu_card(tmp_path: Path, monkeypatch) -> None:
    card = {"chapter": "resnet18", "profile": {}, "device": "cpu (2 cores, Test CPU)",
            "versions": {}, "started": "", "wall_time_s": 600.0}
    (tmp_path / "cpu" / "resnet18").mkdir(parents=True)
    (tmp_path / "cpu" / "resnet18" / "run_card.json").write_text(json.dumps(card))
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path))
    assert training_estimate("resnet18", get_profile("cpu")) == (
        "about 10 minutes on cpu (2 cores, Test CPU)")
    paper = training_estimate("resnet18", get_profile("paper"))
    assert paper.startswith("the stored cpu run took about 10 minutes") and "30 epochs" in paper
    assert training_estimate("vgg11", get_profile("cpu")) == "no stored run of vgg11 to time it by"


def test_a_best_variant_is_timed_by_the_stored_runs_of_the_recipe(tmp_path: Path,
                                                                   monkeypatch) -> None:
    def store(folder: Path, seconds: list[float], device: str) -> None:
        folder.mkdir(parents=True)
        card = {"chapter": folder.name, "profile": {}, "device": device, "versions": {},
                "started": "", "wall_time_s": sum(seconds)}
        (folder / "run_card.json").write_text(json.dumps(card))
        rows = "\n".join(f"{i + 1},{s}" for i, s in enumerate(seconds))
        (folder / "history.csv").write_text(f"epoch,seconds\n{rows}\n")
        (folder / "metrics.json").write_text("{}")  # a committed summary is a finished run

    cpu = "cpu (2 cores, Test CPU)"
    store(tmp_path / "best" / "best", [90.0, 100.0, 110.0], cpu)  # median 100 s
    store(tmp_path / "best-ablation" / "best-e6", [40.0, 50.0, 60.0], cpu)  # median 50 s
    store(tmp_path / "best-ablation" / "best-e3", [1.0, 1.0, 1.0], "cuda (Test GPU)")  # not cpu
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path))
    epochs = run_spec("best-seed7").recipe(get_profile("best")).epochs
    assert training_estimate("best-seed7", get_profile("best")) == (
        f"about {50 * epochs / 60:.0f} to {100 * epochs / 60:.0f} minutes on {cpu}: 50 to "
        "100 s per epoch in the 2 stored runs of the recipe")
    assert training_estimate("best-e1-no-dropout", get_profile("best")) == (
        f"about 50 seconds to 2 minutes on {cpu}: 50 to 100 s per epoch in the 2 stored runs "
        "of the recipe")
