"""The one training engine: every kind of run goes through ``train`` and its run folder.

A *task* brings what differs (model, optimiser, how a batch is prepared, its ``step``,
its losses, its schedule); the engine does the rest, once for every task:

1. load the run if its folder holds a finished run with the same identity;
2. else resume from the last checkpoint (same identity required) or start;
3. per epoch: shuffle, prepare batches, the engine's step (``engine.step``: the task's
   loss under autocast, backward through the loss scaler, the update, the per-batch
   schedule and weight average only after a taken update), validate, ``task.end_epoch``,
   then checkpoint (atomically) and write ``history.csv``;
4. finally evaluate train (the images trained on), val and test with the final weights,
   save val/test predictions, the run card and ``metrics.json`` (it marks the run
   finished); only then strip the optimiser state from the checkpoint. A kill before
   ``metrics.json`` leaves a full checkpoint of the last epoch, so a rerun repeats only the
   final evaluation; a kill after it leaves a finished run.

Every epoch draws its shuffle, augmentation and dropout from generators seeded by
``(seed, epoch)``, so a run killed at any point and resumed ends exactly like an
uninterrupted one. A kill loses at most the epoch in progress.

The precision a run trained in is part of its identity (``precision_used``): resuming a
checkpoint in another precision than the one it was trained in is refused unless asked
for (``allow_precision_change``); a finished run loads whatever its precision unless one
is asked for explicitly (``precision="fp32"`` in the recipe).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from fer_course.data.types import FERData
from fer_course.devices import pick_device
from fer_course.engine.identity import PRECISION_USED, RunMismatchError, check_identity
from fer_course.engine.step import averaged_weights, evaluation_step, optimizer_step
from fer_course.evaluate import classification_metrics
from fer_course.precision import resolve_precision
from fer_course.runs.cards import RunCard
from fer_course.runs.folder import RunFolder
from fer_course.runs.recipes import run_identity

BatchCallback = Callable[[int, int], None]  # (epoch, batch index), after each optimiser step


class MissingRunError(FileNotFoundError):
    """The run is neither finished here nor stored, and training it was not asked for."""


@dataclass
class RunResult:
    """What a finished run left: its folder, metrics and per-epoch history."""

    run: RunFolder
    metrics: dict[str, Any]
    history: Any  # pandas DataFrame
    resumed_from_epoch: int  # 0: trained from scratch; n: continued after epoch n
    loaded: bool  # True when the run was already finished and only read back


class Task(Protocol):
    """What one kind of run supplies to the engine (see ``train.BackboneTask``)."""

    recipe: Any
    device: torch.device
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer

    def train_batch(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 ``[B, 48, 48]`` on the device -> the network's (augmented) input."""

    def eval_batch(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``[B, 48, 48]`` on the device -> the network's deterministic input."""

    def train_mode(self) -> None: ...

    augment_inputs: tuple[str, ...]  # per-image tensors that go to train_batch, not loss

    def epoch_inputs(self, epoch: int) -> dict[str, torch.Tensor]:
        """The per-image tensors of epoch ``epoch`` (``TaskState``'s: its ``per_image``)."""

    def loss(self, x: torch.Tensor, y: torch.Tensor, **per_image: torch.Tensor,
             ) -> dict[str, torch.Tensor]:
        """The training loss of a prepared batch: ``loss``, ``logits`` and any other parts
        (the engine runs it under autocast, then backward and the update). ``per_image``
        holds the batch's rows of the task's ``per_image`` tensors, where it has some."""

    def eval_loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """On a clean batch: ``logits``, the batch-mean ``loss`` and any other parts."""

    def end_epoch(self, val: dict[str, Any]) -> None:
        """The learning-rate schedule, given the epoch's validation results."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class TaskState:
    """What every task keeps alike: train mode and the checkpointed state (model,
    optimiser, learning-rate schedule under ``schedule_key``, fp16 loss scaler). A task
    sets ``model``, ``optimizer``, ``scheduler`` and ``amp`` (a ``MixedPrecision``)."""

    schedule_key = "scheduler"
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    amp: Any

    def train_mode(self) -> None:
        self.model.train()

    ema: Any = None  # a WeightAverage (engine.step) where the task averages its weights
    # optional ``per_image``: tensors with one row per training face (training_subset's
    # order), e.g. a teacher's targets; the engine hands ``loss`` each batch's rows by name,
    # except those named in ``augment_inputs``, which go to ``train_batch``
    augment_inputs: tuple[str, ...] = ()

    def epoch_inputs(self, epoch: int) -> dict[str, torch.Tensor]:
        """The ``per_image`` tensors of epoch ``epoch`` (0-based): the same every epoch,
        unless a task changes them by epoch (a teacher's answers on view ``epoch mod k``)."""
        return getattr(self, "per_image", {})

    def state_dict(self) -> dict[str, Any]:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 self.schedule_key: self.scheduler.state_dict(), "scaler": self.amp.state_dict()}
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state[self.schedule_key])
        self.amp.load_state_dict(state.get("scaler"))  # older checkpoints have none
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch`` (0-based) of a run seeded ``seed``.

    >>> epoch_seed(0, 3), epoch_seed(1, 0)
    (3, 100003)
    """
    return seed * 100_003 + epoch


def batches_per_epoch(n: int, batch_size: int) -> int:
    """Full batches plus the remainder, unless the remainder is a single image (BatchNorm
    cannot train on a batch of one).

    >>> batches_per_epoch(10, 4), batches_per_epoch(9, 4)
    (3, 2)
    """
    return n // batch_size + (1 if n % batch_size >= 2 else 0)


def training_positions(n: int, limit: int | None, seed: int) -> torch.Tensor:
    """The positions among ``n`` training faces that a run uses: all, or a seeded
    ``limit`` of them, in order.

    >>> training_positions(5, None, 0).tolist(), len(training_positions(5, 2, 0))
    ([0, 1, 2, 3, 4], 2)
    """
    if limit is None or limit >= n:
        return torch.arange(n)
    picked = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return picked[:limit].sort().values


def training_subset(data: FERData, limit: int | None, seed: int,
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The training images and labels a run uses: all, or a seeded ``limit`` of them."""
    images, labels = data.train.images, data.train.labels
    if limit is not None and limit < len(labels):
        keep = training_positions(len(labels), limit, seed)
        images, labels = images[keep], labels[keep]
    return images, labels


def load_finished(run: RunFolder, identity: dict[str, Any]) -> RunResult | None:
    """The result of ``run`` (a run folder or a stored summary) if it is finished with
    this identity, else ``None``."""
    if not run.is_finished():
        return None
    metrics = run.read_metrics()
    check_identity(run, metrics["settings"], identity)
    return RunResult(run, metrics, run.read_history(), len(run.read_history()), loaded=True)


def resume(run: RunFolder, identity: dict[str, Any], task: Task,
           allow_precision_change: bool = False) -> tuple[list[dict], int]:
    """Load the last checkpoint of ``run`` into ``task``; returns (history, epochs done).

    A checkpoint of the last epoch without optimiser state (a run stripped for use whose
    ``metrics.json`` was lost) still gives its weights: only the final evaluation is left.
    """
    checkpoint = run.load_checkpoint()
    if checkpoint is None:
        return [], 0
    check_identity(run, checkpoint["settings"], identity, resuming=True,
                   allow_precision_change=allow_precision_change)
    if "optimizer" not in checkpoint:
        if checkpoint["epoch"] < task.recipe.epochs:
            raise RunMismatchError(f"{run.path}: the checkpoint after epoch "
                                   f"{checkpoint['epoch']} has no optimiser state to resume "
                                   "from; delete the folder to train the run again")
        task.model.load_state_dict(checkpoint["model"])
    else:
        task.load_state_dict(checkpoint)
    return checkpoint["history"], checkpoint["epoch"]


def train_one_epoch(task: Task, images: torch.Tensor, labels: torch.Tensor, epoch: int,
                    bar: Any = None, callbacks: Sequence[BatchCallback] = (),
                    ) -> dict[str, float]:
    """One seeded pass over ``images``: shuffle, prepare each batch, ``optimizer_step``.

    Returns the epoch's mean of every part the step reports (``loss``, ...), the accuracy
    on the training batches as they were seen, and the images per second.
    """
    recipe = task.recipe
    seed = epoch_seed(recipe.seed, epoch)
    torch.manual_seed(seed)  # dropout
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    order = order.to(task.device)
    per_image = {name: values.to(task.device)
                 for name, values in task.epoch_inputs(epoch).items()}
    to_augment = set(task.augment_inputs)
    # augmentation
    generator = torch.Generator(task.device).manual_seed(seed)
    task.train_mode()
    sums: dict[str, torch.Tensor] = {}
    correct = torch.zeros((), dtype=torch.long, device=task.device)
    seen, t0 = 0, time.perf_counter()
    for b in range(batches_per_epoch(len(labels), recipe.batch_size)):
        idx = order[b * recipe.batch_size:(b + 1) * recipe.batch_size]
        y = labels[idx]
        rows = {name: values[idx] for name, values in per_image.items()}
        x = task.train_batch(images[idx], generator,
                             **{name: rows.pop(name) for name in to_augment & set(rows)})
        out = optimizer_step(task, x, y, **rows)
        # summed on the device: no host sync per batch
        for key, value in out.items():
            if key != "logits":
                sums[key] = sums.get(key, 0) + value.float() * len(y)
        correct += (out["logits"].argmax(1) == y).sum()
        seen += len(y)
        if bar is not None:
            bar.update()
        for callback in callbacks:
            callback(epoch, b)
    result = {key: float(value) / seen for key, value in sums.items()}
    return {**result, "acc": correct.item() / seen,
            "images_per_s": seen / (time.perf_counter() - t0)}


@torch.no_grad()
def evaluate(task: Task, images: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 256) -> dict[str, Any]:
    """Mean of every part ``task.eval_loss`` reports, accuracy, and softmax ``probs``
    (numpy ``[N, C]``), of the current weights (their average, where the task keeps one) on
    one split (uint8 images on any device)."""
    task.model.eval()
    sums: dict[str, float] = {}
    probs = []
    with averaged_weights(task):
        for start in range(0, len(labels), batch_size):
            x = task.eval_batch(images[start:start + batch_size].to(task.device))
            y = labels[start:start + batch_size].to(task.device)
            out = evaluation_step(task, x, y)
            for key, value in out.items():
                if key != "logits":
                    sums[key] = sums.get(key, 0.0) + float(value) * len(y)
            probs.append(torch.softmax(out["logits"].float(), 1).cpu())
    n = max(len(labels), 1)
    stacked = torch.cat(probs).numpy() if probs else np.zeros((0, 0), np.float32)
    accuracy = float((stacked.argmax(1) == labels.numpy()).mean()) if len(labels) else 0.0
    return {**{k: v / n for k, v in sums.items()}, "acc": accuracy, "probs": stacked}


def train(task_factory: Callable[[], Task], recipe: Any, data: FERData,
          run_dir: str | os.PathLike, title: str, progress: bool = True,
          callbacks: Sequence[BatchCallback] = (),
          stored: RunFolder | str | os.PathLike | None = None,
          train_missing: bool = True, device: torch.device | str | None = None,
          allow_precision_change: bool = False) -> RunResult:
    """Run ``recipe`` on ``data`` into ``run_dir``: load, resume or train (module doc).

    ``task_factory`` builds the task (model and optimiser); it is called only when
    there is something to train, so loading a finished run builds no model. Where
    ``run_dir`` holds nothing yet, the finished summary ``stored`` (the store's committed
    one, ``RunStore.stored``) is returned instead; one made with other settings raises
    ``RunMismatchError`` naming them. With ``train_missing=False`` a run found nowhere
    raises ``MissingRunError`` instead of training. ``device`` is the one the task trains
    on (default: the GPU if any): with the recipe's ``precision`` it says the precision
    used, part of the identity.
    """
    run = RunFolder(run_dir)
    used = resolve_precision(recipe.precision, pick_device(device))
    identity = {**run_identity(recipe, data), PRECISION_USED: used}
    finished = load_finished(run, identity)
    if finished is not None:
        return finished
    if stored is not None and run.load_checkpoint() is None:
        kept = load_finished(stored if isinstance(stored, RunFolder) else RunFolder(stored),
                             identity)
        if kept is not None:
            return kept
    if not train_missing:
        raise MissingRunError(
            f"no finished run {run.path.name!r} in {run.path.parent}"
            + (f" or {getattr(stored, 'path', stored)}" if stored is not None else "")
            + "; set the chapter's parameter train_missing = True to train it here")
    task = task_factory()
    if task.precision != used:
        raise RuntimeError(f"the task trains in {task.precision!r}, not the {used!r} its "
                           "identity records: build it on the device passed to train")
    card = RunCard.start(title, {**asdict(recipe), PRECISION_USED: task.precision},
                         task.device).record_data(data)
    history, start_epoch = resume(run, identity, task, allow_precision_change)
    images, labels = training_subset(data, recipe.train_limit, recipe.seed)
    images, labels = images.to(task.device), labels.to(task.device)
    n_batches = batches_per_epoch(len(labels), recipe.batch_size)
    bar = tqdm(total=(recipe.epochs - start_epoch) * n_batches, disable=not progress,
               desc=title, unit="batch")
    val: dict[str, Any] | None = None
    for epoch in range(start_epoch, recipe.epochs):
        t0 = time.perf_counter()
        bar.set_description(f"{title} epoch {epoch + 1}/{recipe.epochs}")
        trained = train_one_epoch(task, images, labels, epoch, bar, callbacks)
        val = evaluate(task, data.val.images, data.val.labels)
        lr = task.optimizer.param_groups[0]["lr"]
        task.end_epoch(val)
        history.append({"epoch": epoch + 1, **{f"train_{k}": v for k, v in trained.items()},
                        **{f"val_{k}": v for k, v in val.items() if k != "probs"},
                        "lr": lr, "seconds": time.perf_counter() - t0})
        bar.set_postfix(loss=f"{trained['loss']:.3f}", val_acc=f"{val['acc']:.3f}")
        run.save_checkpoint({"settings": identity, "epoch": epoch + 1, "history": history,
                             **task.state_dict()})
        run.write_history(history)
    bar.close()
    metrics = final_evaluation(task, data, images.cpu(), labels.cpu(), run, last_val=val)
    card.finish()
    card.wall_time_s = round(card.wall_time_s + sum(h["seconds"] for h in history[:start_epoch]),
                             1)  # a resumed run counts the epochs done before, too
    card.save(run.file(RunFolder.CARD))
    metrics.update(settings=identity, wall_time_s=card.wall_time_s,
                   history_last=history[-1] if history else None)
    run.write_metrics(metrics)  # marks the run finished: a kill from here on loses nothing
    # weights only from now on: the optimiser state is needed to resume, not to use the model
    run.save_checkpoint({"settings": identity, "epoch": recipe.epochs, "history": history,
                         "model": task.model.state_dict()})
    return RunResult(run, metrics, run.read_history(), start_epoch, loaded=False)


def final_evaluation(task: Task, data: FERData, train_images: torch.Tensor,
                     train_labels: torch.Tensor, run: RunFolder,
                     last_val: dict[str, Any] | None = None) -> dict[str, Any]:
    """Metrics of the final weights on the trained images, val and test; writes the
    val/test predictions. ``last_val`` (the last epoch's validation, same weights) is
    reused instead of predicting val again."""
    metrics: dict[str, Any] = {"classes": list(data.classes)}
    saved = {}
    splits = {"train": (train_images, train_labels, None),
              "val": (data.val.images, data.val.labels, data.val.rows),
              "test": (data.test.images, data.test.labels, data.test.rows)}
    for name, (images, labels, rows) in splits.items():
        result = last_val if name == "val" and last_val is not None else evaluate(
            task, images, labels)
        probs = result["probs"]
        extras = {k: v for k, v in result.items() if k not in ("acc", "probs")}
        metrics[name] = {**classification_metrics(probs.argmax(1), labels.numpy(),
                                                  len(data.classes)), **extras}
        if rows is not None:
            saved.update({f"{name}_probs": probs.astype(np.float32),
                          f"{name}_labels": labels.numpy(), f"{name}_rows": np.asarray(rows)})
    run.write_predictions(**saved)
    return metrics
