"""Fine-tuning a backbone (chapter 2): the task the engine runs, and ``fit``.

The recipe is the profile's (the ``paper`` profile is the seed paper's: SGD lr 1e-2,
momentum 0.9, weight decay 5e-4, cross-entropy, ReduceLROnPlateau x0.5 on validation
loss, 30 epochs, batch 64, 224 px). The training images stay on the device as uint8;
each batch is augmented there (``fer_course.augment``). The loop, resuming and the run
folder are the engine's (``fer_course.engine``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .augment import AugmentConfig, eval_transform, train_transform
from .data.types import FERData
from .devices import pick_device
from .engine import BatchCallback, RunResult, train
from .models import build_backbone
from .precision import autocast, resolve_precision, uses_channels_last
from .profiles import Profile
from .recipes import BackboneRecipe, backbone_recipe
from .runs import RunFolder


class BackboneTask:
    """Model, optimiser, scheduler and loss of one backbone run, and its training step.

    >>> from fer_course.profiles import get_profile
    >>> task = BackboneTask(backbone_recipe("resnet18", get_profile("smoke")), device="cpu")
    >>> x = task.train_batch(torch.zeros(4, 48, 48, dtype=torch.uint8), torch.Generator())
    >>> x.shape, float(task.step(x, torch.zeros(4, dtype=torch.long))["loss"]) > 0
    (torch.Size([4, 3, 32, 32]), True)
    """

    def __init__(self, recipe: BackboneRecipe, num_classes: int = 7,
                 device: torch.device | str | None = None) -> None:
        self.recipe, self.device = recipe, pick_device(device)
        self.precision = resolve_precision(recipe.precision, self.device)
        self.memory_format = (torch.channels_last if uses_channels_last(self.device,
                              self.precision) else torch.contiguous_format)
        torch.manual_seed(recipe.seed)  # the initial weights
        model = build_backbone(recipe.arch, num_classes=num_classes, weights=recipe.weights)
        self.model = model.to(self.device, memory_format=self.memory_format)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr,
                                         momentum=recipe.momentum,
                                         weight_decay=recipe.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=recipe.lr_factor,
            patience=recipe.plateau_patience)
        # float16 needs loss scaling against underflow; bfloat16 and float32 do not
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        self.aug = AugmentConfig(image_size=recipe.image_size, max_rotation=recipe.max_rotation)

    def train_batch(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment uint8 faces on the device (random rotation and flip, resize)."""
        x = train_transform(images, self.aug, generator)
        return x.contiguous(memory_format=self.memory_format)

    def eval_batch(self, images: torch.Tensor) -> torch.Tensor:
        return eval_transform(images, self.aug).contiguous(memory_format=self.memory_format)

    def train_mode(self) -> None:
        self.model.train()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimiser step: forward, loss, backward, update."""
        with autocast(self.device, self.precision):
            logits = self.model(x)
            loss = self.criterion(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # scale() is a no-op unless fp16
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {"loss": loss.detach(), "logits": logits.detach()}

    def evaluate_batch(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits and plain cross-entropy (no label smoothing) of a clean batch."""
        with autocast(self.device, self.precision):
            logits = self.model(x).float()
        return {"loss": F.cross_entropy(logits, y), "logits": logits}

    def end_epoch(self, val: dict[str, Any]) -> None:
        self.scheduler.step(val["loss"])

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])


def fit(data: FERData, arch: str, profile: Profile, run_dir: str | os.PathLike,
        device: torch.device | str | None = None, progress: bool = True,
        callbacks: Sequence[BatchCallback] = (), stored: str | os.PathLike | None = None,
        train_missing: bool = True, **overrides: Any) -> RunResult:
    """Train ``arch`` on ``data`` with ``profile``'s recipe (plus ``overrides``) into
    ``run_dir``; a finished run is loaded, an interrupted one resumed. ``stored`` and
    ``train_missing``: see ``fer_course.engine.train``.

    >>> from fer_course.data import make_synthetic_fer            # doctest: +SKIP
    >>> from fer_course.profiles import get_profile               # doctest: +SKIP
    >>> fit(make_synthetic_fer(), "resnet18", get_profile("smoke"), "runs/demo")  # doctest: +SKIP
    """
    recipe = backbone_recipe(arch, profile, **overrides)
    return train(lambda: BackboneTask(recipe, len(data.classes), device), recipe, data,
                 run_dir, title=arch, progress=progress, callbacks=callbacks,
                 stored=stored, train_missing=train_missing)


def ensure_runs(data: FERData, archs: Sequence[str], profile: Profile,
                runs_dir: str | os.PathLike, progress: bool = True) -> list[RunFolder]:
    """A finished run for each of ``archs`` under ``runs_dir``: trained now if missing,
    loaded if finished (so a chapter that needs runs can make its own)."""
    return [fit(data, arch, profile, Path(runs_dir) / arch, progress=progress).run
            for arch in archs]


def load_backbone(run_dir: str | os.PathLike, device: torch.device | str = "cpu") -> nn.Module:
    """The trained model of a finished backbone run folder, in eval mode."""
    checkpoint = RunFolder(run_dir).load_checkpoint(map_location=device)
    if checkpoint is None:
        raise FileNotFoundError(f"{run_dir} has no checkpoint.pt: train the run first")
    settings = checkpoint["settings"]
    model = build_backbone(settings["arch"], num_classes=checkpoint["model"][
        _head_weight_key(checkpoint["model"])].shape[0])
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval()


def _head_weight_key(state: dict[str, torch.Tensor]) -> str:
    return [k for k in state if k.endswith(".weight") and state[k].ndim == 2][-1]
