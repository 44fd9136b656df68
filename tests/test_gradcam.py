"""Grad-CAM on the course's networks (``fer_course.faces.gradcam``), untrained but seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fer_course.augment import AugmentConfig, eval_transform
from fer_course.faces.gradcam import (
    cam_grid,
    cam_layer,
    grad_cam,
    overlay_cam,
    show_cam,
    show_cams,
)
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
    """Shape, dtype and range only: what the maps say is checked against a computation by
    hand on small linear models below (``test_maps_equal_grad_cam_by_hand``)."""
    assert maps.shape == (n, size, size) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and maps.min() >= 0.0 and maps.max() <= 1.0


def bilinear(m: np.ndarray, size: int) -> np.ndarray:
    """``m`` [h, w] resized to [size, size], bilinear with half-pixel centres (what
    ``F.interpolate(..., align_corners=False)`` does), in plain Python loops."""
    h, w = m.shape

    def source(i: int, n_in: int) -> tuple[int, int, float]:
        s = max((i + 0.5) * n_in / size - 0.5, 0.0)
        low = min(int(np.floor(s)), n_in - 1)
        return low, min(low + 1, n_in - 1), s - low

    out = np.empty((size, size))
    for i in range(size):
        y0, y1, fy = source(i, h)
        for j in range(size):
            x0, x1, fx = source(j, w)
            top = m[y0, x0] * (1 - fx) + m[y0, x1] * fx
            bottom = m[y1, x0] * (1 - fx) + m[y1, x1] * fx
            out[i, j] = top * (1 - fy) + bottom * fy
    return out


def stretched(m: np.ndarray) -> np.ndarray:
    span = m.max() - m.min()
    return (m - m.min()) / span if span > 0 else np.zeros_like(m)


def linear_cam_model(V: np.ndarray, W: np.ndarray, stride: int) -> nn.Module:
    """1x1 convolution (weights ``V`` [K, 3], the Grad-CAM layer), ReLU, global average pool,
    linear head (``W`` [classes, K]), no biases: every gradient is known in closed form."""
    model = nn.Sequential(nn.Conv2d(3, V.shape[0], 1, stride=stride, bias=False), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(V.shape[0], W.shape[0], bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(V, dtype=torch.float32)[:, :, None, None])
        model[4].weight.copy_(torch.tensor(W, dtype=torch.float32))
    return model


@pytest.mark.parametrize("stride", [1, 2])
def test_maps_equal_grad_cam_by_hand(stride):
    """y_c = sum_k W_ck mean_ij ReLU(A_kij) with A = V x: dy_c/dA_kij = W_ck [A_kij > 0] / hw,
    so alpha_k = W_ck * (share of positive A_k) / hw; the map is ReLU(sum_k alpha_k A_k),
    resized to the input (bilinear) and stretched to [0, 1]. Computed here in numpy."""
    rng = np.random.default_rng(0)
    V = rng.normal(size=(2, 3))
    W = np.array([[1.0, 0.5], [-1.0, 2.0], [0.0, -1.0]])  # three classes, mixed signs
    x = rng.normal(size=(3, 3, 8, 8)).astype(np.float32)
    model = linear_cam_model(V, W, stride)
    assert cam_layer(model) is model[0]
    for c in range(3):
        maps = grad_cam(model, torch.from_numpy(x), target=c, batch_size=2)
        check_maps(maps, 3, 8)
        for n in range(3):
            A = np.einsum("kc,cij->kij", V, x[n, :, ::stride, ::stride].astype(np.float64))
            hw = A.shape[1] * A.shape[2]
            alpha = W[c] * (A > 0).mean(axis=(1, 2)) / hw
            by_hand = stretched(bilinear(np.maximum((alpha[:, None, None] * A).sum(0), 0), 8))
            np.testing.assert_allclose(maps[n], by_hand, atol=1e-5, err_msg=f"class {c}")
    # one class per image: each map is that image's map for its own class
    mixed = grad_cam(model, torch.from_numpy(x), target=[2, 0, 1])
    for n, c in enumerate([2, 0, 1]):
        np.testing.assert_allclose(mixed[n], grad_cam(model, torch.from_numpy(x[n:n + 1]),
                                                      target=c)[0], atol=1e-6)


def test_a_planted_bright_patch_is_where_the_map_points():
    """One channel that measures brightness: the class that likes brightness looks at the
    patch, the class that dislikes it everywhere but the patch."""
    x = torch.full((1, 3, 16, 16), -1.0)
    x[:, :, 3:6, 10:13] = 2.0  # the patch: rows 3-5, columns 10-12
    model = linear_cam_model(np.full((1, 3), 1 / 3), np.array([[1.0], [-1.0]]), stride=1)
    model[1] = nn.Identity()  # linear: the gradient is the same at every position
    likes, dislikes = grad_cam(model, x, target=0)[0], grad_cam(model, x, target=1)[0]
    inside = np.zeros((16, 16), bool)
    inside[3:6, 10:13] = True
    assert (likes[inside] == 1.0).all() and (likes[~inside] == 0.0).all()
    assert (dislikes[inside] == 0.0).all() and (dislikes[~inside] == 1.0).all()


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


def test_cam_grid_is_the_layer_output_worked_out_by_hand():
    # 32 px input, a 3 x 3 convolution with stride 2 and padding 1: (32 + 2 - 3) // 2 + 1 = 16
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 7)).train()
    assert cam_grid(model, 32) == (4, 16, 16)
    assert cam_grid(model, 32, layer=model[0]) == (4, 16, 16)
    assert no_hooks(model) and model.training  # the mode comes back, the hook goes


def test_show_cam_and_the_colour_bar():
    import matplotlib.pyplot as plt

    fig = show_cam(faces(1)[0].numpy(), np.linspace(0, 1, 48 * 48).reshape(48, 48), "Happy")
    assert len(fig.axes) == 3  # crop, overlay, colour bar
    bar = fig.axes[2]
    assert "Grad-CAM" in bar.get_ylabel() and bar.get_ylim() == (0.0, 1.0)
    assert fig.axes[1].get_title() == "Happy" and fig.get_size_inches()[0] <= 7
    plt.close(fig)
    fig = show_cams(faces(3).numpy(), np.zeros((3, 48, 48)), ["a", "b\nc", "d"], columns=2,
                    with_faces=False, colorbar=True, fontsize=12)
    assert len(fig.axes) == 2 * 2 + 1  # two rows of two maps (one empty) and the bar
    assert fig.axes[0].title.get_fontsize() == 12
    plt.close(fig)
    with pytest.raises(ValueError, match="7 inches"):
        show_cam(faces(1)[0].numpy(), np.zeros((48, 48)), width=8)
