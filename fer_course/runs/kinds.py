"""The table of model kinds: what each kind of run is, said once.

=================  ================  ==============  ==================  ===============
kind               recipe            network         a face batch        trained by
=================  ================  ==============  ==================  ===============
``backbone``       BackboneRecipe    torchvision     3 normalised        BackboneTask
                                     CNN, new head   channels, resized   (engine)
``reconstruct``    AutoencoderRecipe the paper's     3 normalised        AutoencoderTask
``classify_frozen``                  autoencoder     channels, 48 px     (engine)
``multitask``
``best``           BestRecipe        SmallFaceNet    gray on [0, 1],     BestTask
                                     (mirror-        48 px               (engine)
                                     averaged: tta)
=================  ================  ==============  ==================  ===============

Each row (``ModelKind``) says how a recipe is made from a profile, how the network is
built (for training, and from a stored run's settings with its weights), how a batch of
uint8 faces is fed to it, whether it classifies, under which profile its runs are stored,
and which engine function trains it (named, and imported only when a run trains: the
engine sits above this layer). The registry, named runs, inference, face detection,
Grad-CAM, the ensemble chapter and the batches read this table and nothing else.

Adding a torchvision backbone touches ``models/backbones.py`` only; adding a new kind of
model adds a row here, its network (``models/``), its task (``engine/``) and the chapter
that uses it.

>>> MODEL_KINDS["best"].recipe_type.__name__, MODEL_KINDS["reconstruct"].classifies
('BestRecipe', False)
>>> kind_of_settings({"recipe": "AutoencoderRecipe", "task": "multitask"}).name
'multitask'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fer_course.augment import AugmentConfig, eval_transform, face_eval_input
from fer_course.models import build_backbone
from fer_course.models.autoencoder import IMAGE_SIZE as AUTOENCODER_SIZE
from fer_course.models.autoencoder import MultitaskAutoencoder, build_autoencoder
from fer_course.models.small_cnn import FlipAveraged, SmallFaceNet
from fer_course.profiles import Profile
from fer_course.runs.recipes import (
    AutoencoderRecipe,
    BackboneRecipe,
    BestRecipe,
    autoencoder_recipe,
    backbone_recipe,
    best_recipe,
)

__all__ = ["MODEL_KINDS", "ModelKind", "head_classes", "kind_of_module", "kind_of_settings"]

Settings = Mapping[str, Any]


def head_classes(state: Mapping[str, torch.Tensor]) -> int:
    """The number of classes of a state dict: the rows of its last linear layer."""
    return [v for k, v in state.items() if k.endswith(".weight") and v.ndim == 2][-1].shape[0]


@dataclass(frozen=True, repr=False)
class ModelKind:
    """One kind of run (a row of the table in the module's documentation)."""

    name: str
    recipe_type: type
    make_recipe: Callable[..., Any]  # (profile, options) -> recipe
    build: Callable[[Settings, int], nn.Module]  # (settings, classes) -> random network
    scored: Callable[[nn.Module, Settings], nn.Module]  # the network as it is scored
    prepare: Callable[[torch.Tensor, int], torch.Tensor]  # uint8 faces, size -> input
    input_size: Callable[[Settings], int]
    network_name: Callable[[Settings], str]
    trainer: str  # "module:function" of the engine that trains (or loads) a run
    classifies: bool = True
    default_size: int = 224  # a bare network's input size, where no settings tell it
    own_profile: str | None = None  # its runs are stored under this profile (not smoke)
    module_types: tuple[type, ...] = ()  # the networks that are of this kind

    def __repr__(self) -> str:
        return f"ModelKind({self.name!r})"

    def recipe(self, profile: Profile, options: Mapping[str, Any]) -> Any:
        """The recipe of a run of this kind under ``profile`` with ``options``."""
        return self.make_recipe(profile, dict(options))

    def load(self, settings: Settings, state: Mapping[str, torch.Tensor]) -> nn.Module:
        """The network of a stored run (``settings`` from its metrics) with its weights
        ``state``, as it is scored (mirror-averaged where the run was)."""
        network = self.build(settings, head_classes(state))
        network.load_state_dict(state)
        return self.scored(network, settings)

    def fit_function(self) -> Callable[..., Any]:
        """The engine's function that loads, resumes or trains a run of this kind."""
        module, _, function = self.trainer.partition(":")
        return getattr(importlib.import_module(module), function)


def _backbone_input(faces: torch.Tensor, size: int) -> torch.Tensor:
    return eval_transform(faces, AugmentConfig(image_size=size))


def _autoencoder_input(faces: torch.Tensor, size: int) -> torch.Tensor:
    return eval_transform(faces, AugmentConfig(image_size=AUTOENCODER_SIZE))


def _best_network(settings: Settings, classes: int) -> nn.Module:
    return SmallFaceNet(classes, widths=tuple(settings["widths"]), dropout=settings["dropout"])


def _mirror_averaged(network: nn.Module, settings: Settings) -> nn.Module:
    return FlipAveraged(network) if settings.get("tta") else network


def _as_is(network: nn.Module, settings: Settings) -> nn.Module:
    return network


def _autoencoder_kind(task: str) -> ModelKind:
    return ModelKind(
        name=task, recipe_type=AutoencoderRecipe,
        make_recipe=lambda profile, options: autoencoder_recipe(profile, task, **options),
        build=lambda settings, classes: build_autoencoder(settings["latent_dim"]),
        scored=_as_is, prepare=_autoencoder_input,
        input_size=lambda settings: AUTOENCODER_SIZE,
        network_name=lambda settings: f"autoencoder ({settings.get('latent_dim')})",
        trainer="fer_course.engine.autoencoder_task:fit_autoencoder",
        classifies=task != "reconstruct", default_size=AUTOENCODER_SIZE,
        module_types=(MultitaskAutoencoder,) if task == "multitask" else ())


MODEL_KINDS: dict[str, ModelKind] = {kind.name: kind for kind in (
    ModelKind(
        name="backbone", recipe_type=BackboneRecipe,
        make_recipe=lambda profile, options: backbone_recipe(options.pop("arch"), profile,
                                                             **options),
        build=lambda settings, classes: build_backbone(settings["arch"], num_classes=classes),
        scored=_as_is, prepare=_backbone_input,
        input_size=lambda settings: int(settings["image_size"]),
        network_name=lambda settings: settings["arch"],
        trainer="fer_course.engine.backbone_task:fit_recipe",
        default_size=AugmentConfig().image_size),
    _autoencoder_kind("reconstruct"),
    _autoencoder_kind("classify_frozen"),
    _autoencoder_kind("multitask"),
    ModelKind(
        name="best", recipe_type=BestRecipe,
        make_recipe=lambda profile, options: best_recipe(profile, **options),
        build=_best_network, scored=_mirror_averaged, prepare=face_eval_input,
        input_size=lambda settings: int(settings["image_size"]),
        network_name=lambda settings: "SmallFaceNet",
        trainer="fer_course.engine.best_task:fit_best", own_profile="best", default_size=48,
        module_types=(SmallFaceNet, FlipAveraged)),
)}
"""Every kind of run, by name: the registry's ``kind``."""


def kind_of_settings(settings: Settings) -> ModelKind:
    """The kind of a stored run, from the settings its metrics record.

    >>> kind_of_settings({"recipe": "BackboneRecipe", "arch": "vgg11"}).name
    'backbone'
    """
    recipe = settings.get("recipe")
    if recipe == "AutoencoderRecipe":
        return MODEL_KINDS[settings["task"]]
    for kind in MODEL_KINDS.values():
        if kind.recipe_type.__name__ == recipe:
            return kind
    if "arch" in settings:  # a backbone run recorded before recipes were named
        return MODEL_KINDS["backbone"]
    raise ValueError(f"settings of recipe {recipe!r} name no kind of "
                     f"{', '.join(MODEL_KINDS)}")


def kind_of_module(network: nn.Module) -> ModelKind:
    """The kind a bare network belongs to; any other module is taken for a backbone.

    >>> kind_of_module(SmallFaceNet(7, widths=(4, 4, 4, 4))).name
    'best'
    """
    for kind in MODEL_KINDS.values():
        if kind.module_types and isinstance(network, kind.module_types):
            return kind
    return MODEL_KINDS["backbone"]
