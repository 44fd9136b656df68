"""Distillation (chapter 7): the stored teacher targets, the loss, and a student that
follows its teacher."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_course.data import make_synthetic_fer
from fer_course.engine.best_task import BestTask, distillation, fit_best
from fer_course.engine.inference import LoadedModel, teacher_logp
from fer_course.engine.step import optimizer_step
from fer_course.models.small_cnn import SmallFaceNet
from fer_course.runs.kinds import MODEL_KINDS
from fer_course.runs.recipes import BestRecipe
from fer_course.runs.registry import run_spec
from fer_course.runs.teachers import save_targets, targets_path, teacher_file, teacher_targets

pytestmark = pytest.mark.usefixtures("one_thread_module")

SMALL = {"epochs": 2, "batch_size": 16, "widths": (8, 8, 8, 8)}


def test_targets_come_back_in_the_order_asked_and_missing_rows_are_named(tmp_path) -> None:
    logp = np.log(np.eye(3, 7) * 0.9 + 0.1 / 7)
    path = save_targets(tmp_path / "t.npz", [10, 11, 12], logp)
    back = teacher_targets(path, [12, 10])
    assert torch.allclose(back, torch.tensor(logp[[2, 0]], dtype=torch.float32), atol=1e-2)
    with pytest.raises(ValueError, match=r"no targets for 1 training rows \(first: \[99\]\)"):
        teacher_targets(path, [10, 99])
    with pytest.raises(FileNotFoundError, match="write_teacher_targets"):
        teacher_targets(tmp_path / "none.npz", [10])
    with pytest.raises(ValueError, match="3 rows but targets of shape"):
        save_targets(tmp_path / "bad.npz", [1, 2, 3], logp[:2])


def test_the_loss_is_zero_only_where_the_student_agrees() -> None:
    teacher = torch.log_softmax(torch.randn(8, 7), 1)
    assert float(distillation(teacher.clone(), teacher, 3.0)) == pytest.approx(0, abs=1e-5)
    other = torch.randn(8, 7)
    by_hand = (teacher.exp() * (teacher - torch.log_softmax(other, 1))).sum(1).mean()
    assert float(distillation(other, teacher, 1.0)) == pytest.approx(float(by_hand), rel=1e-5)


def test_a_recipe_refuses_a_weight_without_a_teacher() -> None:
    with pytest.raises(ValueError, match="distill weighs"):
        BestRecipe(distill=0.5)
    with pytest.raises(ValueError, match="distill weighs"):
        BestRecipe(teacher="best", distill=0.0)
    with pytest.raises(ValueError, match="temperature"):
        BestRecipe(teacher="best", distill=0.5, temperature=0)


def test_the_registry_student_learns_from_the_best_teacher() -> None:
    spec = run_spec("best-distilled")
    assert spec.kind == "best" and spec.options["teacher"] == "best"
    # its weights no longer ship (results/ stays under 60 MB); the default student's do
    assert not spec.ships_weights and run_spec("best-distilled-vote3-views8-e44").ships_weights


def test_teacher_vote_is_the_log_of_the_mean_probability() -> None:
    nets = [LoadedModel(SmallFaceNet(widths=(4, 4, 4, 4)).eval(), 48, MODEL_KINDS["best"])
            for _ in range(2)]
    faces = torch.randint(0, 256, (5, 48, 48), dtype=torch.uint8)
    mean = (nets[0].predict_proba(faces.numpy()) + nets[1].predict_proba(faces.numpy())) / 2
    assert np.allclose(np.exp(teacher_logp(nets, faces)), mean, atol=1e-5)


def test_a_student_follows_its_teacher_rather_than_the_labels(tmp_path, monkeypatch) -> None:
    """A teacher that always says class 2 pulls a fully distilled student towards class 2;
    the engine hands each batch its own faces' targets, resumed or not."""
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path / "results"))
    data = make_synthetic_fer(64, 16, 16)
    always_two = np.log(np.full((64, 7), 0.01))
    always_two[:, 2] = np.log(0.94)
    save_targets(tmp_path / "teachers" / "t2.npz", data.train.rows, always_two)  # the runs'
    assert teacher_file("t2", tmp_path) == tmp_path / "teachers" / "t2.npz"
    recipe = BestRecipe(**SMALL, lr=0.05, teacher="t2", distill=1.0, temperature=1.0)
    task = BestTask(recipe, data, runs_dir=tmp_path)
    assert task.per_image["teacher_logp"].shape == (64, 7)
    x = task.train_batch(data.train.images[:16], torch.Generator().manual_seed(0))
    parts = optimizer_step(task, x, data.train.labels[:16],
                           teacher_logp=task.per_image["teacher_logp"][:16])
    assert set(parts) >= {"loss", "label_loss", "teacher_loss"}
    result = fit_best(data, recipe, tmp_path / "run", progress=False)
    probs = result.run.read_predictions()["test_probs"]
    assert (probs.argmax(1) == 2).mean() > 0.9
    assert "train_teacher_loss" in result.history.columns
    assert result.history["train_teacher_loss"].iloc[-1] < result.history[
        "train_teacher_loss"].iloc[0]


def test_a_limited_student_takes_the_targets_of_its_own_faces(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path))
    data = make_synthetic_fer(40, 8, 8)
    by_row = np.zeros((40, 7))
    by_row[:, 0] = np.asarray(data.train.rows, float)  # each row's target names its row
    save_targets(targets_path("rows"), data.train.rows, by_row)
    task = BestTask(BestRecipe(**SMALL, train_limit=10, seed=3, teacher="rows", distill=0.5),
                    data)
    from fer_course.engine.loop import training_positions
    used = training_positions(40, 10, 3)
    wanted = [float(data.train.rows[int(i)]) for i in used]
    assert task.per_image["teacher_logp"][:, 0].tolist() == pytest.approx(wanted, rel=1e-3)


def test_missing_targets_are_computed_from_the_teacher_s_run(tmp_path, monkeypatch) -> None:
    """Where no targets are stored (the smoke profile's synthetic faces), the student's
    task computes them from the teacher's finished run in the same runs folder."""
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path / "results"))
    data = make_synthetic_fer(48, 16, 16)
    runs = tmp_path / "smoke"
    fit_best(data, BestRecipe(**SMALL), runs / "best", progress=False)
    student = BestRecipe(**SMALL, teacher="best", distill=0.5, temperature=2.0)
    fit_best(data, student, runs / "best-distilled", progress=False)
    stored = runs / "teachers" / "best.npz"
    assert stored.is_file()
    with np.load(stored) as saved:
        assert sorted(saved["train_rows"].tolist()) == sorted(data.train.rows.tolist())
    with pytest.raises(ValueError, match="no such teacher"):
        BestTask(BestRecipe(**SMALL, teacher="nobody", distill=0.5), data, runs_dir=runs)
