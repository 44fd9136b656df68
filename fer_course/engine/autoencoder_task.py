"""The paper's autoencoder (Section 4.2) as tasks of the one engine (``fer_course.engine.loop``).

Three tasks share one model (``fer_course.models.autoencoder``):

- ``reconstruct``: encoder and decoder alone, minimising the MSE (Eq. 1);
- ``classify_frozen``: a classifier on the frozen code of a finished ``reconstruct`` run;
- ``multitask``: everything at once, minimising ``multitask_loss``, CE + λ·MSE (Eq. 3).

All use Adam and the paper's schedule (``CutOnRisingLoss``: the learning rate x0.75 when
the validation loss rose two epochs in a row). Inputs are the 48 px faces, gray repeated
to three channels and normalised; no augmentation (the paper names none for this part).

>>> logits, labels = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
>>> x = torch.zeros(1, 3, 2, 2)
>>> round(float(multitask_loss(logits, x + 0.5, x, labels, lam=2.0)[0]), 4)  # 0.1269 + 2 * 0.25
0.6269
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from fer_course.augment import AugmentConfig, eval_transform
from fer_course.data.types import FERData
from fer_course.devices import pick_device
from fer_course.engine.loop import BatchCallback, RunResult, TaskState, train
from fer_course.engine.mixed_precision import MixedPrecision
from fer_course.engine.schedules import CutOnRisingLoss
from fer_course.models.autoencoder import MultitaskAutoencoder, build_autoencoder
from fer_course.runs.folder import RunFolder
from fer_course.runs.recipes import AutoencoderRecipe, autoencoder_recipe

INPUT = AugmentConfig(image_size=48)
"""The autoencoder's input: 48 px, gray to three channels, ImageNet normalisation."""

__all__ = ["AutoencoderRecipe", "AutoencoderTask", "autoencoder_recipe", "fit_autoencoder",
           "load_autoencoder", "multitask_loss", "reconstruct"]


def multitask_loss(logits: torch.Tensor, reconstruction: torch.Tensor, target: torch.Tensor,
                   labels: torch.Tensor, lam: float = 1.0,
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 3: cross-entropy of the class scores plus ``lam`` times the reconstruction MSE.

    Returns ``(loss, ce, mse)``; ``loss`` is what the optimiser minimises.
    """
    ce = F.cross_entropy(logits, labels)
    mse = F.mse_loss(reconstruction, target)
    return ce + lam * mse, ce, mse


class AutoencoderTask(TaskState):
    """Model, optimiser and schedule of one autoencoder recipe, and its step."""

    schedule_key = "schedule"  # the name in its checkpoints

    def __init__(self, recipe: AutoencoderRecipe, device: torch.device | str | None = None,
                 runs_dir: str | os.PathLike = ".") -> None:
        self.recipe, self.device = recipe, pick_device(device)
        self.amp = MixedPrecision(self.device, recipe.precision)  # autocast, fp16 scaling
        self.precision = self.amp.precision
        torch.manual_seed(recipe.seed)
        self.model = self.amp.to_device(build_autoencoder(recipe.latent_dim))
        params = list(self.model.parameters())
        if recipe.task == "classify_frozen":
            # a run name, beside this run's own folder (or a path to one)
            folder = RunFolder(Path(runs_dir) / recipe.encoder_run)
            if not folder.has_weights():
                raise FileNotFoundError(f"classify_frozen: no trained encoder at {folder.path} "
                                        f"(train the reconstruct run {recipe.encoder_run} first)")
            self.model.load_state_dict(folder.load_weights(self.device))
            for p in self.model.encoder.parameters():
                p.requires_grad_(False)
            params = list(self.model.classifier.parameters())
        self.optimizer = torch.optim.Adam(params, lr=recipe.lr)
        self.scheduler = CutOnRisingLoss(self.optimizer)
        self.std = torch.tensor(INPUT.std, device=self.device).view(1, 3, 1, 1)

    def train_batch(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.eval_batch(images)  # no augmentation

    def eval_batch(self, images: torch.Tensor) -> torch.Tensor:
        return self.amp.prepare(eval_transform(images, INPUT))

    def train_mode(self) -> None:
        self.model.train()
        if self.recipe.task == "classify_frozen":
            self.model.encoder.eval()  # frozen: its batch-norm statistics stay as trained

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The task's loss and its parts for one normalised batch (the engine runs it under
        autocast and does the backward pass and the update)."""
        logits, reconstruction = self.model(x)
        logits, reconstruction = logits.float(), reconstruction.float()
        total, ce, mse = multitask_loss(logits, reconstruction, x, y, lam=self.recipe.lam)
        if self.recipe.task != "multitask":  # one head alone: its own loss
            total = mse if self.recipe.task == "reconstruct" else ce
        # the same error on the paper's 0-1 pixel scale (no normalisation)
        mse_pixels = F.mse_loss(reconstruction * self.std, x * self.std)
        return {"loss": total, "ce": ce, "mse": mse, "mse_pixels": mse_pixels,
                "logits": logits}

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The training loss: ``losses``."""
        return self.losses(x, y)

    def eval_loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The same parts on a clean batch: ``losses`` (no augmentation here)."""
        return self.losses(x, y)

    def end_epoch(self, val: dict[str, Any]) -> None:
        self.scheduler.step(val["loss"])


def fit_autoencoder(data: FERData, recipe: AutoencoderRecipe, run_dir: str | os.PathLike,
                    device: torch.device | str | None = None, progress: bool = True,
                    callbacks: Sequence[BatchCallback] = (),
                    stored: str | os.PathLike | None = None,
                    train_missing: bool = True) -> RunResult:
    """Train ``recipe`` on ``data`` into ``run_dir`` (load, resume or train: the engine;
    ``stored`` and ``train_missing`` as in ``fer_course.engine.loop.train``)."""
    return train(lambda: AutoencoderTask(recipe, device, Path(run_dir).parent), recipe, data,
                 run_dir,
                 title=recipe.task, progress=progress, callbacks=callbacks,
                 stored=stored, train_missing=train_missing, device=device)


def load_autoencoder(run_dir: str | os.PathLike,
                     device: torch.device | str = "cpu") -> MultitaskAutoencoder:
    """The trained model of an autoencoder run (its checkpoint or shipped weights), in eval
    mode; ``fer_course.engine.inference.load_run_model`` does the loading."""
    from fer_course.engine.inference import load_run_model

    loaded = load_run_model(run_dir, device)
    if not loaded.is_autoencoder:
        raise ValueError(f"{run_dir} is not an autoencoder run")
    return loaded.model


@torch.no_grad()
def reconstruct(model: MultitaskAutoencoder, images: torch.Tensor) -> torch.Tensor:
    """Reconstructions ``[B, 3, 48, 48]`` (normalised, like the input) of uint8 faces."""
    device = next(model.parameters()).device
    return model(eval_transform(images.to(device), INPUT))[1].cpu()
