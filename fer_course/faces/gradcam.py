"""Grad-CAM: where in the face a network looked for a class (Selvaraju et al., 2017).

For a chosen layer with activations ``A`` ``[C, h, w]`` and the score ``y`` of a class
(the logit, before the softmax), each channel is weighted by the spatial mean of its
gradient, ``alpha_c = mean_ij dy/dA_cij``; the map is ``ReLU(sum_c alpha_c A_c)``,
upsampled bilinearly to the input's size and stretched to [0, 1] per image.

The layer is the last convolutional stage by default (``cam_layer``): ``layer4`` of the
ResNets, ResNeXts and Wide ResNets, ``features`` of the DenseNets (its output, before the
final ReLU), the last ``Conv2d`` of the VGGs' ``features``, and the encoder's last stage
(``encoder.stages[-1]``, 6 x 6 before the last pool) of the autoencoder. The map has the
layer's resolution: at 224 px input ResNets and DenseNets give 7 x 7, VGGs 14 x 14, the
autoencoder 6 x 6. At small inputs the map can shrink to 1 x 1, which carries no "where"
(a warning says so and the maps are zeros).

>>> from fer_course.models import build_backbone
>>> _ = torch.manual_seed(0)
>>> faces = torch.randint(0, 256, (2, 48, 48), dtype=torch.uint8)
>>> grad_cam(build_backbone("resnet18"), faces, image_size=64).shape
(2, 64, 64)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fer_course.models.autoencoder import MultitaskAutoencoder
from fer_course.models.small_cnn import FlipAveraged
from fer_course.pixels import PIXEL_RULE, as_uint8, as_uint8_faces
from fer_course.runs.kinds import kind_of_module

__all__ = ["cam_from_gradients", "cam_grid", "cam_layer", "grad_cam", "overlay_cam",
           "show_cam", "show_cams"]

CAM_COLOURS = "jet"
"""The colour map of every Grad-CAM overlay and of its colour bar."""


def cam_layer(model: nn.Module) -> nn.Module:
    """The layer whose activations Grad-CAM uses by default (module docstring).

    >>> from fer_course.models import build_backbone
    >>> model = build_backbone("resnet18")
    >>> cam_layer(model) is model.layer4
    True
    """
    if isinstance(model, MultitaskAutoencoder):
        return model.encoder.stages[-1]
    layer4 = getattr(model, "layer4", None)
    if isinstance(layer4, nn.Module):  # ResNet, ResNeXt, Wide ResNet
        return layer4
    features = getattr(model, "features", None)
    if isinstance(features, nn.Module):
        convs = [m for m in features.modules() if isinstance(m, nn.Conv2d)]
        if type(model).__name__ == "DenseNet" or not convs:
            return features
        return convs[-1]  # VGG: the last convolution
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer: pass layer=")
    return convs[-1]


def _scores(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Class scores before any softmax or sigmoid, ``[B, classes]``."""
    if isinstance(model, MultitaskAutoencoder):
        latent, _ = model.encode(x)  # the decoder plays no part in the class scores
        head = model.classifier
        if model.paper_sigmoid:
            head = head[:-1]  # the logit before Table 4's sigmoid
        return head(latent)
    scores = model(x)
    return scores[0] if isinstance(scores, (tuple, list)) else scores


def _prepare(model: nn.Module, images: Any, image_size: int | None) -> torch.Tensor:
    """The network's input from normalised floats ``[N, 3, S, S]`` or gray faces, prepared
    as the table of model kinds says (``[N, 1, S, S]`` on ``[0, 1]`` for the best recipe's
    network, three normalised channels for the others)."""
    images = torch.as_tensor(images)
    if images.is_floating_point() and images.ndim in (2, 3):  # gray faces, floats in [0, 1]
        faces = images[None] if images.ndim == 2 else images
        images = torch.from_numpy(as_uint8_faces(faces.detach().cpu()))
    if images.dtype == torch.uint8:
        if images.ndim == 2:
            images = images.unsqueeze(0)
        kind = kind_of_module(model)  # how this network takes a face (runs/kinds.py)
        if image_size is None:
            if kind.name == "backbone":
                raise ValueError("uint8 faces need image_size= (the size the backbone was "
                                 "trained at, e.g. 224)")
            image_size = kind.default_size
        return kind.prepare(images, image_size)
    if not images.is_floating_point():
        raise ValueError(f"expected normalised float [N, 3, S, S], or gray faces [N, 48, 48] "
                         f"({PIXEL_RULE}); got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected normalised float images [N, 3, S, S], "
                         f"got shape {list(images.shape)}")
    if image_size is not None and tuple(images.shape[-2:]) != (image_size, image_size):
        raise ValueError(f"the images are {list(images.shape[-2:])} px, not image_size="
                         f"{image_size}")
    return images.float()


def _targets(target: int | Sequence[int] | None, n: int) -> torch.Tensor | None:
    """``None`` (each image's predicted class) or one class index per image, ``[n]``."""
    if target is None:
        return None
    classes = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if classes.numel() == 1:
        return classes.expand(n)
    if classes.numel() != n:
        raise ValueError(f"target gives {classes.numel()} classes for {n} images")
    return classes


def cam_grid(model: nn.Module, image_size: int | None = None,
             layer: nn.Module | None = None) -> tuple[int, int, int]:
    """``(maps, h, w)`` of the Grad-CAM layer for one face at ``image_size``: how many maps
    it weighs and the grid its map has before the upsampling, which adds no detail.

    >>> from fer_course.models import build_backbone
    >>> cam_grid(build_backbone("resnet18"), 64)
    (512, 2, 2)
    """
    if isinstance(model, FlipAveraged):
        model = model.model
    layer = cam_layer(model) if layer is None else layer
    x = _prepare(model, torch.zeros(1, 48, 48, dtype=torch.uint8), image_size)
    parameter = next(model.parameters(), None)
    if parameter is not None:
        x = x.to(parameter.device)
    shapes: list[tuple[int, ...]] = []
    handle = layer.register_forward_hook(lambda m, i, out: shapes.append(tuple(out.shape)))
    modes = {module: module.training for module in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            _scores(model, x)
    finally:
        handle.remove()
        for module, training in modes.items():
            module.training = training
    if not shapes or len(shapes[-1]) != 4:
        raise ValueError("the Grad-CAM layer gave no [1, C, h, w] output")
    _, maps, h, w = shapes[-1]
    return int(maps), int(h), int(w)


def _normalise_maps(cams: torch.Tensor) -> torch.Tensor:
    """Stretch each map ``[N, H, W]`` to [0, 1]; a constant map becomes zeros."""
    low = cams.amin(dim=(1, 2), keepdim=True)
    high = cams.amax(dim=(1, 2), keepdim=True)
    span = high - low
    flat = span <= 1e-6 * high.abs().clamp_min(1e-30)
    return torch.where(flat, torch.zeros_like(cams), (cams - low) / span.clamp_min(1e-30))


def cam_from_gradients(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Grad-CAM's formula: ``ReLU(sum_k alpha_k A_k)`` with ``alpha_k`` the mean over the
    ``h x w`` positions of channel ``k``'s gradient. ``[B, K, h, w]`` in, ``[B, h, w]`` out.

    >>> A = torch.tensor([[[[1.0, 0.0]], [[0.0, 2.0]]]])     # B=1, K=2, h=1, w=2
    >>> g = torch.tensor([[[[1.0, 1.0]], [[-1.0, 0.0]]]])    # alpha = (1, -0.5)
    >>> cam_from_gradients(A, g)
    tensor([[[1., 0.]]])
    """
    alpha = gradients.mean(dim=(2, 3), keepdim=True)  # [B, K, 1, 1]: one weight per channel
    return F.relu((alpha * activations).sum(dim=1))


def grad_cam(model: nn.Module, images: Any, target: int | Sequence[int] | None = None,
             layer: nn.Module | str | None = None, *, image_size: int | None = None,
             batch_size: int = 32) -> np.ndarray:
    """Grad-CAM maps, float32 ``[N, S, S]`` in [0, 1], one per image, at the input's size.

    ``images``: float ``[N, 3, S, S]`` already normalised as the model was trained
    (``fer_course.augment.eval_transform``), or gray faces ``[N, 48, 48]`` (uint8, or floats
    in [0, 1]: ``fer_course.pixels``) that are normalised here at ``image_size`` (required
    for backbones; 48 for the autoencoder).
    ``target``: ``None`` explains each image's predicted class; an int, the same class for
    all; a sequence, one class per image. ``layer``: a module of ``model`` or its name
    (``"layer3"``, ``"features.denseblock3"``); default ``cam_layer(model)``.

    The model runs in eval mode (batch norm with its running statistics, no dropout), and
    every submodule gets its train/eval mode back afterwards. A forward hook keeps the
    layer's output (and hands a copy on, so that an in-place ReLU after the layer cannot
    change it); ``torch.autograd.grad`` takes the class score's gradient with respect to
    it, which leaves the parameters' ``.grad`` untouched. The hook is removed at the end,
    also after an error.
    """
    if isinstance(model, FlipAveraged):  # the map of the network itself, not of the mean
        model = model.model
    if isinstance(layer, str):
        layer = model.get_submodule(layer)
    elif layer is None:
        layer = cam_layer(model)
    x_all = _prepare(model, images, image_size)
    targets = _targets(target, x_all.shape[0])
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")

    saved: list[torch.Tensor] = []

    def keep_output(module: nn.Module, inputs: Any, output: Any) -> torch.Tensor:
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"Grad-CAM needs a layer that returns one tensor; "
                            f"{type(module).__name__} returns {type(output).__name__}")
        saved.append(output)
        return output.clone()

    modes = {module: module.training for module in model.modules()}
    handle = layer.register_forward_hook(keep_output)
    maps = []
    try:
        model.eval()
        with torch.enable_grad():
            for start in range(0, x_all.shape[0], batch_size):
                # The input requires grad so that the graph reaches the layer even when the
                # layers before it are frozen (requires_grad=False).
                x = x_all[start:start + batch_size].to(device).requires_grad_(True)
                saved.clear()
                scores = _scores(model, x)
                if not saved:
                    raise ValueError("the Grad-CAM layer did not run in the forward pass")
                activations = saved[-1]
                if activations.ndim != 4:
                    raise ValueError(f"the Grad-CAM layer gives shape "
                                     f"{list(activations.shape)}, not [B, C, h, w]")
                if start == 0 and activations.shape[-2:] == (1, 1):
                    warnings.warn(f"the Grad-CAM layer's map is 1 x 1 at {x.shape[-1]} px input: "
                                  "it shows no 'where' (all maps are zeros); use a larger "
                                  "image_size or an earlier layer", stacklevel=2)
                if targets is None:
                    chosen = scores.detach().argmax(dim=1)
                else:
                    chosen = targets[start:start + x.shape[0]].to(scores.device)
                    if chosen.min() < 0 or chosen.max() >= scores.shape[1]:
                        raise ValueError(f"target classes must be in 0..{scores.shape[1] - 1}")
                picked = scores.gather(1, chosen[:, None]).sum()  # images are independent
                (gradients,) = torch.autograd.grad(picked, activations)
                cams = cam_from_gradients(activations.detach(), gradients)
                cams = F.interpolate(cams[:, None].float(), size=tuple(x.shape[-2:]),
                                     mode="bilinear", align_corners=False)
                maps.append(_normalise_maps(cams[:, 0]).cpu())
                saved.clear()
    finally:
        handle.remove()
        for module, training in modes.items():
            module.training = training
    return torch.cat(maps).numpy().astype(np.float32)


def overlay_cam(face: Any, cam: np.ndarray, alpha: float = 0.45,
                cmap: str = CAM_COLOURS) -> np.ndarray:
    """The face in gray with the map in colour over it: RGB float ``[H, W, 3]`` in [0, 1].

    ``face``: gray ``[h, w]`` or RGB ``[h, w, 3]``, uint8 or floats in [0, 1];
    it is resized (bilinear) to the map's size ``[H, W]``. ``alpha`` is the map's weight.

    >>> overlay_cam(np.zeros((48, 48), dtype=np.uint8), np.ones((64, 64))).shape
    (64, 64, 3)
    """
    import matplotlib
    from PIL import Image

    cam = np.asarray(cam, dtype=np.float64)
    if cam.ndim != 2:
        raise ValueError(f"cam must be one map [H, W], got shape {list(cam.shape)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    face = np.asarray(face.detach().cpu() if isinstance(face, torch.Tensor) else face)
    if face.ndim == 3 and face.shape[2] == 1:
        face = face[:, :, 0]
    if face.ndim not in (2, 3) or (face.ndim == 3 and face.shape[2] != 3):
        raise ValueError(f"face must be gray [h, w] or RGB [h, w, 3], got {list(face.shape)}")
    face = as_uint8(face, "face")
    height, width = cam.shape
    resized = Image.fromarray(face).convert("RGB").resize((width, height),
                                                           Image.Resampling.BILINEAR)
    base = np.asarray(resized, dtype=np.float64) / 255.0
    heat = matplotlib.colormaps[cmap](np.clip(cam, 0.0, 1.0))[..., :3]
    return np.clip((1 - alpha) * base + alpha * heat, 0.0, 1.0)


def _colour_bar(fig: Any, axes: Any, fontsize: float) -> None:
    """A colour bar for the overlays: 0 no evidence, 1 the map's strongest place."""
    import matplotlib
    from matplotlib.cm import ScalarMappable

    bar = fig.colorbar(ScalarMappable(matplotlib.colors.Normalize(0, 1), CAM_COLOURS),
                       ax=axes, shrink=0.9, aspect=25, pad=0.02)
    bar.set_label("Grad-CAM (1: the map's peak)", fontsize=fontsize)
    bar.ax.tick_params(labelsize=fontsize)


def show_cams(faces: Any, cams: np.ndarray, titles: Sequence[str] = (), columns: int = 7,
              width: float = 7.0, with_faces: bool = True, colorbar: bool = False,
              fontsize: float = 7):
    """A grid of faces (one row) above their Grad-CAM overlays (the row below), ``columns``
    faces per row pair; ``titles`` one per face. At most ``width`` inches wide.
    ``colorbar`` adds the overlays' colour scale on the right; ``fontsize`` is the titles'.

    >>> fig = show_cams(np.zeros((3, 48, 48), np.uint8), np.zeros((3, 48, 48)), ["a", "b", "c"])
    >>> len(fig.axes), float(fig.get_size_inches()[0]) <= 7
    (6, True)
    """
    import matplotlib.pyplot as plt

    faces = np.asarray(faces.detach().cpu() if isinstance(faces, torch.Tensor) else faces)
    cams = np.asarray(cams)
    if len(faces) != len(cams) or (titles and len(titles) != len(faces)):
        raise ValueError(f"{len(faces)} faces, {len(cams)} maps and {len(titles)} titles: "
                         "one of each per face")
    if width > 7.0:
        raise ValueError(f"width is at most 7 inches (the book's column), got {width}")
    cell = width / max(1, columns)  # a face's size does not grow when there are few
    columns = max(1, min(columns, len(faces)))
    pairs = -(-len(faces) // columns)
    per_face = 2 if with_faces else 1
    lines = max((str(t).count("\n") + 1 for t in titles), default=0)
    title_room = lines * fontsize / 72 * 1.25  # inches of title above each row
    fig, axes = plt.subplots(pairs * per_face, columns, squeeze=False, layout="constrained",
                             figsize=(cell * columns, (cell + title_room) * pairs * per_face))
    for ax in axes.flat:
        ax.set_axis_off()
    for i, (face, cam) in enumerate(zip(faces, cams)):
        row, col = divmod(i, columns)
        if with_faces:
            axes[row * 2, col].imshow(face, cmap="gray", vmin=0, vmax=255)
            axes[row * 2, col].set_title(titles[i] if titles else "", fontsize=fontsize)
        overlay_ax = axes[row * per_face + per_face - 1, col]
        overlay_ax.imshow(overlay_cam(face, cam))
        if not with_faces and titles:
            overlay_ax.set_title(titles[i], fontsize=fontsize)
    if colorbar:
        _colour_bar(fig, axes, fontsize)
    return fig


def show_cam(face: Any, cam: np.ndarray, title: str = "", width: float = 7.0):
    """One face large: the crop beside its Grad-CAM overlay, with the colour bar.

    >>> fig = show_cam(np.zeros((48, 48), np.uint8), np.zeros((48, 48)), "face 1")
    >>> len(fig.axes), float(fig.get_size_inches()[0]) <= 7
    (3, True)
    """
    import matplotlib.pyplot as plt

    if width > 7.0:
        raise ValueError(f"width is at most 7 inches (the book's column), got {width}")
    face = np.asarray(face.detach().cpu() if isinstance(face, torch.Tensor) else face)
    fig, axes = plt.subplots(1, 2, layout="constrained", figsize=(width, width * 0.46))
    axes[0].imshow(face, cmap="gray", vmin=0, vmax=255)
    axes[0].set_title("the crop the model sees", fontsize=12)
    axes[1].imshow(overlay_cam(face, cam))
    axes[1].set_title(title or "Grad-CAM over it", fontsize=12)
    for ax in axes:
        ax.set_axis_off()
    _colour_bar(fig, axes, 11)
    return fig
