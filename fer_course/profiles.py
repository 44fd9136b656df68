"""The one switch that sizes every run: ``smoke``, ``cpu``, ``paper``, ``colab`` and ``best``.

A chapter asks ``get_profile(profile, **parameters)``. The name comes from, in order:
the explicit argument (a papermill parameter), the environment variable
``FER_COURSE_PROFILE`` (how nbval and CI choose), else ``cpu``: the profile whose runs are
stored in ``results/`` and shown on the website, so that a fresh clone, or Colab with or
without a GPU, shows them without training. Training under ``paper``, ``colab`` or ``best``
is one parameter away. ``colab`` is the paper's recipe shrunk (112 px, 10 epochs) so that
all 17 backbones of chapters 2 and 3 fit one free Colab T4 session; its runs live in
``runs/colab/`` and none are committed. Any explicit parameter that is not ``None`` overrides
the profile's own value.

>>> get_profile("smoke").data
'synthetic'
>>> get_profile("paper", epochs=3).epochs
3
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

ENV_VAR = "FER_COURSE_PROFILE"

COLAB_SESSION_MINUTES = 180
"""The T4 time the ``colab`` profile is sized for: all 17 backbones of chapters 2 and 3
within about 3 hours. An assumption, not a Colab guarantee: free sessions get a T4 for a
few hours at most and are often cut earlier, so the estimate
(``fer_course.engine.estimates``) must fit this with room for downloads and overheads."""


@dataclass(frozen=True)
class AutoencoderBudget:
    """How big the autoencoder runs of chapters 4 and 5 are (the paper: 50 epochs, all faces).

    >>> AutoencoderBudget(epochs=3).train_limit is None
    True
    """

    epochs: int = 50
    reconstruct_epochs: int | None = None  # the autoencoder alone (chapter 4); None: epochs
    batch_size: int = 64
    lr: float = 1e-3  # Adam; the paper's 0.05 for the autoencoder diverges (chapter 4)
    train_limit: int | None = None  # use at most this many training images (None: all)


@dataclass(frozen=True)
class BestBudget:
    """How long the course's own ``best`` recipe trains (chapter 7): its epochs, batch,
    peak learning rate of the one-cycle schedule and training images.

    >>> BestBudget().epochs
    35
    """

    epochs: int = 35
    batch_size: int = 128
    lr: float = 0.1  # SGD with Nesterov momentum; the one-cycle peak
    train_limit: int | None = None


@dataclass(frozen=True)
class Profile:
    """Every size knob of a run. Fields hold the values a chapter uses unless told otherwise."""

    name: str
    description: str
    data: str  # "synthetic" (generated, no download) or "fer2013" (the real data set)
    image_size: int  # side of the square network input, pixels
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_factor: float = 0.5  # ReduceLROnPlateau factor on validation loss
    plateau_patience: int = 10  # epochs without improvement before the cut (PyTorch's default)
    weights: str | None = None  # "imagenet", None (random init) or a local file
    train_limit: int | None = None  # use at most this many training images (None: all)
    synthetic_sizes: tuple[int, int, int] = (560, 140, 140)  # train, val, test when synthetic
    label_smoothing: float = 0.0
    max_rotation: float = 45.0  # training augmentation: angles drawn from +-max_rotation
    seed: int = 0
    precision: str = "auto"  # "auto", "fp32", "bf16", "fp16": see fer_course.precision
    autoencoder: AutoencoderBudget = AutoencoderBudget()  # chapters 4 and 5
    best: BestBudget = BestBudget()  # chapter 7

    def overridden(self, **overrides: Any) -> Profile:
        """A copy with the given fields replaced; ``None`` values are ignored.

        >>> get_profile("cpu").overridden(epochs=None, batch_size=16).batch_size
        16
        """
        valid = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise ValueError(f"unknown profile field(s) {unknown}; valid fields: {sorted(valid)}")
        changes = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of every field, for run cards and json."""
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="synthetic data, tiny images, a few short epochs: CI on a CPU",
        data="synthetic", image_size=32, epochs=6, batch_size=16, lr=1e-3, plateau_patience=1,
        max_rotation=10.0,  # the paper's 45 degrees needs more steps than a smoke run has
        autoencoder=AutoencoderBudget(epochs=1, batch_size=32, train_limit=128),
        best=BestBudget(epochs=3, batch_size=32, lr=0.05),
        precision="fp32",  # at 32 px and batch 32, bf16's per-call overhead outweighs its gain
    ),
    "cpu": Profile(
        name="cpu",
        description="real FER-2013 at 48 px from random weights, sized for 2 CPU cores",
        data="fer2013", image_size=48, epochs=5, batch_size=128, lr=1e-2, plateau_patience=1,
        autoencoder=AutoencoderBudget(epochs=8, reconstruct_epochs=3, batch_size=128),
    ),
    "paper": Profile(
        name="paper",
        description="the seed paper's recipe: 224 px, 30 epochs, batch 64, SGD 1e-2, GPU",
        data="fer2013", image_size=224, epochs=30, batch_size=64, lr=1e-2, weights="imagenet",
    ),
    # The paper's experiment sized for one free Colab T4 session (COLAB_SESSION_MINUTES).
    # Kept from the paper: ImageNet weights, SGD (momentum 0.9, lr 1e-2, weight decay
    # 5e-4), batch 64, ReduceLROnPlateau (factor 0.5), its augmentation (rotation up to
    # 45 degrees, flip) and all 28,709 training faces. Shrunk: 112 px (half the paper's
    # 224, a quarter of its multiply-adds; FER-2013's faces are 48 px, so 112 px still
    # upsamples them) and 10 epochs instead of 30; the plateau patience scaled with the
    # epochs (10 of 30 -> 3 of 10), else the learning rate could never be cut. Estimated
    # (fer_course.engine.estimates, not measured) at about 2.6 h of T4 time for all 17,
    # leaving about 25 minutes for the weights' download and what the estimate ignores;
    # in the same budget 128 px allows 8 epochs, 224 px only 2.
    "colab": Profile(
        name="colab",
        description="the paper's recipe (ImageNet weights, SGD 1e-2, batch 64) at 112 px for "
                    "10 epochs: all 17 backbones in an estimated 2.6 h of one free Colab T4",
        data="fer2013", image_size=112, epochs=10, batch_size=64, lr=1e-2, weights="imagenet",
        plateau_patience=3,
    ),
    "best": Profile(
        name="best",
        description="the course's own recipe (chapter 7): a small CNN for 48 px faces from "
                    "random weights, 2 CPU cores or a GPU",
        data="fer2013", image_size=48, epochs=5, batch_size=128, lr=1e-2, plateau_patience=1,
    ),
}


def default_profile_name() -> str:
    """``$FER_COURSE_PROFILE`` if set, else ``cpu`` (the stored runs' profile).

    >>> import os
    >>> default_profile_name() == (os.environ.get(ENV_VAR, "").strip() or "cpu")
    True
    """
    return os.environ.get(ENV_VAR, "").strip() or "cpu"


def get_profile(name: str | None = None, **overrides: Any) -> Profile:
    """The named profile (or the default one) with explicit overrides applied.

    >>> get_profile("smoke", image_size=24).image_size
    24
    """
    chosen = name or default_profile_name()
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[chosen].overridden(**overrides)
