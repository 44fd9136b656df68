"""The one model loader and the one way to classify faces with a trained model.

``load_run_model(run)`` rebuilds the network of a run folder (a local run with its
checkpoint, or a committed summary with shipped weights) and gives a ``LoadedModel``,
whose ``predict_proba(faces)`` takes uint8 faces ``[N, H, W]`` and returns the softmax
class probabilities ``[N, C]``, the faces fed like the test faces (``eval_transform``).

>>> from fer_course.models import build_backbone
>>> loaded = LoadedModel(build_backbone("resnet18"), 48)
>>> loaded.predict_proba(np.zeros((2, 48, 48), np.uint8)).shape
(2, 7)
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from fer_course.augment.small_faces import FaceAugment, apply_augment
from fer_course.devices import pick_device
from fer_course.pixels import as_uint8_faces
from fer_course.runs.folder import RunFolder
from fer_course.runs.kinds import MODEL_KINDS, ModelKind, kind_of_settings
from fer_course.runs.recipes import AutoencoderRecipe
from fer_course.runs.store import RunStore
from fer_course.runs.teachers import (
    TEACHERS,
    VIEW_SEED,
    save_targets,
    save_view_targets,
    targets_path,
    view_draws,
)


class LoadedModel(NamedTuple):
    """A trained network with what it takes to feed it: its input size and its kind
    (``fer_course.runs.kinds``: how a face batch is prepared for it, and whether its first
    output holds the class scores, as the multitask autoencoder's does)."""

    model: nn.Module
    image_size: int
    kind: ModelKind = MODEL_KINDS["backbone"]

    @property
    def is_autoencoder(self) -> bool:
        return self.kind.recipe_type is AutoencoderRecipe

    @property
    def gray_input(self) -> bool:
        """Whether it takes gray faces on [0, 1] (the best recipe's network)."""
        return self.kind.name == "best"

    @torch.no_grad()
    def predict_proba(self, faces: Any, batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``[n, C]`` (float64) of gray faces ``[n, h, w]``, uint8 or
        floats in [0, 1] (``fer_course.pixels``; anything else is refused); the model's
        train/eval mode is left as found."""
        faces = torch.from_numpy(np.ascontiguousarray(as_uint8_faces(faces)))
        parameter = next(self.model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        modes = {module: module.training for module in self.model.modules()}
        chunks = []
        try:
            self.model.eval()
            for start in range(0, len(faces), batch_size):
                chunk = faces[start:start + batch_size].to(device)
                scores = self.model(self.kind.prepare(chunk, self.image_size))
                if isinstance(scores, (tuple, list)):  # the autoencoder: (scores, image)
                    scores = scores[0]
                chunks.append(torch.softmax(scores.float(), dim=1).cpu())
        finally:
            for module, training in modes.items():
                module.training = training
        return torch.cat(chunks).numpy().astype(np.float64)


def load_run_model(run: RunFolder | str | os.PathLike,
                   device: str | torch.device | None = None) -> LoadedModel:
    """The trained network of ``run`` in eval mode on ``device`` (default: the GPU if any):
    the checkpoint's weights where the folder has one, else its shipped half-precision
    weights (sha256 checked). Its settings tell its kind (``fer_course.runs.kinds``), which
    builds the network and says its input."""
    run = run if isinstance(run, RunFolder) else RunFolder(run)
    if not run.has_weights():
        raise FileNotFoundError(f"{run.path} holds no weights (no {RunFolder.CHECKPOINT} or "
                                f"{RunFolder.WEIGHTS}): train the run first")
    # an unfinished local run: its checkpoint knows its settings
    settings = run.read_settings() if run.is_finished() else run.load_checkpoint()["settings"]
    device = pick_device(device)
    try:
        kind = kind_of_settings(settings)
    except ValueError as error:
        raise ValueError(f"{run.path}: {error}") from error
    model = kind.load(settings, run.load_weights(device))
    return LoadedModel(model.to(device).eval(), kind.input_size(settings), kind)


@torch.no_grad()
def teacher_logp(networks: Sequence[Any], faces: torch.Tensor, batch_size: int = 512,
                 ) -> np.ndarray:
    """The log of the mean probabilities of ``networks`` (``LoadedModel``s) on uint8
    ``faces [N, 48, 48]``: the vote a student learns from.

    >>> from fer_course.engine.inference import LoadedModel
    >>> from fer_course.models.small_cnn import SmallFaceNet
    >>> from fer_course.runs.kinds import MODEL_KINDS
    >>> net = LoadedModel(SmallFaceNet(widths=(4, 4, 4, 4)).eval(), 48, MODEL_KINDS["best"])
    >>> teacher_logp([net], torch.zeros(3, 48, 48, dtype=torch.uint8)).shape
    (3, 7)
    """
    mean = sum(network.predict_proba(faces.numpy(), batch_size) for network in networks)
    return np.log(np.clip(mean / len(networks), 1e-8, None)).astype(np.float32)


def write_teacher_targets(teacher: str, data: Any, profile_name: str = "best",
                          store: RunStore | None = None,
                          dest: str | os.PathLike | None = None) -> Path:
    """Compute ``teacher``'s targets on ``data``'s training faces from its members'
    weights in ``store`` (default: the profile's) and store them at ``dest`` (default:
    the committed place, ``targets_path``)."""
    store = store or RunStore(profile_name)
    logp = teacher_logp(teacher_members(teacher, store), data.train.images)
    return save_targets(dest or targets_path(teacher, profile_name), data.train.rows, logp)


def teacher_members(teacher: str, store: RunStore) -> list[LoadedModel]:
    """The networks of ``teacher``'s vote from their weights in ``store``, on the CPU."""
    if teacher not in TEACHERS:
        raise ValueError(f"no stored targets of teacher {teacher!r} and no such teacher to "
                         f"compute them from; teachers: {', '.join(TEACHERS)}")
    members = []
    for name in TEACHERS[teacher]:
        run = store.with_weights(name)
        if run is None:
            raise FileNotFoundError(f"teacher {teacher!r}: run {name!r} has no weights here")
        members.append(load_run_model(run, "cpu"))
    return members


@torch.no_grad()
def view_logp(members: Sequence[LoadedModel], images: torch.Tensor, augment: FaceAugment,
              view: int, batch_size: int = 512, bf16: bool = False) -> np.ndarray:
    """The log of the members' mean probabilities on view ``view`` of uint8 ``images``
    ``[N, 48, 48]`` (``runs.teachers.view_draws``), ``[N, C]``; ``bf16`` runs the
    members under bfloat16 autocast (on a CPU that has it, about 2.5 times faster).

    >>> from fer_course.models.small_cnn import SmallFaceNet
    >>> net = LoadedModel(SmallFaceNet(widths=(4, 4, 4, 4)).eval(), 48, MODEL_KINDS["best"])
    >>> view_logp([net], torch.zeros(3, 48, 48, dtype=torch.uint8), FaceAugment(), 0).shape
    (3, 7)
    """
    drawn = view_draws(len(images), augment, view)
    noise = torch.Generator().manual_seed(VIEW_SEED + view)  # inside erased rectangles
    chunks = []
    for start in range(0, len(images), batch_size):
        x = apply_augment(images[start:start + batch_size], drawn[start:start + batch_size],
                          augment, noise)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            scores = [m.model(x).float() for m in members]
        mean = sum(torch.softmax(s, 1) for s in scores) / len(members)
        chunks.append(torch.log(mean.clamp(min=1e-8)))
    return torch.cat(chunks).numpy()


def write_teacher_view_targets(teacher: str, data: Any, views: int, augment: FaceAugment,
                               profile_name: str = "best", store: RunStore | None = None,
                               dest: str | os.PathLike | None = None,
                               progress: bool = False, bf16: bool = False) -> Path:
    """Compute ``teacher``'s answers on ``views`` views of ``data``'s training faces
    (``view_logp``, in bfloat16 where ``bf16``) and store them at ``dest`` (default: the
    committed place)."""
    members = teacher_members(teacher, store or RunStore(profile_name))
    start, answers = time.perf_counter(), []
    for view in range(views):
        answers.append(view_logp(members, data.train.images, augment, view, bf16=bf16))
        if progress:
            print(f"view {view + 1}/{views}: {time.perf_counter() - start:.0f} s", flush=True)
    return save_view_targets(dest or targets_path(teacher, profile_name, views),
                             data.train.rows, np.stack(answers), augment,
                             time.perf_counter() - start)
