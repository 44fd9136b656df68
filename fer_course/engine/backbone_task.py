"""Fine-tuning a backbone (chapter 2): the task the engine runs, and ``fit``.

The recipe is the profile's (the ``paper`` profile is the seed paper's: SGD lr 1e-2,
momentum 0.9, weight decay 5e-4, cross-entropy, ReduceLROnPlateau x0.5 on validation
loss, 30 epochs, batch 64, 224 px). The training images stay on the device as uint8;
each batch is augmented there (``fer_course.augment``). The loop, resuming and the run
folder are the engine's (``fer_course.engine.loop``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fer_course.augment import AugmentConfig, eval_transform, train_transform
from fer_course.data.types import FERData
from fer_course.devices import pick_device
from fer_course.engine.loop import BatchCallback, RunResult, TaskState, train
from fer_course.engine.mixed_precision import MixedPrecision
from fer_course.models import build_backbone
from fer_course.profiles import Profile
from fer_course.runs.recipes import BackboneRecipe, backbone_recipe


class BackboneTask(TaskState):
    """Model, optimiser, scheduler and loss of one backbone run, and its training step.

    >>> from fer_course.profiles import get_profile
    >>> task = BackboneTask(backbone_recipe("resnet18", get_profile("smoke")), device="cpu")
    >>> x = task.train_batch(torch.zeros(4, 48, 48, dtype=torch.uint8), torch.Generator())
    >>> x.shape, float(task.loss(x, torch.zeros(4, dtype=torch.long))["loss"].detach()) > 0
    (torch.Size([4, 3, 32, 32]), True)
    """

    def __init__(self, recipe: BackboneRecipe, num_classes: int = 7,
                 device: torch.device | str | None = None) -> None:
        self.recipe, self.device = recipe, pick_device(device)
        self.amp = MixedPrecision(self.device, recipe.precision)  # autocast, fp16 scaling
        self.precision = self.amp.precision
        torch.manual_seed(recipe.seed)  # the initial weights
        model = build_backbone(recipe.arch, num_classes=num_classes, weights=recipe.weights)
        self.model = self.amp.to_device(model)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr,
                                         momentum=recipe.momentum,
                                         weight_decay=recipe.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=recipe.lr_factor,
            patience=recipe.plateau_patience)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        self.aug = AugmentConfig(image_size=recipe.image_size, max_rotation=recipe.max_rotation)

    def train_batch(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment uint8 faces on the device (random rotation and flip, resize)."""
        return self.amp.prepare(train_transform(images, self.aug, generator))

    def eval_batch(self, images: torch.Tensor) -> torch.Tensor:
        return self.amp.prepare(eval_transform(images, self.aug))

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The training loss of a batch: forward, then cross-entropy (label smoothing as
        the recipe says); the engine's step does the rest."""
        logits = self.model(x)
        return {"loss": self.criterion(logits, y), "logits": logits}

    def eval_loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits and plain cross-entropy (no label smoothing) of a clean batch."""
        logits = self.model(x).float()
        return {"loss": F.cross_entropy(logits, y), "logits": logits}

    def end_epoch(self, val: dict[str, Any]) -> None:
        self.scheduler.step(val["loss"])


def fit(data: FERData, arch: str, profile: Profile, run_dir: str | os.PathLike,
        device: torch.device | str | None = None, progress: bool = True,
        callbacks: Sequence[BatchCallback] = (), stored: str | os.PathLike | None = None,
        train_missing: bool = True, **overrides: Any) -> RunResult:
    """Train ``arch`` on ``data`` with ``profile``'s recipe (plus ``overrides``) into
    ``run_dir``; a finished run is loaded, an interrupted one resumed. ``stored`` and
    ``train_missing``: see ``fer_course.engine.loop.train``.

    >>> from fer_course.data import make_synthetic_fer            # doctest: +SKIP
    >>> from fer_course.profiles import get_profile               # doctest: +SKIP
    >>> fit(make_synthetic_fer(), "resnet18", get_profile("smoke"), "runs/demo")  # doctest: +SKIP
    """
    return fit_recipe(data, backbone_recipe(arch, profile, **overrides), run_dir, device=device,
                      progress=progress, callbacks=callbacks, stored=stored,
                      train_missing=train_missing)


def fit_recipe(data: FERData, recipe: BackboneRecipe, run_dir: str | os.PathLike,
               device: torch.device | str | None = None, progress: bool = True,
               callbacks: Sequence[BatchCallback] = (), stored: str | os.PathLike | None = None,
               train_missing: bool = True) -> RunResult:
    """``fit`` for a ready ``recipe`` (as the registry of named runs makes it)."""
    return train(lambda: BackboneTask(recipe, len(data.classes), device), recipe, data,
                 run_dir, title=recipe.arch, progress=progress, callbacks=callbacks,
                 stored=stored, train_missing=train_missing, device=device)
