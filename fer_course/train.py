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


def run_settings(arch: str, profile: Profile, data: FERData) -> dict[str, Any]:
    """Everything that defines a run, in json form; a resumed run must match it exactly."""
    settings = {"arch": arch, **profile.as_dict(), "data_source": data.source,
                "data_counts": data.counts()}
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


def _evaluate_loss_and_accuracy(probs: np.ndarray, labels: torch.Tensor) -> tuple[float, float]:
    y = labels.numpy()
    picked = probs[np.arange(len(y)), y]
    loss = float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
    return loss, float((probs.argmax(1) == y).mean())


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
    if run.is_finished():
        metrics = run.read_metrics()
        _check_settings(run, metrics["settings"], settings)
        return RunResult(run, metrics, run.read_history(), profile.epochs, loaded=True)

    device = pick_device(device)
    on_gpu = device.type == "cuda"
    card = RunCard.start(f"fit {arch}", profile, device).record_data(data)
    torch.manual_seed(profile.seed)  # the initial weights
    weights = None if profile.weights in (None, "none", "scratch") else profile.weights
    model = build_backbone(arch, num_classes=len(data.classes), weights=weights)
    model = model.to(device, memory_format=torch.channels_last if on_gpu else torch.preserve_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=profile.lr, momentum=profile.momentum,
                                weight_decay=profile.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=profile.lr_factor, patience=profile.plateau_patience)
    amp_dtype = torch.bfloat16 if on_gpu and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler(device.type, enabled=on_gpu and amp_dtype == torch.float16)
    criterion = nn.CrossEntropyLoss(label_smoothing=profile.label_smoothing)
    aug = AugmentConfig(image_size=profile.image_size)

    history: list[dict[str, Any]] = []
    start_epoch = 0
    checkpoint = run.load_checkpoint()
    if checkpoint is not None:
        _check_settings(run, checkpoint["settings"], settings)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        scaler.load_state_dict(checkpoint["scaler"])
        history, start_epoch = checkpoint["history"], checkpoint["epoch"]

    images, labels = _training_subset(data, profile.train_limit, profile.seed)
    images, labels = images.to(device), labels.to(device)
    n, batch_size = len(labels), profile.batch_size
    n_batches = n // batch_size + (1 if n % batch_size >= 2 else 0)  # no batch of one
    for epoch in range(start_epoch, profile.epochs):
        t0 = time.perf_counter()
        torch.manual_seed(_epoch_seed(profile.seed, epoch))  # dropout
        order = torch.randperm(n, generator=torch.Generator().manual_seed(
            _epoch_seed(profile.seed, epoch))).to(device)
        aug_gen = torch.Generator(device).manual_seed(_epoch_seed(profile.seed, epoch))
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        bar = tqdm(range(n_batches), desc=f"{arch} epoch {epoch + 1}/{profile.epochs}",
                   disable=not progress, leave=False)
        for b in bar:
            idx = order[b * batch_size:(b + 1) * batch_size]
            x = train_transform(images[idx], aug, aug_gen)
            if on_gpu:
                x = x.contiguous(memory_format=torch.channels_last)
            y = labels[idx]
            with torch.autocast(device.type, dtype=amp_dtype, enabled=on_gpu):
                logits = model(x)
                loss = criterion(logits, y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            if b % 20 == 0 or b == n_batches - 1:  # a host sync only now and then
                bar.set_postfix(loss=f"{loss_sum.item() / seen:.3f}",
                                acc=f"{correct.item() / seen:.3f}")
            for callback in callbacks:
                callback(epoch, b)
        train_seconds = time.perf_counter() - t0
        val_probs = predict_probabilities(model, data.val.images, aug, device=device,
                                          channels_last=on_gpu, amp=on_gpu)
        val_loss, val_acc = _evaluate_loss_and_accuracy(val_probs, data.val.labels)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(val_loss)
        history.append({
            "epoch": epoch + 1, "train_loss": loss_sum.item() / seen,
            "train_acc": correct.item() / seen, "val_loss": val_loss, "val_acc": val_acc,
            "lr": lr, "seconds": time.perf_counter() - t0,
            "train_images_per_s": seen / train_seconds,
        })
        run.save_checkpoint({
            "settings": settings, "epoch": epoch + 1, "history": history,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
        })
        run.write_history(history)
    metrics = _final_evaluation(model, data, aug, device, on_gpu, run)
    metrics["settings"] = settings
    metrics["history_last"] = history[-1] if history else None
    card.finish().save(run.file(RunFolder.CARD))
    metrics["wall_time_s"] = card.wall_time_s
    run.write_metrics(metrics)  # last: its presence marks the run finished
    return RunResult(run, metrics, run.read_history(), start_epoch, loaded=False)


def _final_evaluation(model: nn.Module, data: FERData, aug: AugmentConfig,
                      device: torch.device, on_gpu: bool, run: RunFolder) -> dict[str, Any]:
    """Predict every split with the final weights; save val/test predictions; return metrics."""
    metrics: dict[str, Any] = {"classes": list(data.classes)}
    saved = {}
    for name, split in data.splits().items():
        probs = predict_probabilities(model, split.images, aug, device=device,
                                      channels_last=on_gpu, amp=on_gpu)
        result = classification_metrics(probs.argmax(1), split.labels.numpy(), len(data.classes))
        loss, _ = _evaluate_loss_and_accuracy(probs, split.labels)
        metrics[name] = {**result, "loss": loss if math.isfinite(loss) else None}
        if name != "train":
            saved[f"{name}_probs"] = probs.astype(np.float32)
            saved[f"{name}_labels"] = split.labels.numpy()
            saved[f"{name}_rows"] = np.asarray(split.rows)
    run.write_predictions(**saved)
    return metrics
