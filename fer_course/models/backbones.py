"""The seed paper's 17 torchvision CNNs, each with a fresh head for the FER-2013 classes.

``build_backbone(name, num_classes, weights)`` builds an architecture of the paper's
Table 5 with torchvision and replaces its last layer by ``nn.Linear(in_features,
num_classes)``. ``weights`` chooses the starting point:

- ``"imagenet"``: torchvision's ``DEFAULT`` ImageNet-1k weights for that architecture
  (``IMAGENET1K_V2`` where torchvision publishes one, as for resnet50, else ``V1``).
  A weights-enum member name such as ``"IMAGENET1K_V1"`` picks one set explicitly.
  They are downloaded once into the torch hub cache; offline, a ``WeightsUnavailableError``
  says how to get them.
- a local file: a state dict of the same architecture, with the ImageNet 1000-class head
  or a head of any other size (one of ``num_classes`` outputs is kept, others are
  replaced), or a checkpoint dict holding it under ``"model"`` or ``"state_dict"``.
- ``None``: random initialisation.

VGG: the paper names VGG11/13/16/19 and says it used the official PyTorch
implementations; torchvision's ``vgg11`` ... ``vgg19`` are the plain networks without
batch normalisation, so ``PAPER_BACKBONES`` holds those, for faithfulness to the paper.
``vgg11_bn`` ... ``vgg19_bn`` are valid extra names in ``BACKBONES``: they train more
stably at the paper's learning rate of 1e-2 and are offered for the ``best`` recipe.

Models take ``[B, 3, S, S]`` images (the augmentation repeats gray to three channels);
``min_input_size(name)`` is the smallest ``S`` an architecture accepts.

>>> model = build_backbone("resnet18", num_classes=7)
>>> classifier_head(model)
Linear(in_features=512, out_features=7, bias=True)
>>> model.eval()(torch.zeros(2, 3, 32, 32)).shape
torch.Size([2, 7])
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum, get_model, get_model_weights

PAPER_DISPLAY_NAMES: dict[str, str] = {
    "resnet18": "ResNet18",
    "resnet34": "ResNet34",
    "resnet50": "ResNet50",
    "resnet101": "ResNet101",
    "resnet152": "ResNet152",
    "resnext50_32x4d": "ResNeXt50",
    "resnext101_32x8d": "ResNeXt101",
    "wide_resnet50_2": "Wide ResNet50",
    "wide_resnet101_2": "Wide ResNet101",
    "densenet121": "DenseNet121",
    "densenet161": "DenseNet161",
    "densenet169": "DenseNet169",
    "densenet201": "DenseNet201",
    "vgg11": "VGG11",
    "vgg13": "VGG13",
    "vgg16": "VGG16",
    "vgg19": "VGG19",
}
"""torchvision name -> the name the paper prints, in the order of its Table 5."""

PAPER_BACKBONES: tuple[str, ...] = tuple(PAPER_DISPLAY_NAMES)
"""The paper's 17 architectures, in the order of its Table 5."""

DISPLAY_NAMES: dict[str, str] = {
    **PAPER_DISPLAY_NAMES,
    **{f"vgg{depth}_bn": f"VGG{depth}-BN" for depth in (11, 13, 16, 19)},
}
"""Display name of every valid backbone: the paper's 17 and the batch-normalised VGGs."""

BACKBONES: tuple[str, ...] = tuple(DISPLAY_NAMES)
"""Every name ``build_backbone`` accepts."""

BACKBONE_FAMILIES: dict[str, str] = {
    name: next(family for family in ("wide_resnet", "resnext", "resnet", "densenet", "vgg")
               if name.startswith(family))
    for name in BACKBONES
}
"""Backbone name -> family: resnet, resnext, wide_resnet, densenet or vgg."""

# Measured: DenseNet's three 2x2 average-pooling transitions need a 2x2 map before each,
# VGG's five 2x2 max pools need 32 pixels; ResNets end in adaptive pooling after
# padded strided layers and accept any size.
_MIN_INPUT_SIZE: dict[str, int] = {
    "resnet": 1, "resnext": 1, "wide_resnet": 1, "densenet": 29, "vgg": 32,
}

# Old torchvision DenseNet checkpoints (the files on download.pytorch.org among them)
# name layers "norm.1"; today's modules call them "norm1".
_OLD_DENSENET_KEY = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))\.([12])\.")
# Prefixes added by DataParallel / DistributedDataParallel and by torch.compile.
_WRAPPER_PREFIX = re.compile(r"^(?:module\.|_orig_mod\.)+")


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights could not be downloaded; the message says how to proceed.

    >>> issubclass(WeightsUnavailableError, RuntimeError)
    True
    """


def check_backbone_name(name: str) -> str:
    """``name`` itself if ``build_backbone`` knows it, else a ``ValueError`` listing all names.

    >>> check_backbone_name("vgg11_bn")
    'vgg11_bn'
    """
    if name not in DISPLAY_NAMES:
        raise ValueError(f"unknown backbone {name!r}; valid names: {', '.join(BACKBONES)}")
    return name


def min_input_size(name: str) -> int:
    """Smallest side ``S`` of a ``[B, 3, S, S]`` input the backbone accepts.

    >>> min_input_size("resnet18"), min_input_size("densenet121"), min_input_size("vgg16")
    (1, 29, 32)
    """
    return _MIN_INPUT_SIZE[BACKBONE_FAMILIES[check_backbone_name(name)]]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (only those with ``requires_grad`` if ``trainable_only``).

    >>> count_parameters(nn.Linear(512, 7))
    3591
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _head_slot(model: nn.Module) -> tuple[nn.Module, str]:
    """The module that holds the classification head, and the head's attribute name in it."""
    if isinstance(model, torchvision.models.ResNet):
        return model, "fc"
    if isinstance(model, torchvision.models.DenseNet):
        return model, "classifier"
    if isinstance(model, torchvision.models.VGG):
        # Only the last Linear of VGG's classifier is replaced; its dropout and
        # 4096-wide layers (and their ImageNet weights) stay.
        return model.classifier, str(len(model.classifier) - 1)
    raise TypeError(f"no known classification head in a {type(model).__name__}")


def classifier_head(model: nn.Module) -> nn.Linear:
    """The last layer of a model from ``build_backbone``, e.g. to give it its own learning rate.

    >>> classifier_head(build_backbone("densenet121", num_classes=3)).out_features
    3
    """
    owner, attribute = _head_slot(model)
    return getattr(owner, attribute)


def _head_key(model: nn.Module) -> str:
    """State-dict prefix of the head: ``fc``, ``classifier`` or ``classifier.6``."""
    head = classifier_head(model)
    return next(key for key, module in model.named_modules() if module is head)


def replace_head(model: nn.Module, num_classes: int) -> nn.Linear:
    """Put a freshly initialised ``nn.Linear(in_features, num_classes)`` in place of the head.

    >>> replace_head(torchvision.models.resnet18(), 5)
    Linear(in_features=512, out_features=5, bias=True)
    """
    owner, attribute = _head_slot(model)
    new_head = nn.Linear(getattr(owner, attribute).in_features, num_classes)
    setattr(owner, attribute, new_head)
    return new_head


def _torchvision_weights(name: str, weights: str | os.PathLike) -> WeightsEnum | None:
    """The torchvision weights ``weights`` names ("imagenet", "IMAGENET1K_V1"), else None."""
    if not isinstance(weights, str):
        return None
    members = get_model_weights(name).__members__
    key = "DEFAULT" if weights.lower() == "imagenet" else weights
    return members.get(key)


def _offline_advice(name: str, exc: BaseException) -> str:
    """What to do when the ImageNet weights of ``name`` could not be fetched."""
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    advice = (
        f"could not get the ImageNet weights of {name} "
        f"({type(exc).__name__}: {exc}). Either\n"
        "  - run where the internet is reachable (Colab, for instance), or\n"
        f"  - pass a local weights file: weights=\"path/to/{name}.pth\", saved on a machine "
        f"with internet by torch.save(torchvision.models.{name}(weights=\"DEFAULT\")"
        f".state_dict(), \"{name}.pth\") (or copy torchvision's download into {cache}), or\n"
        "  - pass weights=None to train from scratch."
    )
    if not isinstance(exc, OSError):  # e.g. a hash mismatch: a damaged file in the cache
        advice += f"\nIf {cache} holds a damaged download of it, delete that file and retry."
    return advice


def _pretrained(name: str, weights: WeightsEnum) -> nn.Module:
    try:
        return get_model(name, weights=weights)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; a bad hash a RuntimeError
        raise WeightsUnavailableError(_offline_advice(name, exc)) from exc


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a saved state dict or of a checkpoint's ``"model"``/``"state_dict"`` entry.

    Wrapper prefixes (``module.``, ``_orig_mod.``) and old DenseNet layer names are undone.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     torch.save({"model": nn.Linear(2, 1).state_dict()}, f"{folder}/ckpt.pt")
    ...     sorted(read_state_dict(f"{folder}/ckpt.pt"))
    ['bias', 'weight']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file {path} not found; pass 'imagenet', None or the path of a saved "
            "state dict"
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and format errors all mean the same here
        raise ValueError(
            f"{path}: not a weights file torch.load(weights_only=True) can read "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if isinstance(loaded, Mapping):
        for key in ("model", "state_dict"):
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if not isinstance(loaded, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in loaded.values()
    ):
        raise ValueError(
            f"{path}: holds a {type(loaded).__name__}, not a state dict of tensors "
            "(nor a checkpoint dict with one under 'model' or 'state_dict')"
        )
    return {
        _OLD_DENSENET_KEY.sub(r"\1\2.", _WRAPPER_PREFIX.sub("", key)): value
        for key, value in loaded.items()
    }


def _mismatches(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor]) -> str:
    """Short description of how two state dicts differ ("" when keys and shapes agree)."""
    def some(keys: list[str]) -> str:
        return ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")

    missing = [key for key in expected if key not in found]
    unexpected = [key for key in found if key not in expected]
    reshaped = [
        f"{key} (file {list(found[key].shape)}, model {list(value.shape)})"
        for key, value in expected.items()
        if key in found and found[key].shape != value.shape
    ]
    parts = [
        f"{len(keys)} {what}: {some(keys)}"
        for what, keys in (("missing", missing), ("unexpected", unexpected),
                           ("with another shape", reshaped))
        if keys
    ]
    return "; ".join(parts)


def _load_weights_file(model: nn.Module, name: str, path: str | os.PathLike) -> None:
    state = read_state_dict(path)
    file_head = state.get(f"{_head_key(model)}.weight")
    # Size the head like the file's so that a fine-tuned head loads as is.
    if file_head is not None and file_head.ndim == 2 and (
        file_head.shape[0] != classifier_head(model).out_features
    ):
        replace_head(model, file_head.shape[0])
    problems = _mismatches(model.state_dict(), state)
    if problems:
        raise ValueError(
            f"{path}: not a state dict of {name} ({problems}). Save one with "
            f"torch.save(torchvision.models.{name}(weights=\"DEFAULT\").state_dict(), path)"
        )
    model.load_state_dict(state)


def build_backbone(
    name: str,
    num_classes: int = 7,
    weights: str | os.PathLike | None = None,
) -> nn.Module:
    """A torchvision ``name`` with ``weights`` loaded and a ``num_classes``-way head.

    ``weights``: ``"imagenet"``, a torchvision weights name, a local file or ``None``
    (see the module docstring). The ImageNet head is replaced by a fresh
    ``nn.Linear``; a head of ``num_classes`` outputs loaded from a file is kept.

    >>> build_backbone("vgg11", num_classes=3).classifier[-1]
    Linear(in_features=4096, out_features=3, bias=True)
    """
    check_backbone_name(name)
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if weights is None:
        model = get_model(name, weights=None)
    elif (torchvision_weights := _torchvision_weights(name, weights)) is not None:
        model = _pretrained(name, torchvision_weights)
    else:
        model = get_model(name, weights=None)
        _load_weights_file(model, name, weights)
    if classifier_head(model).out_features != num_classes:
        replace_head(model, num_classes)
    return model
