"""The course's own recipe (chapter 7): augmentation, loss weights, network, task, registry
names and the round trip of a finished run through shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_course.augment import FaceAugment, face_eval_input, face_train_input
from fer_course.data import make_synthetic_fer
from fer_course.engine.best_task import BestTask, class_weights, fit_best
from fer_course.engine.inference import load_run_model
from fer_course.engine.step import optimizer_step
from fer_course.models.small_cnn import FlipAveraged, SmallFaceNet
from fer_course.profiles import get_profile
from fer_course.runs import RunFolder, run_spec
from fer_course.runs.recipes import BestRecipe
from fer_course.runs.registry import ABLATIONS
from fer_course.runs.store import export_run

pytestmark = pytest.mark.usefixtures("one_thread_module")

NONE = FaceAugment(max_rotation=0, max_scale=0, max_shift=0, flip_p=0, erase_p=0)
STILL = {"max_rotation": 0, "max_scale": 0, "max_shift": 0}  # no affine move


def faces(n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 48, 48), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


def test_augment_with_every_range_at_zero_is_the_eval_input() -> None:
    x = faces()
    out = face_train_input(x, NONE, torch.Generator().manual_seed(0))
    assert torch.allclose(out, face_eval_input(x), atol=1e-5)


def test_a_certain_flip_mirrors_each_face() -> None:
    x = faces()
    out = face_train_input(x, FaceAugment(**STILL, flip_p=1.0, erase_p=0),
                           torch.Generator().manual_seed(0))
    assert torch.allclose(out, face_eval_input(x).flip(-1), atol=1e-5)


def test_erasing_replaces_one_rectangle_per_face() -> None:
    x = torch.full((16, 48, 48), 0, dtype=torch.uint8)  # black faces: noise shows
    out = face_train_input(x, FaceAugment(**STILL, flip_p=0, erase_p=1.0),
                           torch.Generator().manual_seed(1))
    for face in out[:, 0]:
        rows = torch.nonzero(face.sum(1) > 0).flatten()
        cols = torch.nonzero(face.sum(0) > 0).flatten()
        area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert 0.015 * 48 * 48 <= area <= 0.25 * 48 * 48
        changed = face > 0  # the noise is positive almost everywhere inside the box
        assert changed.sum() >= 0.9 * area


def test_augmentation_is_reproducible_and_varies() -> None:
    x, config = faces(), FaceAugment()
    a = face_train_input(x, config, torch.Generator().manual_seed(3))
    b = face_train_input(x, config, torch.Generator().manual_seed(3))
    c = face_train_input(x, config, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="max_scale"):
        FaceAugment(max_scale=1.5)
    with pytest.raises(ValueError, match="erase_p"):
        FaceAugment(erase_p=-0.1)


def test_class_weights_favour_rare_classes_and_keep_the_loss_size() -> None:
    labels = torch.tensor([0] * 90 + [1] * 10)
    weights = class_weights(labels, 2, 0.5)
    assert weights[1] / weights[0] == pytest.approx(3.0)
    assert float((weights[labels]).mean()) == pytest.approx(1.0)
    assert class_weights(labels, 2, 0.0).tolist() == [1.0, 1.0]


def test_flip_averaging_makes_the_scores_mirror_invariant() -> None:
    net = FlipAveraged(SmallFaceNet(widths=(8, 8, 16, 16))).eval()
    x = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(net(x), net(x.flip(-1)), atol=1e-5)
        assert not torch.allclose(net.model(x), net.model(x.flip(-1)), atol=1e-3)


def test_the_schedule_rises_then_falls_to_almost_zero() -> None:
    data = make_synthetic_fer(64, 8, 8)
    recipe = BestRecipe(epochs=2, batch_size=16, widths=(4, 4, 4, 4), lr=0.1, warmup=0.25)
    task = BestTask(recipe, data, "cpu")
    rates = []
    for _ in range(8):  # 2 epochs of 4 batches
        rates.append(task.optimizer.param_groups[0]["lr"])
        optimizer_step(task, task.train_batch(data.train.images[:16], torch.Generator()),
                       data.train.labels[:16])
    assert rates[0] == pytest.approx(0.1 / 25)
    assert max(rates) == pytest.approx(0.1, rel=0.05) and 0 < np.argmax(rates) <= 2
    assert rates[-1] < 1e-3


def test_registry_names_of_the_best_recipe() -> None:
    assert run_spec("best").ships_weights
    assert run_spec("best-seed3").options == {"seed": 3}
    spec = run_spec("best-no-affine")
    assert spec.options == ABLATIONS["affine"]
    recipe = spec.recipe(get_profile("best"))
    assert (recipe.max_rotation, recipe.max_scale, recipe.max_shift) == (0, 0, 0)
    assert recipe.erase_p == BestRecipe().erase_p
    with pytest.raises(ValueError, match="best\\[-seed"):
        run_spec("best-no-everything")


def test_a_best_run_learns_ships_and_reloads(tmp_path) -> None:
    data = make_synthetic_fer(560, 140, 140)
    recipe = BestRecipe(epochs=6, batch_size=32, lr=0.05, widths=(8, 16, 16, 32),
                        precision="fp32", erase_p=0, max_rotation=0, max_scale=0, max_shift=0)
    result = fit_best(data, recipe, tmp_path / "runs" / "best", progress=False)
    accuracy = result.metrics["test"]["accuracy"]
    assert accuracy > 2 / 7  # chance is 1/7: the recipe learns the synthetic classes
    stored = export_run(result.run, tmp_path / "results" / "best", ship_weights=True)
    shipped = RunFolder(stored)
    assert shipped.has_weights()
    loaded = load_run_model(shipped, device="cpu")
    probs = loaded.predict_proba(data.test.images.numpy())
    committed = shipped.read_predictions(data)["test_probs"]
    same = (probs.argmax(1) == committed.argmax(1)).mean()
    assert same >= 0.95  # half-precision weights, same answers
    assert loaded.gray_input
