"""Train the paper's autoencoder (Section 4.2) into run folders, resumably.

Three tasks share one loop, one model (``fer_course.models.autoencoder``) and the run
folders of ``fer_course.train``:

- ``reconstruct``: encoder and decoder alone, minimising the MSE of Eq. 1;
- ``classify_frozen``: a classifier on the frozen code of a finished ``reconstruct`` run;
- ``multitask``: everything at once, minimising CE + lambda * MSE (Eq. 3).

All use Adam and the paper's schedule (``CutOnRisingLoss``: the learning rate x0.75 when
the validation loss rose two epochs in a row). Inputs are the 48 px faces, gray repeated
to three channels and normalised; no augmentation (the paper names none for this part).
As in ``fit``, each epoch is seeded by ``(seed, epoch)``, so a resumed run ends exactly
like an uninterrupted one, and a finished run is loaded instead of trained.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .augment import AugmentConfig, eval_transform
from .data.types import FERData
from .devices import pick_device
from .evaluate import classification_metrics
from .models.autoencoder import build_autoencoder
from .runs import RunCard, RunFolder
from .schedules import CutOnRisingLoss
from .train import (
    BatchCallback,
    RunResult,
    _batches_per_epoch,
    _epoch_seed,
    _training_subset,
    load_finished,
    resume,
)

TASKS = ("reconstruct", "classify_frozen", "multitask")
INPUT = AugmentConfig(image_size=48)


@dataclass(frozen=True)
class AutoencoderRecipe:
    """What one autoencoder run does. ``lam`` weighs the MSE in ``multitask``;
    ``encoder_run`` names the finished ``reconstruct`` run ``classify_frozen`` builds on."""

    task: str
    latent_dim: int = 686
    lr: float = 1e-3
    lam: float = 1.0
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0
    train_limit: int | None = None
    encoder_run: str | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {TASKS}")
        if self.task == "classify_frozen" and not self.encoder_run:
            raise ValueError("classify_frozen needs encoder_run: a finished reconstruct run")


def recipe_for(profile, task: str, **overrides: Any) -> AutoencoderRecipe:
    """The profile's autoencoder sizes (epochs, batch, training images, seed) for ``task``.

    >>> from fer_course.profiles import get_profile
    >>> recipe_for(get_profile("cpu"), "multitask", lam=0.0).train_limit
    3000
    """
    sizes = {"epochs": profile.ae_epochs, "batch_size": profile.batch_size,
             "train_limit": profile.ae_train_limit, "seed": profile.seed}
    return AutoencoderRecipe(task, **{**sizes, **overrides})


class _Setup:
    """Model, optimiser and schedule of one recipe, and the loss of its task."""

    def __init__(self, recipe: AutoencoderRecipe, device: torch.device) -> None:
        self.recipe, self.device = recipe, device
        torch.manual_seed(recipe.seed)
        self.model = build_autoencoder(recipe.latent_dim).to(device)
        params = list(self.model.parameters())
        if recipe.task == "classify_frozen":
            encoder_state = RunFolder(recipe.encoder_run).load_checkpoint()["model"]
            self.model.load_state_dict(encoder_state)
            for p in self.model.encoder.parameters():
                p.requires_grad_(False)
            params = list(self.model.classifier.parameters())
        self.optimizer = torch.optim.Adam(params, lr=recipe.lr)
        self.schedule = CutOnRisingLoss(self.optimizer)

    def train_mode(self) -> None:
        self.model.train()
        if self.recipe.task == "classify_frozen":
            self.model.encoder.eval()  # frozen: its batch-norm statistics stay as trained

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss to minimise, plus its parts, for one normalised batch."""
        logits, reconstruction = self.model(x)
        mse = F.mse_loss(reconstruction, x)
        ce = F.cross_entropy(logits, y)
        loss = {"reconstruct": mse, "classify_frozen": ce,
                "multitask": ce + self.recipe.lam * mse}[self.recipe.task]
        return {"loss": loss, "mse": mse, "ce": ce, "logits": logits,
                "reconstruction": reconstruction}

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])


@torch.no_grad()
def evaluate_split(setup: _Setup, images: torch.Tensor, labels: torch.Tensor,
                   batch_size: int = 512) -> dict[str, Any]:
    """Mean loss, MSE and CE, plus probabilities, of the current weights on one split."""
    setup.model.eval()
    sums = {"loss": 0.0, "mse": 0.0, "ce": 0.0, "mse_pixels": 0.0}
    std = torch.tensor(INPUT.std, device=setup.device).view(1, 3, 1, 1)
    probs = []
    for start in range(0, len(labels), batch_size):
        x = eval_transform(images[start:start + batch_size].to(setup.device), INPUT)
        y = labels[start:start + batch_size].to(setup.device)
        parts = setup.losses(x, y)
        # the same error on the 0-1 pixel scale (the paper's, without normalisation)
        parts["mse_pixels"] = F.mse_loss(parts["reconstruction"] * std, x * std)
        for key in sums:
            sums[key] += float(parts[key]) * len(y)
        probs.append(torch.softmax(parts["logits"].float(), 1).cpu())
    n = max(len(labels), 1)
    return {**{k: v / n for k, v in sums.items()}, "probs": torch.cat(probs).numpy()}


def fit_autoencoder(data: FERData, recipe: AutoencoderRecipe, run_dir: str | os.PathLike,
                    device: torch.device | str | None = None, progress: bool = True,
                    callbacks: Sequence[BatchCallback] = ()) -> RunResult:
    """Train ``recipe`` on ``data`` into ``run_dir`` (resume or load as ``fit`` does)."""
    run = RunFolder(run_dir)
    settings = json.loads(json.dumps({**asdict(recipe), "data_source": data.source,
                                      "data_counts": data.counts()}))
    finished = load_finished(run, settings, recipe.epochs)
    if finished is not None:
        return finished
    device = pick_device(device)
    setup = _Setup(recipe, device)
    card = RunCard.start(f"autoencoder {recipe.task}", asdict(recipe), device).record_data(data)
    history, start_epoch = resume(run, settings, setup)
    images, labels = _training_subset(data, recipe.train_limit, recipe.seed)
    images, labels = images.to(device), labels.to(device)
    n_batches = _batches_per_epoch(len(labels), recipe.batch_size)
    bar = tqdm(total=(recipe.epochs - start_epoch) * n_batches, disable=not progress,
               desc=recipe.task, unit="batch")
    for epoch in range(start_epoch, recipe.epochs):
        t0 = time.perf_counter()
        train = _train_epoch(setup, images, labels, epoch, bar, callbacks)
        val = evaluate_split(setup, data.val.images, data.val.labels)
        lr = setup.optimizer.param_groups[0]["lr"]
        setup.schedule.step(val["loss"])
        history.append({"epoch": epoch + 1, **{f"train_{k}": v for k, v in train.items()},
                        "val_loss": val["loss"], "val_mse": val["mse"],
                        "val_acc": _accuracy(val["probs"], data.val.labels), "lr": lr,
                        "seconds": time.perf_counter() - t0})
        bar.set_postfix(loss=f"{train['loss']:.4f}", val_loss=f"{val['loss']:.4f}")
        run.save_checkpoint({"settings": settings, "epoch": epoch + 1, "history": history,
                             **setup.state_dict()})
        run.write_history(history)
    bar.close()
    metrics: dict[str, Any] = {"classes": list(data.classes), "settings": settings}
    saved = {}
    # "train" means the images trained on (a subset when train_limit is set)
    evaluated = {"train": (images.cpu(), labels.cpu()), "val": (data.val.images, data.val.labels),
                 "test": (data.test.images, data.test.labels)}
    for name, (split_images, split_labels) in evaluated.items():
        result = evaluate_split(setup, split_images, split_labels)
        predicted = result["probs"].argmax(1)
        metrics[name] = {**classification_metrics(predicted, split_labels.numpy(),
                                                  len(data.classes)),
                         "loss": result["loss"], "mse": result["mse"],
                         "mse_pixels": result["mse_pixels"]}
        if name != "train":
            split = data.splits()[name]
            saved.update({f"{name}_probs": result["probs"].astype(np.float32),
                          f"{name}_labels": split_labels.numpy(),
                          f"{name}_rows": np.asarray(split.rows)})
    run.write_predictions(**saved)
    card.finish().save(run.file(RunFolder.CARD))
    metrics["wall_time_s"] = card.wall_time_s
    run.write_metrics(metrics)
    return RunResult(run, metrics, run.read_history(), start_epoch, loaded=False)


def _accuracy(probs: np.ndarray, labels: torch.Tensor) -> float:
    return float((probs.argmax(1) == labels.numpy()).mean())


def _train_epoch(setup: _Setup, images: torch.Tensor, labels: torch.Tensor, epoch: int,
                 bar: tqdm, callbacks: Sequence[BatchCallback]) -> dict[str, float]:
    seed = _epoch_seed(setup.recipe.seed, epoch)
    torch.manual_seed(seed)  # dropout
    bs = setup.recipe.batch_size
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    order = order.to(setup.device)
    setup.train_mode()
    sums = {k: torch.zeros((), device=setup.device) for k in ("loss", "mse", "ce", "acc")}
    seen = 0
    for b in range(_batches_per_epoch(len(labels), bs)):
        idx = order[b * bs:(b + 1) * bs]
        x, y = eval_transform(images[idx], INPUT), labels[idx]
        parts = setup.losses(x, y)
        setup.optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        setup.optimizer.step()
        for key in ("loss", "mse", "ce"):  # summed on the device: no host sync per batch
            sums[key] += parts[key].detach() * len(y)
        sums["acc"] += (parts["logits"].argmax(1) == y).sum()
        seen += len(y)
        bar.update()
        for callback in callbacks:
            callback(epoch, b)
    return {k: v.item() / seen for k, v in sums.items()}


def load_autoencoder(run_dir: str | os.PathLike, device: torch.device | str = "cpu"):
    """The trained model of an autoencoder run folder, in eval mode."""
    checkpoint = RunFolder(run_dir).load_checkpoint(map_location=device)
    model = build_autoencoder(checkpoint["settings"]["latent_dim"]).to(device)
    model.load_state_dict(checkpoint["model"])
    return model.eval()


@torch.no_grad()
def reconstruct(model, images: torch.Tensor) -> torch.Tensor:
    """Reconstructions ``[B, 3, 48, 48]`` (normalised, like the input) of uint8 faces."""
    device = next(model.parameters()).device
    return model(eval_transform(images.to(device), INPUT))[1].cpu()
