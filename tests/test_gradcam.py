"""Grad-CAM on the course's networks (``fer_course.gradcam``), untrained but seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fer_course.augment import AugmentConfig, eval_transform
from fer_course.gradcam import cam_layer, grad_cam, overlay_cam
from fer_course.models import build_autoencoder, build_backbone

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def faces(n: int = 2, seed: int = 0) -> torch.Tensor:
    """Smooth random uint8 faces [n, 48, 48] (blobs, so the maps have some structure)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, 6, 6, generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=(48, 48), mode="bicubic")
    return (smooth[:, 0].clamp(0, 1) * 255).to(torch.uint8)


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
               and not getattr(m, "_backward_pre_hooks", {}) for m in model.modules())


def check_maps(maps: np.ndarray, n: int, size: int) -> None:
    assert maps.shape == (n, size, size) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and maps.min() >= 0.0 and maps.max() <= 1.0
    assert (maps.reshape(n, -1).max(axis=1) == 1.0).all()  # each map stretched to [0, 1]


@pytest.mark.parametrize(("arch", "size", "layer_type"), [
    ("resnet18", 64, nn.Sequential),
    ("densenet121", 64, nn.Sequential),
    ("vgg11", 64, nn.Conv2d),
])
def test_backbones(arch, size, layer_type):
    torch.manual_seed(0)
    model = build_backbone(arch)
    assert isinstance(cam_layer(model), layer_type)
    x = eval_transform(faces(), AugmentConfig(image_size=size))
    model.train()
    first, second = grad_cam(model, x, target=0), grad_cam(model, x, target=[3, 3])
    check_maps(first, 2, size)
    check_maps(second, 2, size)
    assert np.abs(first - second).max() > 0.05  # another class, another map
    assert model.training and all(m.training for m in model.modules())  # mode given back
    assert no_hooks(model)
    assert all(p.grad is None for p in model.parameters())  # the parameters are untouched
    # uint8 faces at an image size give the same maps as the normalised tensor
    np.testing.assert_allclose(grad_cam(model, faces(), target=0, image_size=size), first,
                               atol=1e-5)


def test_predicted_class_by_default_and_mixed_modes():
    torch.manual_seed(0)
    model = build_backbone("resnet18")
    x = eval_transform(faces(3), AugmentConfig(image_size=64))
    model.eval()
    with torch.no_grad():
        predicted = model(x).argmax(1).tolist()
    model.train()
    model.layer1.eval()  # a mixed state is given back as it was
    maps = grad_cam(model, x, batch_size=2)
    np.testing.assert_allclose(maps, grad_cam(model, x, target=predicted), atol=1e-5)
    assert model.training and not model.layer1.training and model.layer2.training
    with torch.no_grad():  # works inside no_grad too
        check_maps(grad_cam(model, x, layer="layer3"), 3, 64)
    assert no_hooks(model)


def test_autoencoder():
    torch.manual_seed(0)
    model = build_autoencoder(latent_dim=32)
    assert cam_layer(model) is model.encoder.stages[-1]
    for p in model.encoder.parameters():  # a frozen encoder (classify_frozen) still works
        p.requires_grad_(False)
    first = grad_cam(model, faces(), target=0)
    second = grad_cam(model, faces(), target=5)
    check_maps(first, 2, 48)
    assert np.abs(first - second).max() > 0.05
    assert model.training and no_hooks(model)


def test_errors_leave_no_hooks():
    torch.manual_seed(0)
    model = build_backbone("resnet18").eval()
    x = eval_transform(faces(), AugmentConfig(image_size=64))
    with pytest.raises(ValueError, match="0..6"):
        grad_cam(model, x, target=7)
    with pytest.raises(ValueError, match="3 classes for 2 images"):
        grad_cam(model, x, target=[0, 1, 2])
    with pytest.raises(ValueError, match="image_size"):
        grad_cam(model, faces())
    with pytest.raises(ValueError, match="did not run"):
        grad_cam(model, x, layer=nn.Identity())  # not part of the model
    assert no_hooks(model) and not model.training
    autoencoder = build_autoencoder(latent_dim=8)
    with pytest.raises(TypeError, match="returns tuple"):
        grad_cam(autoencoder, faces(), layer="encoder")  # (latent, indices)
    assert no_hooks(autoencoder) and autoencoder.training


def test_a_one_pixel_map_warns_and_gives_zeros():
    torch.manual_seed(0)
    model = build_backbone("resnet18")
    with pytest.warns(UserWarning, match="1 x 1"):
        maps = grad_cam(model, faces(1), image_size=32)
    assert maps.shape == (1, 32, 32) and not maps.any()


def test_overlay_cam():
    cam = np.linspace(0, 1, 64 * 64).reshape(64, 64)
    for face in (faces(1)[0], faces(1)[0].numpy() / 255.0, np.zeros((48, 48, 3))):
        image = overlay_cam(face, cam)
        assert image.shape == (64, 64, 3) and image.min() >= 0 and image.max() <= 1
    assert np.allclose(overlay_cam(np.zeros((48, 48), np.uint8), cam, alpha=0.0), 0)
    with pytest.raises(ValueError, match="one map"):
        overlay_cam(faces(1)[0], np.zeros((2, 8, 8)))
