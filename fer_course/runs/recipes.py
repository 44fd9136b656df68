"""Recipes: what one run does, as a frozen dataclass whose fields are its identity.

A run folder stores ``run_identity(recipe, data)``; resuming or loading it with another
recipe (or other data) raises ``RunMismatchError`` naming each differing field. Adding a
field to a recipe adds it to the identity: nothing is listed twice by hand.

>>> from fer_course.profiles import get_profile
>>> backbone_recipe("resnet18", get_profile("smoke")).image_size
32
>>> autoencoder_recipe(get_profile("cpu"), "multitask", lam=0.0).lam
0.0
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fer_course.precision import PRECISIONS
from fer_course.profiles import Profile

AUTOENCODER_TASKS = ("reconstruct", "classify_frozen", "multitask")


@dataclass(frozen=True)
class BackboneRecipe:
    """Fine-tuning one torchvision backbone (chapter 2): SGD, ReduceLROnPlateau, augmentation."""

    arch: str
    image_size: int
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_factor: float = 0.5
    plateau_patience: int = 10
    weights: str | None = None  # "imagenet", a local file, or None / "scratch": random init
    train_limit: int | None = None
    label_smoothing: float = 0.0
    max_rotation: float = 45.0  # degrees: the paper's RandomRotation(45)
    seed: int = 0
    precision: str = "auto"

    def __post_init__(self) -> None:
        _check_precision(self.precision)


@dataclass(frozen=True)
class AutoencoderRecipe:
    """One run of the paper's autoencoder (chapters 4 and 5). ``lam`` weighs the MSE in
    ``multitask``; ``encoder_run`` names the finished ``reconstruct`` run that
    ``classify_frozen`` builds on: a run name in the same runs folder (e.g.
    ``"autoencoder-1000"``), so the identity does not depend on where the folder is."""

    task: str
    latent_dim: int = 686
    lr: float = 1e-3
    lam: float = 1.0
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0
    train_limit: int | None = None
    encoder_run: str | None = None
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.task not in AUTOENCODER_TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {AUTOENCODER_TASKS}")
        if self.task == "classify_frozen" and not self.encoder_run:
            raise ValueError("classify_frozen needs encoder_run: a finished reconstruct run")
        _check_precision(self.precision)


@dataclass(frozen=True)
class BestRecipe:
    """The course's own recipe (chapter 7): ``SmallFaceNet`` from random weights at 48 px,
    SGD with Nesterov momentum under a one-cycle schedule (``warmup`` of the steps rising
    to ``lr``, then a cosine to zero), label smoothing, the ``FaceAugment`` ranges, a
    class-weighted loss (weights ``(1 / class frequency) ** class_balance``, mean 1) and
    the mean over each test face and its mirror image (``tta``). Setting one ingredient
    to zero (or ``False``) removes it: that is how the ablation runs are made.

    Distillation: with a ``teacher`` (a name of ``runs.teachers.TEACHERS``) the loss is
    ``(1 - distill)`` times the label loss plus ``distill * temperature ** 2`` times the
    Kullback-Leibler divergence from the teacher's stored probabilities to the network's,
    both softened by ``temperature``. With ``teacher_views = k`` the teacher's answers are
    its answers on ``k`` stored views of each face (``runs.teachers``), and in epoch ``e``
    the network sees view ``e mod k`` with the answer to it (consistent teaching) instead
    of a fresh augmentation with the answer on the clean face."""

    epochs: int = 35
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup: float = 0.2
    widths: tuple[int, ...] = (32, 64, 128, 256)
    dropout: float = 0.3
    label_smoothing: float = 0.1
    max_rotation: float = 15.0
    max_scale: float = 0.15
    max_shift: float = 0.1
    flip_p: float = 0.5
    erase_p: float = 0.5
    class_balance: float = 0.5
    tta: bool = True
    image_size: int = 48
    train_limit: int | None = None
    seed: int = 0
    precision: str = "auto"
    teacher: str | None = None
    distill: float = 0.0
    temperature: float = 1.0
    teacher_views: int = 0

    def __post_init__(self) -> None:
        _check_precision(self.precision)
        if not 0 <= self.distill <= 1 or (self.distill > 0) != (self.teacher is not None):
            raise ValueError(f"distill weighs a teacher's loss in (0, 1]; got distill="
                             f"{self.distill} with teacher={self.teacher!r}")
        if self.teacher_views < 0 or (self.teacher_views and self.teacher is None):
            raise ValueError(f"teacher_views counts the views a teacher answered (>= 0, with "
                             f"a teacher); got {self.teacher_views} with teacher="
                             f"{self.teacher!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup is a fraction of the steps in [0, 1), got {self.warmup}")
        object.__setattr__(self, "widths", tuple(self.widths))  # json gives lists back


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _given(overrides: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in overrides.items() if v is not None}


def backbone_recipe(arch: str, profile: Profile, **overrides: Any) -> BackboneRecipe:
    """The recipe of ``arch`` under ``profile``: every recipe field the profile has, then
    ``overrides`` (``None`` values ignored). ``weights="scratch"`` means random weights."""
    shared = {name: getattr(profile, name) for name in _fields(BackboneRecipe) & _fields(Profile)}
    values = {**shared, "arch": arch, **_given(overrides)}
    if values.get("weights") in ("none", "scratch"):
        values["weights"] = None
    return BackboneRecipe(**values)


def autoencoder_recipe(profile: Profile, task: str, **overrides: Any) -> AutoencoderRecipe:
    """The profile's autoencoder budget (epochs, batch, lr, training images; a
    ``reconstruct`` run takes ``reconstruct_epochs`` where set), its seed and precision,
    for ``task``; then ``overrides`` (``None`` values ignored).

    >>> from fer_course.profiles import get_profile
    >>> autoencoder_recipe(get_profile("cpu"), "reconstruct", latent_dim=200).epochs
    3
    """
    budget = asdict(profile.autoencoder)
    reconstruct_epochs = budget.pop("reconstruct_epochs")
    if task == "reconstruct" and reconstruct_epochs is not None:
        budget["epochs"] = reconstruct_epochs
    values = {**budget, "seed": profile.seed, "precision": profile.precision,
              **_given(overrides)}
    return AutoencoderRecipe(task, **values)


def best_recipe(profile: Profile, **overrides: Any) -> BestRecipe:
    """The ``best`` recipe under ``profile``: its ``best`` budget (epochs, batch, peak
    learning rate, training images), seed and precision, then ``overrides``.

    >>> from fer_course.profiles import get_profile
    >>> best_recipe(get_profile("smoke")).epochs, best_recipe(get_profile("best")).epochs
    (3, 35)
    """
    values = {**asdict(profile.best), "seed": profile.seed, "precision": profile.precision,
              **_given(overrides)}
    return BestRecipe(**values)


def data_fingerprint(data: Any) -> str:
    """A short hash of every split's csv rows and labels: the same for FER-2013 read from
    its csv, an image folder or any cache, different for other labels (FER+) or splits.

    >>> from fer_course.data import make_synthetic_fer
    >>> d = make_synthetic_fer(14, 7, 7)
    >>> data_fingerprint(d) == data_fingerprint(d), len(data_fingerprint(d))
    (True, 16)
    """
    digest = hashlib.sha256()
    for name, split in data.splits().items():
        digest.update(name.encode())
        digest.update(np.asarray(split.rows, dtype=np.int64).tobytes())
        digest.update(np.asarray(split.labels, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def run_identity(recipe: Any, data: Any) -> dict[str, Any]:
    """What a run folder must match to be resumed or loaded: the recipe's fields, its kind,
    and the data (split sizes and ``data_fingerprint``, not the file it was read from), in
    json form (tuples become lists).

    >>> from fer_course.data import make_synthetic_fer
    >>> ident = run_identity(AutoencoderRecipe("reconstruct"), make_synthetic_fer(14, 7, 7))
    >>> ident["recipe"], ident["data_counts"]
    ('AutoencoderRecipe', {'train': 14, 'val': 7, 'test': 7})
    """
    identity = {"recipe": type(recipe).__name__, **asdict(recipe),
                "data_counts": data.counts(), "data_fingerprint": data_fingerprint(data)}
    return json.loads(json.dumps(identity))
