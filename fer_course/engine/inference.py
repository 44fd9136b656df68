"""The one model loader and the one way to classify faces with a trained model.

``load_run_model(run)`` rebuilds the network of a run folder (a local run with its
checkpoint, or a committed summary with shipped weights) and gives a ``LoadedModel``,
whose ``predict_proba(faces)`` takes uint8 faces ``[N, H, W]`` and returns the softmax
class probabilities ``[N, C]``, the faces fed like the test faces (``eval_transform``).

>>> from fer_course.models import build_backbone
>>> loaded = LoadedModel(build_backbone("resnet18"), 48, False)
>>> loaded.predict_proba(np.zeros((2, 48, 48), np.uint8)).shape
(2, 7)
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from fer_course.augment import AugmentConfig, eval_transform, face_eval_input
from fer_course.devices import pick_device
from fer_course.engine.best_task import build_best_model
from fer_course.models import build_backbone
from fer_course.models.autoencoder import IMAGE_SIZE as AUTOENCODER_SIZE
from fer_course.models.autoencoder import build_autoencoder
from fer_course.models.small_cnn import FlipAveraged
from fer_course.pixels import as_uint8_faces
from fer_course.runs.folder import RunFolder
from fer_course.runs.recipes import BestRecipe


class LoadedModel(NamedTuple):
    """A trained network with what it takes to feed it: its input size, whether it is
    the multitask autoencoder (whose first output holds the class scores) and, for the
    ``best`` recipe's network, the gray ``[0, 1]`` input it takes instead of the
    backbones' three normalised channels."""

    model: nn.Module
    image_size: int
    is_autoencoder: bool
    gray_input: bool = False

    @torch.no_grad()
    def predict_proba(self, faces: Any, batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``[n, C]`` (float64) of gray faces ``[n, h, w]``, uint8 or
        floats in [0, 1] (``fer_course.pixels``; anything else is refused); the model's
        train/eval mode is left as found."""
        faces = torch.from_numpy(np.ascontiguousarray(as_uint8_faces(faces)))
        parameter = next(self.model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        modes = {module: module.training for module in self.model.modules()}
        config = AugmentConfig(image_size=self.image_size)
        chunks = []
        try:
            self.model.eval()
            for start in range(0, len(faces), batch_size):
                chunk = faces[start:start + batch_size].to(device)
                scores = self.model(face_eval_input(chunk, self.image_size) if self.gray_input
                                    else eval_transform(chunk, config))
                if self.is_autoencoder or isinstance(scores, (tuple, list)):
                    scores = scores[0]
                chunks.append(torch.softmax(scores.float(), dim=1).cpu())
        finally:
            for module, training in modes.items():
                module.training = training
        return torch.cat(chunks).numpy().astype(np.float64)


def _head_classes(state: dict[str, torch.Tensor]) -> int:
    """The number of classes of a backbone's state dict: the rows of its last linear layer."""
    return [v for k, v in state.items() if k.endswith(".weight") and v.ndim == 2][-1].shape[0]


def load_run_model(run: RunFolder | str | os.PathLike,
                   device: str | torch.device | None = None) -> LoadedModel:
    """The trained network of ``run`` in eval mode on ``device`` (default: the GPU if any):
    the checkpoint's weights where the folder has one, else its shipped half-precision
    weights (sha256 checked). Its settings tell the architecture and input size."""
    run = run if isinstance(run, RunFolder) else RunFolder(run)
    if not run.has_weights():
        raise FileNotFoundError(f"{run.path} holds no weights (no {RunFolder.CHECKPOINT} or "
                                f"{RunFolder.WEIGHTS}): train the run first")
    # an unfinished local run: its checkpoint knows its settings
    settings = run.read_settings() if run.is_finished() else run.load_checkpoint()["settings"]
    device = pick_device(device)
    state = run.load_weights(device)
    gray = settings.get("recipe") == "BestRecipe"
    if settings.get("recipe") == "AutoencoderRecipe":
        model = build_autoencoder(settings["latent_dim"])
        size, is_autoencoder = AUTOENCODER_SIZE, True
    elif gray:
        recipe = BestRecipe(widths=tuple(settings["widths"]), dropout=settings["dropout"])
        model = build_best_model(recipe, _head_classes(state))
        if settings["tta"]:
            model = FlipAveraged(model)
            state = {f"model.{k}": v for k, v in state.items()}
        size, is_autoencoder = int(settings["image_size"]), False
    elif "arch" in settings:
        model = build_backbone(settings["arch"], num_classes=_head_classes(state))
        size, is_autoencoder = int(settings["image_size"]), False
    else:
        raise ValueError(f"{run.path}: its settings name neither an autoencoder nor a backbone")
    model.load_state_dict(state)
    return LoadedModel(model.to(device).eval(), size, is_autoencoder, gray)
