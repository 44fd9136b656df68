"""The engine owns the step: autocast, the loss scaler, clipping, the per-batch schedule and
the moving average only after a taken update; the precision used is part of a run's identity."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from fer_course.data import make_synthetic_fer
from fer_course.engine.backbone_task import fit
from fer_course.engine.identity import RunMismatchError
from fer_course.engine.loop import TaskState, evaluate
from fer_course.engine.mixed_precision import MixedPrecision
from fer_course.engine.step import WeightAverage, optimizer_step
from fer_course.profiles import get_profile
from fer_course.runs.folder import RunFolder

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class LinearTask(TaskState):
    """The least a task is: a model, an optimiser, a schedule, its precision and its loss."""

    def __init__(self, precision: str = "fp32", scale: float = 1.0, **options) -> None:
        torch.manual_seed(0)
        self.device = torch.device("cpu")
        self.amp = MixedPrecision(self.device, precision)
        self.model = nn.Linear(4, 3)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=1, gamma=0.5)
        self.scale = scale
        for key, value in options.items():
            setattr(self, key, value)

    def loss(self, x, y):
        logits = self.model(x)
        return {"loss": nn.functional.cross_entropy(logits.float(), y) * self.scale,
                "logits": logits}

    def eval_loss(self, x, y):
        logits = self.model(x).float()
        return {"loss": nn.functional.cross_entropy(logits, y), "logits": logits}

    def eval_batch(self, images):
        return images.float().flatten(1)[:, :4] / 255


X, Y = torch.ones(8, 4), torch.arange(8) % 3


def test_a_skipped_fp16_update_steps_neither_schedule_nor_average() -> None:
    task = LinearTask("fp16", scale=1e6, schedule_per_batch=True)  # the gradients overflow
    task.ema = WeightAverage(task.model, 0.9)
    before = {k: v.clone() for k, v in task.model.state_dict().items()}
    averaged = {k: v.clone() for k, v in task.ema.state.items()}
    optimizer_step(task, X, Y)
    assert task.scheduler.last_epoch == 0 and task.optimizer.param_groups[0]["lr"] == 0.1
    for key in before:
        assert torch.equal(task.model.state_dict()[key], before[key])
        assert torch.equal(task.ema.state[key], averaged[key])


def test_a_taken_update_steps_the_per_batch_schedule_and_the_average() -> None:
    task = LinearTask("fp32", schedule_per_batch=True)
    task.ema = WeightAverage(task.model, 0.5)
    start = task.ema.state["weight"].clone()
    optimizer_step(task, X, Y)
    assert task.scheduler.last_epoch == 1 and task.optimizer.param_groups[0]["lr"] == 0.05
    assert torch.allclose(task.ema.state["weight"], 0.5 * start + 0.5 * task.model.weight)


def test_an_epoch_schedule_is_left_to_the_task() -> None:
    task = LinearTask("fp32")
    optimizer_step(task, X, Y)
    assert task.scheduler.last_epoch == 0


def test_gradients_are_clipped_to_the_tasks_norm() -> None:
    task = LinearTask("fp32", scale=100.0, max_grad_norm=0.5)
    optimizer_step(task, X, Y)
    norm = torch.cat([p.grad.flatten() for p in task.model.parameters()]).norm()
    assert float(norm) == pytest.approx(0.5, rel=1e-4)


def test_evaluation_uses_the_averaged_weights_and_restores_the_own() -> None:
    task = LinearTask("fp32")
    task.ema = WeightAverage(task.model, 0.5)
    with torch.no_grad():
        task.ema.state["weight"].zero_()
        task.ema.state["bias"].copy_(torch.tensor([0.0, 5.0, 0.0]))  # always class 1
    own = task.model.weight.clone()
    images = torch.full((6, 2, 2), 255, dtype=torch.uint8)
    result = evaluate(task, images, torch.ones(6, dtype=torch.long))
    assert result["acc"] == 1.0
    assert torch.equal(task.model.weight, own)
    saved = task.state_dict()
    restored = LinearTask("fp32")
    restored.ema = WeightAverage(restored.model, 0.5)
    restored.load_state_dict(saved)
    assert torch.equal(restored.ema.state["bias"], task.ema.state["bias"])


@pytest.fixture(scope="module")
def tiny_data():
    return make_synthetic_fer(70, 14, 14, seed=4)


class Stop(Exception):
    pass


def stop_after_first_epoch(epoch: int, batch: int) -> None:
    if epoch == 1:
        raise Stop


def test_a_checkpoint_resumes_only_in_its_precision(tiny_data, tmp_path: Path) -> None:
    profile = get_profile("smoke", image_size=32, epochs=2, batch_size=32, precision="fp32")
    with pytest.raises(Stop):
        fit(tiny_data, "resnet18", profile, tmp_path / "r18", progress=False,
            callbacks=[stop_after_first_epoch])
    assert RunFolder(tmp_path / "r18").load_checkpoint()["settings"]["precision_used"] == "fp32"
    with pytest.raises(RunMismatchError, match="trained in 'fp32', would continue in 'bf16'"):
        fit(tiny_data, "resnet18", profile.overridden(precision="bf16"), tmp_path / "r18",
            progress=False)
    finished = fit(tiny_data, "resnet18", profile, tmp_path / "r18", progress=False)
    assert finished.resumed_from_epoch == 1
    assert finished.metrics["settings"]["precision_used"] == "fp32"
    # a finished run: "auto" loads it whatever it was trained in; an explicit other refuses
    loaded = fit(tiny_data, "resnet18", profile.overridden(precision="auto"), tmp_path / "r18",
                 progress=False)
    assert loaded.loaded
    with pytest.raises(RunMismatchError, match="trained in 'fp32', would load in 'bf16'"):
        fit(tiny_data, "resnet18", profile.overridden(precision="bf16"), tmp_path / "r18",
            progress=False)


def test_allow_precision_change_continues_a_checkpoint(tiny_data, tmp_path: Path) -> None:
    from fer_course.engine.backbone_task import BackboneTask
    from fer_course.engine.loop import train
    from fer_course.runs.recipes import backbone_recipe

    profile = get_profile("smoke", image_size=32, epochs=2, batch_size=32, precision="fp32")
    with pytest.raises(Stop):
        fit(tiny_data, "resnet18", profile, tmp_path / "r18", progress=False,
            callbacks=[stop_after_first_epoch])
    recipe = backbone_recipe("resnet18", profile.overridden(precision="bf16"))
    result = train(lambda: BackboneTask(recipe, 7, "cpu"), recipe, tiny_data, tmp_path / "r18",
                   "r18", progress=False, device="cpu", allow_precision_change=True)
    assert result.resumed_from_epoch == 1
    assert result.metrics["settings"]["precision_used"] == "bf16"
