"""Consistent teaching (chapter 7): a teacher's answers on stored views of each face, and a
student that sees, in each epoch, exactly the view its target answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_course.augment import FaceAugment, face_train_input
from fer_course.augment.small_faces import DRAWN, apply_augment, draw_augment
from fer_course.data import make_synthetic_fer
from fer_course.engine.best_task import BestTask, fit_best
from fer_course.engine.inference import load_run_model, view_logp
from fer_course.runs.recipes import BestRecipe
from fer_course.runs.teachers import (
    save_view_targets,
    targets_name,
    teacher_view_targets,
    view_draws,
)

pytestmark = pytest.mark.usefixtures("one_thread_module")

SMALL = {"epochs": 2, "batch_size": 16, "widths": (8, 8, 8, 8)}
STILL_ERASER = FaceAugment(erase_p=0)  # no noise: a view is replayed to the bit


@pytest.mark.parametrize("config", [FaceAugment(), STILL_ERASER,
                                    FaceAugment(flip_p=1.0, erase_p=1.0)])
def test_drawing_then_applying_is_the_augmentation_a_run_has_always_had(config) -> None:
    """Splitting the augmentation into its choices and their application keeps every
    random draw in its order, so earlier runs retrain to the bit."""
    faces = torch.randint(0, 256, (32, 48, 48), dtype=torch.uint8)
    fresh = face_train_input(faces, config, torch.Generator().manual_seed(4))
    generator = torch.Generator().manual_seed(4)
    drawn = draw_augment(32, config, generator)
    assert drawn.shape == (32, len(DRAWN))
    assert torch.equal(apply_augment(faces, drawn, config, generator), fresh)


def test_a_view_is_the_same_on_every_call_and_differs_between_views() -> None:
    assert torch.equal(view_draws(50, FaceAugment(), 3), view_draws(50, FaceAugment(), 3))
    assert not torch.equal(view_draws(50, FaceAugment(), 3), view_draws(50, FaceAugment(), 4))


def test_stored_views_come_back_by_row_and_refuse_other_augmentation(tmp_path) -> None:
    answers = np.log(np.full((3, 4, 7), 1 / 7))
    answers[:, :, 0] = np.arange(4)[None, :]  # each answer names its face's position
    answers[:, :, 1] = np.arange(3)[:, None]  # and its view
    path = save_view_targets(tmp_path / "v.npz", [10, 11, 12, 13], answers,
                             STILL_ERASER, 1.5)
    logp, drawn = teacher_view_targets(path, [13, 11], 2, STILL_ERASER)
    assert logp.shape == (2, 2, 7) and drawn.shape == (2, 2, len(DRAWN))
    assert logp[:, 0, 0].tolist() == [3, 1] and logp[0, :, 1].tolist() == [0, 1]
    assert torch.equal(drawn[:, 1], view_draws(4, STILL_ERASER, 1)[[3, 1]])
    with pytest.raises(ValueError, match="holds 3 views; the run asks for 5"):
        teacher_view_targets(path, [10], 5, STILL_ERASER)
    with pytest.raises(ValueError, match="not with the run's augmentation"):
        teacher_view_targets(path, [10], 2, FaceAugment())
    with pytest.raises(ValueError, match=r"no targets for 1 training rows \(first: \[99\]\)"):
        teacher_view_targets(path, [10, 99], 2, STILL_ERASER)
    with pytest.raises(ValueError, match="4 rows but view targets of shape"):
        save_view_targets(tmp_path / "bad.npz", [1, 2, 3, 4], answers[0], STILL_ERASER, 0)


def test_a_recipe_refuses_views_without_a_teacher() -> None:
    with pytest.raises(ValueError, match="teacher_views"):
        BestRecipe(teacher_views=4)
    with pytest.raises(ValueError, match="teacher_views"):
        BestRecipe(teacher="best", distill=0.5, teacher_views=-1)


def test_the_student_sees_exactly_the_view_its_target_answers(tmp_path, monkeypatch) -> None:
    """The teacher's stored answer for a face in epoch ``e`` is its answer to the very
    picture the student's task prepares for that face in that epoch, and the run trains
    on them end to end (the targets computed from the teacher's run where none are stored).
    """
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path / "results"))
    data = make_synthetic_fer(48, 16, 16)
    runs = tmp_path / "smoke"
    still = {"erase_p": 0.0}
    fit_best(data, BestRecipe(**SMALL, **still), runs / "best", progress=False)
    recipe = BestRecipe(**SMALL, **still, teacher="best", distill=0.5, temperature=2.0,
                        teacher_views=3, precision="fp32")
    task = BestTask(recipe, data, runs_dir=runs)
    assert (runs / "teachers" / targets_name("best", 3)).is_file()
    teacher = load_run_model(runs / "best", "cpu")
    for epoch in (0, 4):  # view 0, then view 4 mod 3 = 1
        inputs = task.epoch_inputs(epoch)
        picture = task.train_batch(data.train.images[:8], torch.Generator(),
                                   view_drawn=inputs["view_drawn"][:8])
        with torch.no_grad():
            answer = torch.log_softmax(teacher.model(picture.float()), 1)
        assert torch.allclose(answer, inputs["teacher_logp"][:8], atol=2e-2)
    other = task.epoch_inputs(1)["teacher_logp"]
    assert not torch.allclose(other, task.epoch_inputs(0)["teacher_logp"], atol=1e-3)
    result = fit_best(data, recipe, runs / "best-views", progress=False)
    assert result.run.read_settings()["teacher_views"] == 3
    assert "train_teacher_loss" in result.history.columns


def test_the_teacher_answers_a_view_as_its_network_does() -> None:
    from fer_course.engine.inference import LoadedModel
    from fer_course.models.small_cnn import SmallFaceNet
    from fer_course.runs.kinds import MODEL_KINDS
    net = LoadedModel(SmallFaceNet(widths=(4, 4, 4, 4)).eval(), 48, MODEL_KINDS["best"])
    faces = torch.randint(0, 256, (6, 48, 48), dtype=torch.uint8)
    picture = apply_augment(faces, view_draws(6, STILL_ERASER, 2), STILL_ERASER)
    with torch.no_grad():
        expected = torch.log_softmax(net.model(picture), 1).numpy()
    assert np.allclose(view_logp([net], faces, STILL_ERASER, 2, batch_size=4), expected,
                       atol=1e-5)


def test_a_student_without_stored_targets_gets_its_teacher_trained_first(tmp_path,
                                                                         monkeypatch) -> None:
    """Where no targets are stored (smoke), every member of the vote is loaded or trained
    before the student; where they are stored, none is."""
    from fer_course.engine import named_runs
    from fer_course.profiles import get_profile
    from fer_course.runs import RunStore
    from fer_course.runs.teachers import TEACHERS

    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path / "results"))
    fitted: list[str] = []
    monkeypatch.setattr(named_runs, "fit_named_run",
                        lambda data, name, *a, **k: fitted.append(name))
    store = RunStore("smoke", runs_dir=tmp_path / "smoke")
    student = BestRecipe(teacher="vote3", distill=0.5, teacher_views=8)
    named_runs.fit_teacher(None, student, get_profile("smoke"), store)
    assert fitted == list(TEACHERS["vote3"])
    fitted.clear()
    save_view_targets(tmp_path / "smoke" / "teachers" / targets_name("vote3", 8), [0],
                      np.zeros((8, 1, 7)), FaceAugment(), 1.0)
    named_runs.fit_teacher(None, student, get_profile("smoke"), store)
    assert fitted == []
