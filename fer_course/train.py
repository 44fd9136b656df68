"""``fit``: fine-tune a backbone on FER data, resumably, into a run folder.

The recipe is the profile's (the ``paper`` profile is the seed paper's: SGD lr 1e-2,
momentum 0.9, weight decay 5e-4, cross-entropy, ReduceLROnPlateau x0.5 on validation
loss, 30 epochs, batch 64, 224 px). The training images stay on the device as uint8;
each batch is augmented there (``fer_course.augment``).

Resuming: a checkpoint is written after every epoch; running the same run again
continues after the last finished epoch, and a finished run is loaded, not retrained.
Every epoch draws its shuffle, augmentation and dropout from generators seeded by
``(seed, epoch)``, so a resumed run repeats exactly what an uninterrupted one does.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .augment import AugmentConfig, train_transform
from .data.types import FERData
from .devices import pick_device
from .evaluate import classification_metrics, predict_probabilities
from .models import build_backbone
from .profiles import Profile
from .runs import RunCard, RunFolder

BatchCallback = Callable[[int, int], None]  # (epoch, batch index), after each optimizer step


@dataclass
class RunResult:
    """What a finished run left: its folder, metrics and per-epoch history."""

    run: RunFolder
    metrics: dict[str, Any]
    history: Any  # pandas DataFrame
    resumed_from_epoch: int  # 0: trained from scratch; n: continued after epoch n
    loaded: bool  # True when the run was already finished and only read back


class RunMismatchError(ValueError):
    """The run folder holds a run made with other settings than the ones asked for."""


BACKBONE_KNOBS = ("name", "image_size", "epochs", "batch_size", "lr", "momentum",
                  "weight_decay", "lr_factor", "plateau_patience", "weights", "train_limit",
                  "label_smoothing", "seed")
"""The profile fields that shape a backbone run (others, such as prose, do not)."""


def run_settings(arch: str, profile: Profile, data: FERData) -> dict[str, Any]:
    """Everything that defines a run, in json form; a resumed run must match it exactly."""
    knobs = {k: getattr(profile, k) for k in BACKBONE_KNOBS}
    settings = {"arch": arch, **knobs, "data_source": data.source, "data_counts": data.counts()}
    return json.loads(json.dumps(settings))  # tuples become lists, as they come back from disk


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100_003 + epoch


def _training_subset(data: FERData, limit: int | None, seed: int) -> tuple[torch.Tensor, ...]:
    images, labels = data.train.images, data.train.labels
    if limit is not None and limit < len(labels):
        picked = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
        keep = picked[:limit].sort().values
        images, labels = images[keep], labels[keep]
    return images, labels


def _check_settings(run: RunFolder, saved: dict[str, Any], wanted: dict[str, Any]) -> None:
    diff = {k: (saved.get(k), v) for k, v in wanted.items() if saved.get(k) != v}
    if diff:
        details = ", ".join(f"{k}: saved {a!r}, asked {b!r}" for k, (a, b) in diff.items())
        raise RunMismatchError(
            f"{run.path} holds a run with other settings ({details}); use another run "
            "folder, or delete this one to start over"
        )


def load_finished(run: RunFolder, settings: dict[str, Any], epochs: int) -> RunResult | None:
    """The result of ``run`` if it is finished (with the same settings), else ``None``."""
    if not run.is_finished():
        return None
    metrics = run.read_metrics()
    _check_settings(run, metrics["settings"], settings)
    return RunResult(run, metrics, run.read_history(), epochs, loaded=True)


def resume(run: RunFolder, settings: dict[str, Any], setup: Any) -> tuple[list[dict], int]:
    """Load the last checkpoint of ``run`` into ``setup``; returns (history, epochs done)."""
    checkpoint = run.load_checkpoint()
    if checkpoint is None:
        return [], 0
    _check_settings(run, checkpoint["settings"], settings)
    setup.load_state_dict(checkpoint)
    return checkpoint["history"], checkpoint["epoch"]


def _evaluate_loss_and_accuracy(probs: np.ndarray, labels: torch.Tensor) -> tuple[float, float]:
    y = labels.numpy()
    picked = probs[np.arange(len(y)), y]
    loss = float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
    return loss, float((probs.argmax(1) == y).mean())


class TrainingSetup:
    """Model, optimiser, scheduler and loss of one run, on one device, and its training step.

    >>> from fer_course.profiles import get_profile
    >>> setup = TrainingSetup("resnet18", get_profile("smoke"), num_classes=7, device="cpu")
    >>> x, y = setup.augmented_batch(torch.zeros(4, 48, 48, dtype=torch.uint8),
    ...                              torch.zeros(4, dtype=torch.long), torch.arange(4))
    >>> x.shape, float(setup.step(x, y)[0]) > 0
    (torch.Size([4, 3, 32, 32]), True)
    """

    def __init__(self, arch: str, profile: Profile, num_classes: int,
                 device: torch.device | str | None = None) -> None:
        self.device = pick_device(device)
        self.on_gpu = self.device.type == "cuda"
        torch.manual_seed(profile.seed)  # the initial weights
        weights = None if profile.weights in (None, "none", "scratch") else profile.weights
        model = build_backbone(arch, num_classes=num_classes, weights=weights)
        memory_format = torch.channels_last if self.on_gpu else torch.preserve_format
        self.model = model.to(self.device, memory_format=memory_format)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=profile.lr,
                                         momentum=profile.momentum,
                                         weight_decay=profile.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=profile.lr_factor,
            patience=profile.plateau_patience)
        bf16 = self.on_gpu and torch.cuda.is_bf16_supported()
        self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
        # float16 needs loss scaling against underflow; bfloat16 does not
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.on_gpu and not bf16)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=profile.label_smoothing)
        self.aug = AugmentConfig(image_size=profile.image_size)

    def augmented_batch(self, images: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor,
                        generator: torch.Generator | None = None,
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather ``idx`` from the uint8 images on the device and augment them there."""
        x = train_transform(images[idx], self.aug, generator)
        if self.on_gpu:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, labels[idx]

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on a ready batch; returns (loss, logits), still on the device."""
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.on_gpu):
            logits = self.model(x)
            loss = self.criterion(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach(), logits.detach()

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])

    def validate(self, data: FERData) -> tuple[float, float]:
        """Validation loss (cross-entropy, no smoothing) and accuracy of the current weights."""
        probs = predict_probabilities(self.model, data.val.images, self.aug, device=self.device,
                                      channels_last=self.on_gpu, amp=self.on_gpu)
        return _evaluate_loss_and_accuracy(probs, data.val.labels)


def fit(
    data: FERData,
    arch: str,
    profile: Profile,
    run_dir: str | os.PathLike,
    device: torch.device | str | None = None,
    progress: bool = True,
    callbacks: Sequence[BatchCallback] = (),
) -> RunResult:
    """Train ``arch`` on ``data`` with ``profile``'s recipe, into ``run_dir``; see the module doc.

    >>> from fer_course.data import make_synthetic_fer            # doctest: +SKIP
    >>> from fer_course.profiles import get_profile               # doctest: +SKIP
    >>> fit(make_synthetic_fer(), "resnet18", get_profile("smoke"), "runs/demo")  # doctest: +SKIP
    """
    run = RunFolder(run_dir)
    settings = run_settings(arch, profile, data)
    finished = load_finished(run, settings, profile.epochs)
    if finished is not None:
        return finished
    setup = TrainingSetup(arch, profile, len(data.classes), device)
    card = RunCard.start(f"fit {arch}", profile, setup.device).record_data(data)
    history, start_epoch = resume(run, settings, setup)

    images, labels = _training_subset(data, profile.train_limit, profile.seed)
    images, labels = images.to(setup.device), labels.to(setup.device)
    n_batches = _batches_per_epoch(len(labels), profile.batch_size)
    bar = tqdm(total=(profile.epochs - start_epoch) * n_batches, disable=not progress,
               desc=arch, unit="batch")
    for epoch in range(start_epoch, profile.epochs):
        t0 = time.perf_counter()
        bar.set_description(f"{arch} epoch {epoch + 1}/{profile.epochs}")
        loss, acc, seen = _train_one_epoch(setup, images, labels, profile, epoch, bar, callbacks)
        train_seconds = time.perf_counter() - t0
        val_loss, val_acc = setup.validate(data)
        lr = setup.optimizer.param_groups[0]["lr"]
        setup.scheduler.step(val_loss)
        history.append({
            "epoch": epoch + 1, "train_loss": loss, "train_acc": acc, "val_loss": val_loss,
            "val_acc": val_acc, "lr": lr, "seconds": time.perf_counter() - t0,
            "train_images_per_s": seen / train_seconds,
        })
        bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.3f}", val_acc=f"{val_acc:.3f}")
        run.save_checkpoint({"settings": settings, "epoch": epoch + 1, "history": history,
                             **setup.state_dict()})
        run.write_history(history)
    bar.close()
    metrics = _final_evaluation(setup, data, run)
    metrics["settings"] = settings
    metrics["history_last"] = history[-1] if history else None
    card.finish().save(run.file(RunFolder.CARD))
    metrics["wall_time_s"] = card.wall_time_s
    run.write_metrics(metrics)  # last: its presence marks the run finished
    return RunResult(run, metrics, run.read_history(), start_epoch, loaded=False)


def _batches_per_epoch(n: int, batch_size: int) -> int:
    return n // batch_size + (1 if n % batch_size >= 2 else 0)  # never a batch of one


def _train_one_epoch(setup: TrainingSetup, images: torch.Tensor, labels: torch.Tensor,
                     profile: Profile, epoch: int, bar: tqdm,
                     callbacks: Sequence[BatchCallback]) -> tuple[float, float, int]:
    """One pass over the training images; returns mean loss, accuracy and images seen."""
    seed = _epoch_seed(profile.seed, epoch)
    torch.manual_seed(seed)  # dropout
    n, batch_size = len(labels), profile.batch_size
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(setup.device)
    generator = torch.Generator(setup.device).manual_seed(seed)
    n_batches = _batches_per_epoch(n, batch_size)
    setup.model.train()
    loss_sum = torch.zeros((), device=setup.device)
    correct = torch.zeros((), device=setup.device, dtype=torch.long)
    seen = 0
    for b in range(n_batches):
        x, y = setup.augmented_batch(images, labels, order[b * batch_size:(b + 1) * batch_size],
                                     generator)
        loss, logits = setup.step(x, y)
        loss_sum += loss * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        bar.update()
        if b % 20 == 0:  # a host sync only now and then
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.3f}",
                            acc=f"{correct.item() / seen:.3f}")
        for callback in callbacks:
            callback(epoch, b)
    return loss_sum.item() / seen, correct.item() / seen, seen


def _final_evaluation(setup: TrainingSetup, data: FERData, run: RunFolder) -> dict[str, Any]:
    """Predict every split with the final weights; save val/test predictions; return metrics."""
    metrics: dict[str, Any] = {"classes": list(data.classes)}
    saved = {}
    for name, split in data.splits().items():
        probs = predict_probabilities(setup.model, split.images, setup.aug, device=setup.device,
                                      channels_last=setup.on_gpu, amp=setup.on_gpu)
        result = classification_metrics(probs.argmax(1), split.labels.numpy(), len(data.classes))
        loss, _ = _evaluate_loss_and_accuracy(probs, split.labels)
        metrics[name] = {**result, "loss": loss if math.isfinite(loss) else None}
        if name != "train":
            saved[f"{name}_probs"] = probs.astype(np.float32)
            saved[f"{name}_labels"] = split.labels.numpy()
            saved[f"{name}_rows"] = np.asarray(split.rows)
    run.write_predictions(**saved)
    return metrics


def ensure_runs(data: FERData, archs: Sequence[str], profile: Profile,
                runs_dir: str | os.PathLike, progress: bool = True) -> list[RunFolder]:
    """A finished run for each of ``archs`` under ``runs_dir``: trained now if missing,
    loaded if finished (so a chapter that needs runs can make its own)."""
    return [fit(data, arch, profile, Path(runs_dir) / arch, progress=progress).run
            for arch in archs]
