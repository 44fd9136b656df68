"""Chapter 2 writes the recipe as equations; these tests hold the library to them.

The chapter states the SGD update (PyTorch's form, with momentum and weight decay) and the
rule of ``ReduceLROnPlateau`` (mode "min", relative threshold 1e-4, cooldown 0), and its
exercise 1 counts learning-rate cuts by that rule. If torch or ``BackboneTask`` drift from
what the chapter says, these fail.
"""

from __future__ import annotations

import random

import pytest
import torch

from fer_course.profiles import get_profile
from fer_course.recipes import backbone_recipe
from fer_course.train import BackboneTask


def cuts_by_the_rule(losses: list[float], patience: int, threshold: float = 1e-4) -> list[int]:
    """The epochs after which the chapter's rule cuts the learning rate."""
    best, bad, cuts = float("inf"), 0, []
    for epoch, loss in enumerate(losses, start=1):
        if loss < best * (1 - threshold):
            best, bad = loss, 0
        else:
            bad += 1
        if bad > patience:
            cuts.append(epoch)
            bad = 0
    return cuts


def cuts_by_torch(losses: list[float], patience: int, factor: float = 0.5) -> list[int]:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-2)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min",
                                                           factor=factor, patience=patience)
    cuts = []
    for epoch, loss in enumerate(losses, start=1):
        before = optimizer.param_groups[0]["lr"]
        scheduler.step(loss)
        if optimizer.param_groups[0]["lr"] < before:
            cuts.append(epoch)
    return cuts


def test_exercise_1_answer() -> None:
    losses = [1.50, 1.30, 1.31, 1.29, 1.28995, 1.30, 1.25, 1.26, 1.27, 1.28]
    assert cuts_by_the_rule(losses, 1) == cuts_by_torch(losses, 1) == [6, 9]
    assert cuts_by_the_rule(losses, 10) == cuts_by_torch(losses, 10) == []


@pytest.mark.parametrize("patience", [1, 2, 3, 10])
def test_the_chapters_rule_is_torchs(patience: int) -> None:
    # (patience 0 would cut so often that torch's eps = 1e-8 on the lr change matters)
    rng = random.Random(patience)
    for _ in range(50):
        losses, loss = [], 2.0
        for _ in range(30):  # falling, flat and rising stretches, ties and near-ties
            loss *= rng.choice([0.9, 0.99995, 1.0, 1.00005, 1.05])
            losses.append(loss)
        assert cuts_by_the_rule(losses, patience) == cuts_by_torch(losses, patience)


def test_paper_patience_allows_at_most_two_cuts_in_30_epochs() -> None:
    never_better = [1.0] * 30  # epoch 1 improves on +inf, then every epoch is bad
    assert cuts_by_the_rule(never_better, 10) == [12, 23]


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
    """v <- mu v + (g + lambda w); w <- w - eta v, with v = 0 before the first step."""
    mu, lam, eta = 0.9, 5e-4, 1e-2
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=eta, momentum=mu, weight_decay=lam)
    w_ref, v = w.detach().clone(), torch.zeros(2)
    for _ in range(3):
        optimizer.zero_grad()
        loss = (w ** 2).sum() * 0.5 + w.sum()  # gradient w + 1
        loss.backward()
        optimizer.step()
        g = w_ref + 1
        v = mu * v + (g + lam * w_ref)
        w_ref = w_ref - eta * v
        assert torch.allclose(w.detach(), w_ref, atol=1e-7)
