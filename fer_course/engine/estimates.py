"""How long fine-tuning a backbone takes on a T4 GPU: an estimate, not a measurement.

No run of the ``paper`` or ``colab`` profile has been timed on a T4 yet, so their training
time is derived from each architecture's cost:

- ``multiply_adds(arch, image_size)``: multiply-accumulates per image of the convolutions
  and linear layers (the other layers are cheap in arithmetic), counted with forward hooks
  on the real torchvision model (``weights=None``, 7-class head) built on PyTorch's
  ``meta`` device: shapes only, no memory and no arithmetic, so all 17 take seconds;
- a training image costs 3 forward passes (forward, then backward for activations and
  weights), an evaluated image 1, and a forward pass 2 FLOPs per multiply-add;
- per epoch the loop trains on every training image (or ``train_limit``) and evaluates
  the validation split; after the last epoch it evaluates the training images and the
  test split once (``fer_course.engine.loop``);
- the FLOPs are divided by ``T4_EFFECTIVE_FLOPS``, an assumed throughput.

It ignores data movement, memory-bound layers (batch norm, DenseNet's concatenations,
which make DenseNets slower than their multiply-adds say), per-step overheads and the
ImageNet weights' download. Every result says it is an estimate (``measured`` is
``False``; ``estimate_note()``).

>>> from fer_course.profiles import get_profile
>>> round(multiply_adds("resnet18", 224) / 1e9, 2)
1.81
>>> estimate_minutes("vgg19", get_profile("colab")) > estimate_minutes("resnet18",
...                                                                     get_profile("colab"))
True
"""

from __future__ import annotations

from functools import cache

import pandas as pd
import torch

from fer_course.devices import GPU_PROFILES
from fer_course.models.backbones import DISPLAY_NAMES, PAPER_BACKBONES, build_backbone
from fer_course.models.shapes import network_profile
from fer_course.paper import PAPER_SPLIT_SIZES
from fer_course.profiles import Profile

__all__ = [
    "ESTIMATED_PROFILES",
    "T4_EFFECTIVE_FLOPS",
    "estimate_minutes",
    "estimate_note",
    "estimate_table",
    "estimate_text",
    "multiply_adds",
    "run_flops",
]

T4_EFFECTIVE_FLOPS = 8e12
"""Assumed sustained FLOP/s of an NVIDIA T4 fine-tuning these CNNs in fp16 autocast at
batch 64 (``precision="auto"`` picks fp16 on a T4). An assumption, not a measurement:
the T4's tensor-core peak is 65 TFLOP/s, but at its 70 W limit, with PyTorch's kernels
and the non-matmul layers in between, convnet training sustains a small fraction of
it (NVIDIA's published ResNet-50 mixed-precision training rate of a few hundred images
per second on a T4 is about 6-7 TFLOP/s in this module's counting). 8 TFLOP/s puts the
``paper`` profile at about 29 T4 hours; an assumed 12 TFLOP/s would give about 20."""

ESTIMATED_PROFILES: tuple[str, ...] = GPU_PROFILES  # the profiles that train on a GPU
"""The profiles whose backbone runs are meant for a GPU, and so get a T4 estimate."""

TRAINING_PASSES = 3  # forward + backward (gradients of activations and of weights)
FLOPS_PER_MAC = 2  # one multiply and one add


@cache
def multiply_adds(arch: str, image_size: int) -> int:
    """Multiply-accumulates of one ``[1, 3, S, S]`` forward pass of ``arch`` (a
    torchvision backbone with a 7-class head), convolutions and linear layers only.

    >>> multiply_adds("resnet18", 64) == multiply_adds("resnet18", 64)  # cached
    True
    >>> multiply_adds("vgg11", 112) < multiply_adds("vgg11", 224)
    True
    """
    with torch.device("meta"):  # shapes only: nothing allocated, nothing computed
        model = build_backbone(arch, num_classes=7, weights=None)
    return network_profile(model, (1, 3, image_size, image_size))["multiply_adds"]


def _images(profile: Profile) -> tuple[int, int, int]:
    """Training images per epoch, validation and test images (FER-2013's splits)."""
    train = PAPER_SPLIT_SIZES["train"]
    if profile.train_limit is not None:
        train = min(train, profile.train_limit)
    return train, PAPER_SPLIT_SIZES["val"], PAPER_SPLIT_SIZES["test"]


def run_flops(arch: str, profile: Profile) -> float:
    """FLOPs of one run of ``arch`` under ``profile``: per epoch, training on the
    training images and evaluating val; then the training images and test once.

    >>> from fer_course.profiles import get_profile
    >>> f"{run_flops('resnet18', get_profile('paper')):.2e}"
    '9.88e+15'
    """
    train, val, test = _images(profile)
    forward_passes = profile.epochs * (TRAINING_PASSES * train + val) + train + test
    return FLOPS_PER_MAC * multiply_adds(arch, profile.image_size) * forward_passes


def estimate_minutes(arch: str, profile: Profile,
                     flops_per_second: float = T4_EFFECTIVE_FLOPS) -> float:
    """Estimated minutes of T4 time to train ``arch`` under ``profile`` (not measured).

    >>> from fer_course.profiles import get_profile
    >>> round(estimate_minutes("resnet18", get_profile("colab")), 1)
    1.9
    """
    return run_flops(arch, profile) / flops_per_second / 60


def estimate_note(flops_per_second: float = T4_EFFECTIVE_FLOPS) -> str:
    """The sentence that goes with every estimate.

    >>> estimate_note(12e12)[-62:]
    'assumed T4 throughput of 12 TFLOP/s; not yet measured on a GPU'
    """
    return (f"estimated from the architectures' multiply-adds and an assumed T4 throughput "
            f"of {flops_per_second / 1e12:g} TFLOP/s; not yet measured on a GPU")


def estimate_table(profile: Profile, archs: tuple[str, ...] = PAPER_BACKBONES,
                   flops_per_second: float = T4_EFFECTIVE_FLOPS) -> pd.DataFrame:
    """One row per backbone (the paper's 17 by default) and a last ``total`` row:
    ``arch``, ``name`` (as the paper prints it), ``gmacs`` (multiply-adds per image at
    the profile's size, in billions), ``minutes`` (estimated T4 time of the run) and
    ``measured`` (always ``False``). ``table.attrs`` holds the ``profile``, the
    ``flops_per_second`` assumed, ``measured`` and the ``note``.

    >>> from fer_course.profiles import get_profile
    >>> table = estimate_table(get_profile("colab"), archs=("resnet18", "resnet34"))
    >>> table.arch.tolist(), bool(table.measured.any())
    (['resnet18', 'resnet34', 'total'], False)
    >>> bool(table.minutes.iloc[-1] == table.minutes.iloc[:-1].sum())
    True
    """
    rows = [{"arch": arch, "name": DISPLAY_NAMES[arch],
             "gmacs": multiply_adds(arch, profile.image_size) / 1e9,
             "minutes": estimate_minutes(arch, profile, flops_per_second),
             "measured": False} for arch in archs]
    table = pd.DataFrame(rows, columns=["arch", "name", "gmacs", "minutes", "measured"])
    total = {"arch": "total", "name": f"all {len(rows)}", "gmacs": table.gmacs.sum(),
             "minutes": table.minutes.sum(), "measured": False}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    table.attrs.update(profile=profile.name, flops_per_second=flops_per_second,
                       measured=False, note=estimate_note(flops_per_second))
    return table


def _duration(minutes: float) -> str:
    if minutes >= 90:
        return f"{minutes / 60:.1f} hours"
    return f"{minutes:.0f} minutes" if minutes >= 1.5 else f"{minutes * 60:.0f} seconds"


def estimate_text(arch: str, profile: Profile) -> str:
    """``arch``'s estimated T4 time under ``profile`` as a phrase, marked as an estimate.

    >>> from fer_course.profiles import get_profile
    >>> estimate_text("resnet18", get_profile("paper"))[:40]
    'about 21 minutes on a T4 GPU (estimated '
    """
    return (f"about {_duration(estimate_minutes(arch, profile))} on a T4 GPU "
            f"({estimate_note()})")


def estimate_summary(profile: Profile, archs: tuple[str, ...] = PAPER_BACKBONES) -> str:
    """One sentence for a chapter: the estimated T4 time of all ``archs`` under ``profile``,
    the quickest and the slowest, marked as an estimate.

    >>> from fer_course.profiles import get_profile
    >>> estimate_summary(get_profile("colab"))[:52]
    "Training all 17 backbones under 'colab' (112 px, 10 "
    """
    table = estimate_table(profile, archs).iloc[:-1]
    quick, slow = table.loc[table.minutes.idxmin()], table.loc[table.minutes.idxmax()]
    return (f"Training all {len(table)} backbones under {profile.name!r} "
            f"({profile.image_size} px, {profile.epochs} epochs) takes about "
            f"{_duration(table.minutes.sum())} on one T4 GPU, from "
            f"{_duration(quick.minutes)} ({quick.arch}) to {_duration(slow.minutes)} "
            f"({slow.arch}) a run; {estimate_note()}.")
