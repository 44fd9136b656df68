"""The course's own recipe (chapter 7) as a task of the engine, and ``fit_best``.

What differs from fine-tuning a backbone (``backbone_task``): a network sized for 48 px
faces (``SmallFaceNet``), one-cycle SGD stepped every batch, the ``FaceAugment``
augmentation, label smoothing with class weights, and the mean over each evaluated face
and its mirror image. The loop, resuming and the run folder are the engine's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from fer_course.augment import FaceAugment, face_eval_input, face_train_input
from fer_course.augment.small_faces import apply_augment
from fer_course.data.types import FERData
from fer_course.devices import pick_device
from fer_course.engine.inference import write_teacher_targets, write_teacher_view_targets
from fer_course.engine.loop import (
    BatchCallback,
    RunResult,
    TaskState,
    batches_per_epoch,
    train,
    training_positions,
)
from fer_course.engine.mixed_precision import MixedPrecision
from fer_course.models.small_cnn import FlipAveraged, SmallFaceNet
from fer_course.runs.kinds import MODEL_KINDS
from fer_course.runs.recipes import BestRecipe
from fer_course.runs.store import RunStore
from fer_course.runs.teachers import (
    targets_name,
    teacher_file,
    teacher_targets,
    teacher_view_targets,
)


def class_weights(labels: torch.Tensor, num_classes: int, power: float) -> torch.Tensor:
    """``(1 / frequency) ** power`` per class, scaled to a frequency-weighted mean of 1
    (so the loss keeps its size); ``power=0`` gives all ones.

    >>> class_weights(torch.tensor([0, 0, 0, 1]), 2, 1.0).tolist()
    [0.6666666865348816, 2.0]
    """
    counts = torch.bincount(labels.cpu(), minlength=num_classes).float().clamp(min=1)
    weights = (counts.sum() / counts) ** power
    return weights / (weights * counts).sum() * counts.sum()


def distillation(logits: torch.Tensor, teacher_logp: torch.Tensor,
                 temperature: float) -> torch.Tensor:
    """``T² · KL(teacher ‖ student)`` of the batch, both softened by ``T``: the teacher's
    log-probabilities divided by ``T`` and renormalised, the student's logits divided by
    ``T``. The ``T²`` keeps its gradients the size of the label loss's as ``T`` grows.

    >>> t = torch.log_softmax(torch.tensor([[2.0, 0.0, -1.0]]), 1)
    >>> float(distillation(t.clone(), t, 2.0)) < 1e-6  # the student agrees: no loss
    True
    >>> float(distillation(torch.zeros(1, 3), t, 2.0)) > 0
    True
    """
    student = torch.log_softmax(logits / temperature, 1)
    teacher = torch.log_softmax(teacher_logp / temperature, 1)
    divergence = F.kl_div(student, teacher, log_target=True, reduction="batchmean")
    return divergence * temperature ** 2


def one_cycle(optimizer: torch.optim.Optimizer, recipe: BestRecipe, total_steps: int,
              ) -> torch.optim.lr_scheduler.OneCycleLR:
    """The recipe's schedule: from ``lr / 25`` up to ``lr`` over the first ``warmup`` of
    the steps, then a cosine down to ``lr / 25,000``; stepped after every batch."""
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=recipe.lr, anneal_strategy="cos", total_steps=total_steps,
        pct_start=max(recipe.warmup, 1e-6), div_factor=25.0, final_div_factor=1e3)


def learning_rates(recipe: BestRecipe, steps: int) -> list[float]:
    """The learning rate of each of ``steps`` optimiser steps under the recipe's schedule.

    >>> rates = learning_rates(BestRecipe(lr=0.1, warmup=0.2), 100)
    >>> round(rates[0], 4), round(max(rates), 4), rates.index(max(rates)), rates[-1] < 1e-5
    (0.004, 0.1, 19, True)
    """
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=recipe.lr)
    schedule = one_cycle(optimizer, recipe, steps)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


def build_best_model(recipe: BestRecipe, num_classes: int = 7) -> SmallFaceNet:
    """The recipe's network with random weights (seeded by the caller), as the table of
    model kinds builds it (``fer_course.runs.kinds``)."""
    return MODEL_KINDS["best"].build(asdict(recipe), num_classes)


def recipe_augment(recipe: BestRecipe) -> FaceAugment:
    """The augmentation of a ``best`` recipe (its ranges as a ``FaceAugment``).

    >>> recipe_augment(BestRecipe(erase_p=0)).erase_p
    0
    """
    return FaceAugment(recipe.image_size, recipe.max_rotation, recipe.max_scale,
                       recipe.max_shift, recipe.flip_p, recipe.erase_p)


class BestTask(TaskState):
    """Model, optimiser, one-cycle schedule and weighted loss of one ``best`` run.

    >>> from fer_course.data import make_synthetic_fer
    >>> data = make_synthetic_fer(32, 8, 8)
    >>> task = BestTask(BestRecipe(epochs=1, batch_size=8, widths=(8, 8, 8, 8)), data)
    >>> x = task.train_batch(data.train.images[:8], torch.Generator())
    >>> x.shape, float(task.loss(x, data.train.labels[:8])["loss"].detach()) > 0
    (torch.Size([8, 1, 48, 48]), True)
    """

    def __init__(self, recipe: BestRecipe, data: FERData,
                 device: torch.device | str | None = None,
                 runs_dir: str | os.PathLike | None = None) -> None:
        self.recipe, self.device = recipe, pick_device(device)
        self.amp = MixedPrecision(self.device, recipe.precision)
        self.precision = self.amp.precision
        torch.manual_seed(recipe.seed)  # the initial weights
        self.model = self.amp.to_device(build_best_model(recipe, len(data.classes)))
        self.scored = FlipAveraged(self.model) if recipe.tta else self.model
        decay = [p for p in self.model.parameters() if p.ndim > 1]  # not BN or biases
        rest = [p for p in self.model.parameters() if p.ndim <= 1]
        self.optimizer = torch.optim.SGD(
            [{"params": decay, "weight_decay": recipe.weight_decay},
             {"params": rest, "weight_decay": 0.0}],
            lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.momentum > 0)
        n_train = len(data.train.labels) if recipe.train_limit is None else min(
            recipe.train_limit, len(data.train.labels))
        self.schedule_per_batch = True  # the engine steps it after every taken update
        self.scheduler = one_cycle(self.optimizer, recipe,
                                   recipe.epochs * batches_per_epoch(n_train, recipe.batch_size))
        self.weights = class_weights(data.train.labels, len(data.classes),
                                     recipe.class_balance).to(self.device)
        self.aug = recipe_augment(recipe)
        self.per_image: dict[str, torch.Tensor] = {}
        self.views: tuple[torch.Tensor, torch.Tensor] | None = None
        if recipe.teacher is not None:
            used = training_positions(len(data.train.labels), recipe.train_limit, recipe.seed)
            rows = [data.train.rows[int(i)] for i in used]
            path = self.teacher_targets_file(recipe.teacher, data, runs_dir,
                                             recipe.teacher_views, self.aug)
            if recipe.teacher_views:
                self.views = teacher_view_targets(path, rows, recipe.teacher_views, self.aug)
            else:
                self.per_image["teacher_logp"] = teacher_targets(path, rows)

    augment_inputs = ("view_drawn",)

    def epoch_inputs(self, epoch: int) -> dict[str, torch.Tensor]:
        """The teacher's targets of the faces (on the clean faces, or on view ``epoch mod
        teacher_views`` with that view's random choices, which ``train_batch`` replays)."""
        if self.views is None:
            return self.per_image
        answers, drawn = self.views
        view = epoch % self.recipe.teacher_views
        return {"teacher_logp": answers[:, view], "view_drawn": drawn[:, view]}

    @staticmethod
    def teacher_targets_file(teacher: str, data: FERData, runs_dir: str | os.PathLike | None,
                             views: int = 0, augment: FaceAugment | None = None) -> Path:
        """The stored targets of ``teacher`` (on ``views`` views, or the clean faces) for
        the runs of ``runs_dir`` (``runs.teachers.teacher_file``); where there are none yet,
        computed from the teacher's runs in that folder and written to its ``teachers/``."""
        runs_dir = Path(runs_dir or RunStore("best").runs_dir)
        found = teacher_file(teacher, runs_dir, views)
        if found is not None:
            return found
        store = RunStore(runs_dir.name, runs_dir=runs_dir)
        dest = runs_dir / "teachers" / targets_name(teacher, views)
        if views:
            return write_teacher_view_targets(teacher, data, views, augment or FaceAugment(),
                                              store=store, dest=dest)
        return write_teacher_targets(teacher, data, store=store, dest=dest)

    def train_batch(self, images: torch.Tensor, generator: torch.Generator,
                    view_drawn: torch.Tensor | None = None) -> torch.Tensor:
        """The augmented batch: fresh random choices, or a stored view's (``view_drawn``)."""
        if view_drawn is None:
            return self.amp.prepare(face_train_input(images, self.aug, generator))
        return self.amp.prepare(apply_augment(images, view_drawn, self.aug, generator))

    def eval_batch(self, images: torch.Tensor) -> torch.Tensor:
        return self.amp.prepare(face_eval_input(images, self.recipe.image_size))

    def loss(self, x: torch.Tensor, y: torch.Tensor,
             teacher_logp: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Forward, then the class-weighted, smoothed cross-entropy (in float32); with a
        teacher, mixed with the softened divergence from its targets (``distillation``)."""
        logits = self.model(x)
        labelled = F.cross_entropy(logits.float(), y, weight=self.weights,
                                   label_smoothing=self.recipe.label_smoothing)
        if teacher_logp is None:
            return {"loss": labelled, "logits": logits}
        taught = distillation(logits.float(), teacher_logp, self.recipe.temperature)
        mix = self.recipe.distill
        return {"loss": (1 - mix) * labelled + mix * taught, "label_loss": labelled,
                "teacher_loss": taught, "logits": logits}

    def eval_loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Scores (mirror-averaged when ``tta``) and plain cross-entropy of a clean batch."""
        logits = self.scored(x).float()
        return {"loss": F.cross_entropy(logits, y), "logits": logits}

    def end_epoch(self, val: dict[str, Any]) -> None:
        """Nothing: the one-cycle schedule steps after every taken step (the engine's)."""


def fit_best(data: FERData, recipe: BestRecipe, run_dir: str | os.PathLike,
             device: torch.device | str | None = None, progress: bool = True,
             callbacks: Sequence[BatchCallback] = (), stored: str | os.PathLike | None = None,
             train_missing: bool = True) -> RunResult:
    """Train (or load, or resume) one ``best`` run into ``run_dir``; see ``engine.loop.train``.

    >>> from fer_course.data import make_synthetic_fer                  # doctest: +SKIP
    >>> fit_best(make_synthetic_fer(), BestRecipe(epochs=2), "runs/demo")  # doctest: +SKIP
    """
    return train(lambda: BestTask(recipe, data, device, Path(run_dir).parent), recipe, data,
                 run_dir, title="best", progress=progress, callbacks=callbacks, stored=stored,
                 train_missing=train_missing, device=device)
