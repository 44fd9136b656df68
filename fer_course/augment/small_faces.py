"""The ``best`` recipe's augmentation for 48 px faces, batched on the training device.

At 48 px a face has little room: the paper's 45 degree rotations leave black corners over
a large part of it. Here each face gets one affine map drawn from small ranges
(rotation, zoom, shift, mirror), resampled once, then, with probability ``erase_p``, a
random rectangle of its area (2-20 %) replaced by noise, so the network cannot lean on
one region such as the mouth. Output: gray ``[B, 1, S, S]`` on ``[0, 1]`` (the network
normalises).

>>> faces = torch.randint(0, 256, (4, 48, 48), dtype=torch.uint8)
>>> face_train_input(faces, FaceAugment(), torch.Generator().manual_seed(0)).shape
torch.Size([4, 1, 48, 48])
>>> bool(face_eval_input(faces).max() <= 1)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from fer_course.augment.paper_transform import as_gray_batch, sampling_grid


@dataclass(frozen=True)
class FaceAugment:
    """Ranges of the random affine map and of random erasing (all off at zero).

    >>> FaceAugment(max_scale=0.1).max_scale
    0.1
    """

    image_size: int = 48
    max_rotation: float = 15.0  # degrees, drawn from [-max, max]
    max_scale: float = 0.15  # zoom factor drawn from [1 - max, 1 + max]
    max_shift: float = 0.1  # shift, as a fraction of the side, per axis
    flip_p: float = 0.5
    erase_p: float = 0.5  # probability of erasing one rectangle

    def __post_init__(self) -> None:
        for name in ("max_rotation", "max_shift", "flip_p", "erase_p"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.max_scale < 1 or self.flip_p > 1 or self.erase_p > 1:
            raise ValueError(f"need 0 <= max_scale < 1 and probabilities <= 1: {self}")


def face_eval_input(images: torch.Tensor, image_size: int = 48) -> torch.Tensor:
    """uint8 faces ``[B, H, W]`` -> float ``[B, 1, S, S]`` on ``[0, 1]`` (resized if H != S)."""
    gray = as_gray_batch(images).float().div_(255.0)
    if gray.shape[-1] != image_size:
        gray = F.interpolate(gray, size=(image_size, image_size), mode="bilinear",
                             align_corners=False, antialias=True)
    return gray


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None,
             device: torch.device) -> torch.Tensor:
    draw = torch.rand(n, generator=generator,
                      device=generator.device if generator is not None else device)
    return (low + (high - low) * draw).to(device)


DRAWN = ("angle", "zoom", "flip", "shift_x", "shift_y", "erase_area", "erase_aspect",
         "erase_top", "erase_left", "erase_on")
"""The columns of ``draw_augment``'s table: one row of random choices per face."""


def draw_augment(n: int, config: FaceAugment, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """The random choices of ``n`` augmented faces, ``[n, len(DRAWN)]`` (columns
    ``DRAWN``), drawn in the order ``face_train_input`` draws them; erasing's columns are
    zero where ``erase_p`` is 0. A stored table replays the same faces (``apply_augment``):
    that is how a teacher labels the very views a student will see.

    >>> draw_augment(3, FaceAugment(), torch.Generator().manual_seed(0)).shape
    torch.Size([3, 10])
    """
    device = torch.device(device)
    columns = [_uniform(n, -config.max_rotation, config.max_rotation, generator, device),
               _uniform(n, 1 - config.max_scale, 1 + config.max_scale, generator, device),
               1 - 2 * (_uniform(n, 0, 1, generator, device) < config.flip_p).float()]
    columns += [_uniform(n, -config.max_shift, config.max_shift, generator, device) * 2
                for _ in range(2)]  # normalised coordinates span 2
    if config.erase_p > 0:
        columns += [_uniform(n, 0.02, 0.2, generator, device),
                    torch.exp(_uniform(n, math.log(0.3), math.log(1 / 0.3), generator,
                                       device))]
        columns += [_uniform(n, 0, 1, generator, device) for _ in range(2)]
        columns.append((_uniform(n, 0, 1, generator, device) < config.erase_p).float())
    else:
        columns += [torch.zeros(n, device=device)] * 5
    return torch.stack(columns, 1)


def _affine(source: torch.Tensor, drawn: torch.Tensor, image_size: int) -> torch.Tensor:
    n = source.shape[0]
    angle, zoom, flip = drawn[:, 0], drawn[:, 1], drawn[:, 2]
    radians = angle * (math.pi / 180)
    cos, sin = torch.cos(radians) / zoom, torch.sin(radians) / zoom
    matrix = torch.stack([torch.stack([cos * flip, -sin], 1),
                          torch.stack([sin * flip, cos], 1)], 1)
    grid = sampling_grid(matrix, image_size) + drawn[:, 3:5].reshape(n, 1, 1, 2)
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


def affine_views(faces: torch.Tensor, drawn: torch.Tensor) -> torch.Tensor:
    """Float faces ``[B, 1, S, S]`` resampled by the affine choices of ``drawn`` (the first
    five columns of ``draw_augment``'s table: angle, zoom, mirror, shift), same size.

    >>> x = torch.rand(2, 1, 8, 8)
    >>> still = torch.tensor([[0.0, 1.0, 1.0, 0.0, 0.0] + [0.0] * 5] * 2)
    >>> torch.allclose(affine_views(x, still), x, atol=1e-6)
    True
    """
    return _affine(faces, drawn.to(faces.device, faces.dtype), faces.shape[-1])


def _erase(x: torch.Tensor, drawn: torch.Tensor, generator: torch.Generator | None,
           ) -> torch.Tensor:
    size, device = x.shape[-1], x.device
    area, aspect, top, left = (drawn[:, i] for i in range(5, 9))
    h = (torch.sqrt(area * aspect) * size).clamp(1, size)
    w = (torch.sqrt(area / aspect) * size).clamp(1, size)
    top, left = top * (size - h), left * (size - w)
    pos = torch.arange(size, device=device, dtype=x.dtype)
    rows = (pos.view(1, -1) >= top.view(-1, 1)) & (pos.view(1, -1) < (top + h).view(-1, 1))
    cols = (pos.view(1, -1) >= left.view(-1, 1)) & (pos.view(1, -1) < (left + w).view(-1, 1))
    chosen = drawn[:, 9] > 0
    mask = (rows[:, :, None] & cols[:, None, :] & chosen.view(-1, 1, 1)).unsqueeze(1)
    noise = torch.rand(x.shape, generator=generator,
                       device=generator.device if generator is not None else device)
    return torch.where(mask, noise.to(device, x.dtype), x)


def apply_augment(images: torch.Tensor, drawn: torch.Tensor, config: FaceAugment,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 faces ``[B, H, W]`` augmented by the choices ``drawn`` (``draw_augment``)
    -> float ``[B, 1, S, S]`` on ``[0, 1]``; ``generator`` draws only the noise that fills
    an erased rectangle.

    >>> faces = torch.zeros(2, 48, 48, dtype=torch.uint8)
    >>> drawn = draw_augment(2, FaceAugment(erase_p=0))
    >>> apply_augment(faces, drawn, FaceAugment(erase_p=0)).shape
    torch.Size([2, 1, 48, 48])
    """
    source = as_gray_batch(images).float().div_(255.0)
    x = _affine(source, drawn.to(source.device), config.image_size)
    return _erase(x, drawn.to(x.device), generator) if config.erase_p > 0 else x


def face_train_input(images: torch.Tensor, config: FaceAugment = FaceAugment(),
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 faces ``[B, H, W]`` -> augmented float ``[B, 1, S, S]`` on ``[0, 1]``: fresh
    choices (``draw_augment``), applied (``apply_augment``)."""
    drawn = draw_augment(images.shape[0], config, generator, images.device)
    return apply_augment(images, drawn, config, generator)
