"""The course's runs by name, as the chapters and ``results/`` name them.

``multitask-lam1`` is chapter 5's multitask network with λ = 1, ``resnet18`` chapter 2's
backbone, ``resnet18-seed1`` the same with seed 1, ``resnet18-ferplus`` the same trained on
the FER+ labels. ``fit_course_run`` loads such a run from its folder (weights included) or
trains it when asked to.

>>> parse_run_name("multitask-lam0.1")
('multitask', {'lam': 0.1})
>>> parse_run_name("densenet121-seed1")
('backbone', {'arch': 'densenet121', 'seed': 1})
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from .data.types import FERData
from .engine import MissingRunError, RunResult
from .models.backbones import BACKBONES
from .profiles import Profile
from .recipes import autoencoder_recipe
from .runs import RunFolder

__all__ = ["fit_course_run", "parse_run_name"]

_BACKBONE_NAME = re.compile(r"^(?P<arch>[a-z0-9_]+?)(?:-seed(?P<seed>\d+))?(?P<plus>-ferplus)?$")


def parse_run_name(name: str) -> tuple[str, dict[str, Any]]:
    """``(kind, options)`` of a course run name; ``kind`` is ``"multitask"`` or
    ``"backbone"``. Options: ``lam`` (multitask); ``arch``, ``seed``, ``labels``
    (backbone; only those the name sets).

    >>> parse_run_name("resnet18-ferplus")
    ('backbone', {'arch': 'resnet18', 'labels': 'ferplus'})
    """
    if name.startswith("multitask-lam"):
        try:
            return "multitask", {"lam": float(name.removeprefix("multitask-lam"))}
        except ValueError:
            pass
    match = _BACKBONE_NAME.match(name)
    if match and match["arch"] in BACKBONES:
        options: dict[str, Any] = {"arch": match["arch"]}
        if match["seed"] is not None:
            options["seed"] = int(match["seed"])
        if match["plus"]:
            options["labels"] = "ferplus"
        return "backbone", options
    raise ValueError(f"{name!r} is not a course run name: use multitask-lam<λ> or a backbone "
                     f"({', '.join(BACKBONES[:3])}, ...) with optional -seed<k> and -ferplus")


def fit_course_run(data: FERData, name: str, profile: Profile, runs_dir: str | os.PathLike, *,
                   train_missing: bool, device: torch.device | str | None = None,
                   progress: bool = True) -> RunResult:
    """The run ``name`` of ``profile`` from ``runs_dir / name``, with its weights: loaded
    when finished there, resumed when interrupted, trained when missing and
    ``train_missing``; otherwise ``MissingRunError`` saying how to get it. A stored
    summary (``results/``) does not count: it has no weights.

    ``data`` must carry the labels the run was trained on (FER+ for ``-ferplus`` runs).
    """
    from .train import fit
    from .train_autoencoder import fit_autoencoder

    run_dir = Path(runs_dir) / name
    kind, options = parse_run_name(name)
    wants_ferplus = options.pop("labels", None) == "ferplus"
    if wants_ferplus != (len(data.classes) == 8):
        raise ValueError(f"{name} is trained on {'FER+' if wants_ferplus else 'FER-2013'} "
                         f"labels, but the data has {len(data.classes)} classes")
    has_weights = RunFolder(run_dir).file(RunFolder.CHECKPOINT).is_file()
    if not has_weights and not train_missing:
        raise MissingRunError(
            f"{run_dir} holds no trained {name} (no checkpoint.pt). Set train_missing = True "
            f"to train it here under the {profile.name!r} profile, or point runs_dir at a "
            "folder that holds it.")
    if kind == "multitask":
        recipe = autoencoder_recipe(profile, "multitask", **options)
        return fit_autoencoder(data, recipe, run_dir, device=device, progress=progress)
    arch = options.pop("arch")
    return fit(data, arch, profile, run_dir, device=device, progress=progress, **options)
