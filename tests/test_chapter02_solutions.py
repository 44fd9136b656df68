"""Chapter 2 writes the recipe as equations; these tests hold the library to them.

The chapter states the SGD update (PyTorch's form, with momentum and weight decay) and the
rule of ``ReduceLROnPlateau`` (mode "min", relative threshold 1e-4, cooldown 0), and its
exercise 1 counts learning-rate cuts by that rule. Every test drives ``BackboneTask`` (the
optimiser and scheduler that ``fit`` trains with, through ``task.end_epoch`` and
``optimizer_step``) and compares it with values worked out by hand, so a drift of the library
or of torch from what the chapter says fails here. (The chapter's own helper
``cuts_by_the_rule`` is not copied here; its printed answer is the chapter's to check.)
"""

from __future__ import annotations

import copy

import pytest
import torch

from fer_course.engine.backbone_task import BackboneTask
from fer_course.engine.step import optimizer_step
from fer_course.profiles import get_profile
from fer_course.runs.recipes import backbone_recipe

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def tasks() -> dict[int, BackboneTask]:
    """One task per plateau patience; ``cut_epochs`` gives its schedule a fresh start."""
    made = {}
    for patience in (1, 2, 10):
        profile = get_profile("smoke", plateau_patience=patience)
        made[patience] = BackboneTask(backbone_recipe("resnet18", profile), device="cpu")
        made[patience].fresh_schedule = copy.deepcopy(made[patience].scheduler.state_dict())
    return made


def cut_epochs(task: BackboneTask, losses: list[float]) -> tuple[list[int], list[float]]:
    """Feed ``losses`` as validation losses to the task's schedule, from its state before
    any epoch: the epochs after which the learning rate was cut, and the rate after each."""
    for group in task.optimizer.param_groups:
        group["lr"] = task.recipe.lr
    task.scheduler.load_state_dict(copy.deepcopy(task.fresh_schedule))
    cuts, rates = [], []
    for epoch, loss in enumerate(losses, start=1):
        before = task.optimizer.param_groups[0]["lr"]
        task.end_epoch({"loss": loss})
        after = task.optimizer.param_groups[0]["lr"]
        if after < before:
            cuts.append(epoch)
        rates.append(after)
    return cuts, rates


EXERCISE_1 = [1.50, 1.30, 1.31, 1.29, 1.28995, 1.30, 1.25, 1.26, 1.27, 1.28]


def test_exercise_1_answer(tasks) -> None:
    # By hand, patience 1 (cut when more than 1 epoch in a row fails to beat best*(1-1e-4)):
    # 1.50 best | 1.30 best | 1.31 bad 1 | 1.29 best (< 1.29987) | 1.28995 bad 1 (not below
    # 1.29 * 0.9999 = 1.289871) | 1.30 bad 2: cut after epoch 6 | 1.25 best | 1.26 bad 1 |
    # 1.27 bad 2: cut after epoch 9 | 1.28 bad 1. Patience 10: never 11 bad epochs in a row.
    cuts, rates = cut_epochs(tasks[1], EXERCISE_1)
    lr = get_profile("smoke").lr
    assert cuts == [6, 9]
    assert rates == pytest.approx([lr] * 5 + [lr / 2] * 3 + [lr / 4] * 2)
    assert cut_epochs(tasks[10], EXERCISE_1)[0] == []


@pytest.mark.parametrize(("patience", "losses", "expected"), [
    # an exact tie is not an improvement: best 1.0, then bad 1, bad 2 -> cut after 3
    (1, [1.0, 1.0, 1.0, 1.0, 1.0], [3, 5]),
    # a relative gain of 5e-5 is below the threshold 1e-4: bad; 0.5 is a new best
    (1, [1.0, 0.99995, 0.99992, 0.5, 0.6], [3]),
    # 0.9998 beats 1.0 * 0.9999: a new best, the count restarts
    (1, [1.0, 1.1, 0.9998, 1.1, 1.2], [5]),
    # patience 2: three bad epochs in a row, and the count restarts after a cut
    (2, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.1, 7.0], [4]),
    (2, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [4, 7]),
])
def test_cuts_by_hand(tasks, patience, losses, expected) -> None:
    assert cut_epochs(tasks[patience], losses)[0] == expected


def test_paper_patience_allows_at_most_two_cuts_in_30_epochs(tasks) -> None:
    never_better = [1.0] * 30  # epoch 1 improves on +inf, then epochs 2-12 are 11 bad ones
    assert get_profile("paper").plateau_patience == 10
    assert cut_epochs(tasks[10], never_better)[0] == [12, 23]


def test_backbone_task_uses_the_scheduler_and_optimiser_of_the_chapter() -> None:
    task = BackboneTask(backbone_recipe("resnet18", get_profile("smoke")), device="cpu")
    s = task.scheduler
    assert (s.mode, s.threshold_mode, s.threshold, s.cooldown) == ("min", "rel", 1e-4, 0)
    assert s.factor == 0.5 and s.patience == get_profile("smoke").plateau_patience
    group = task.optimizer.param_groups[0]
    assert (group["momentum"], group["weight_decay"]) == (0.9, 5e-4)
    assert group["dampening"] == 0 and not group["nesterov"]
    assert isinstance(task.criterion, torch.nn.CrossEntropyLoss)
    assert get_profile("paper").plateau_patience == 10
    assert get_profile("cpu").plateau_patience == 1


def test_sgd_update_is_the_chapters_equation() -> None:
    """v <- mu v + (g + lambda w); w <- w - eta v, with v = 0 before the first step, for the
    parameters of a real ``BackboneTask`` stepped by the engine's ``optimizer_step``."""
    # a large rate and decay, so that each term of the update is far above float32 noise
    profile = get_profile("smoke", image_size=32, lr=0.1, weight_decay=0.05)
    task = BackboneTask(backbone_recipe("resnet18", profile), device="cpu")
    mu, lam, eta = profile.momentum, profile.weight_decay, profile.lr
    task.model.eval()  # batch norm with fixed statistics: only the parameters change
    params = [p for p in task.model.parameters()]
    w_ref = [p.detach().clone().double() for p in params]
    v = [torch.zeros_like(w) for w in w_ref]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 32, 32, generator=generator)
    y = torch.tensor([0, 3, 6, 1])
    for _ in range(3):
        optimizer_step(task, x, y)  # zero_grad, forward, backward, update; .grad keeps g
        for i, p in enumerate(params):
            v[i] = mu * v[i] + (p.grad.double() + lam * w_ref[i])
            w_ref[i] = w_ref[i] - eta * v[i]
        for p, w in zip(params, w_ref):
            torch.testing.assert_close(p.detach().double(), w, atol=1e-6, rtol=1e-5)
