"""Tests of the batched augmentation against its contract and against torchvision."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from fer_course.augment import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    AugmentParams,
    BatchAugmenter,
    apply_params,
    denormalize,
    eval_transform,
    sample_params,
    sampling_grid,
    train_transform,
)

SMALL = AugmentConfig(image_size=32)


def structured_face() -> torch.Tensor:
    """A uint8 ``[1, 48, 48]`` image with no symmetry: a diagonal ramp and a bright block
    in the upper right, so a wrong rotation direction or flip changes many pixels."""
    rows, cols = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    image = cols * 3 + rows * 1.5
    image[8:20, 30:42] = 255
    return image.clamp(0, 255).round().to(torch.uint8).unsqueeze(0)


def fixed(angle: float, flip: bool) -> AugmentParams:
    return AugmentParams(torch.tensor([angle]), torch.tensor([flip]))


def torchvision_reference(image: torch.Tensor, angle: float, size: int = 224) -> torch.Tensor:
    """The paper's order with tensors: bilinear resize, then bilinear rotation; ``[S, S]``."""
    resized = TF.resize(image.unsqueeze(0).float() / 255, [size], InterpolationMode.BILINEAR)
    return TF.rotate(resized, angle, InterpolationMode.BILINEAR)[0, 0]


@pytest.mark.parametrize("size", [224, 32])
@pytest.mark.parametrize("shape", [(5, 48, 48), (5, 1, 48, 48)])
def test_shapes_and_dtypes(size: int, shape: tuple[int, ...]) -> None:
    images = torch.randint(0, 256, shape, dtype=torch.uint8)
    config = AugmentConfig(image_size=size)
    for out in (train_transform(images, config), eval_transform(images, config)):
        assert out.shape == (5, 3, size, size)
        assert out.dtype == torch.float32


def test_params_differ_within_a_batch() -> None:
    params = sample_params(64, AugmentConfig(), torch.Generator().manual_seed(1))
    assert params.angles.shape == (64,) and params.flips.dtype == torch.bool
    assert params.angles.abs().max() <= 45.0
    assert params.angles.std() > 10.0  # uniform on [-45, 45] has std 26
    assert set(params.flips.tolist()) == {False, True}


def test_copies_of_one_image_are_augmented_differently() -> None:
    copies = structured_face().expand(8, 48, 48)
    out = train_transform(copies, SMALL, torch.Generator().manual_seed(0))
    for i in range(1, 8):
        assert not torch.allclose(out[0], out[i])


def test_same_seed_same_output() -> None:
    images = torch.randint(0, 256, (16, 48, 48), dtype=torch.uint8)
    first = train_transform(images, SMALL, torch.Generator().manual_seed(7))
    again = train_transform(images, SMALL, torch.Generator().manual_seed(7))
    other = train_transform(images, SMALL, torch.Generator().manual_seed(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("angle", [30.0, -20.0])
def test_rotation_matches_torchvision(angle: float) -> None:
    # torchvision resamples twice (48 -> 224, then the rotation of the 224 px image); we
    # resample once, straight from 48 px. Both are bilinear, so they agree closely on smooth
    # regions but not exactly, most at the sharp block edges and along the rotated border.
    # Measured: mean ~1e-4, max ~0.035 on the [0, 1] scale.
    image = structured_face()
    ours = denormalize(apply_params(image, fixed(angle, False)))[0]
    reference = torchvision_reference(image, angle)
    for channel in ours:
        difference = (channel - reference).abs()
        assert difference.mean() < 2e-3
        assert difference.max() < 0.1
    # The tolerance is tight enough to catch a rotation the wrong way round.
    assert (ours[0] - torchvision_reference(image, -angle)).abs().mean() > 0.05


def test_sampling_grid_equals_affine_grid() -> None:
    matrix = torch.randn(3, 2, 2, generator=torch.Generator().manual_seed(0))
    theta = torch.cat([matrix, torch.zeros(3, 2, 1)], dim=2)
    expected = F.affine_grid(theta, [3, 1, 17, 17], align_corners=False)
    torch.testing.assert_close(sampling_grid(matrix, 17), expected, atol=1e-5, rtol=0)


def test_flip_only_matches_torch_flip() -> None:
    images = torch.cat([structured_face(), structured_face().transpose(1, 2)])
    params = AugmentParams(torch.zeros(2), torch.ones(2, dtype=torch.bool))
    flipped = apply_params(images, params, SMALL)
    expected = torch.flip(eval_transform(images, SMALL), dims=[-1])
    torch.testing.assert_close(flipped, expected, atol=1e-4, rtol=0)


def test_eval_equals_train_without_rotation_or_flip() -> None:
    images = torch.randint(0, 256, (4, 48, 48), dtype=torch.uint8)
    params = AugmentParams(torch.zeros(4), torch.zeros(4, dtype=torch.bool))
    for config in (AugmentConfig(), SMALL):
        augmented = apply_params(images, params, config)
        torch.testing.assert_close(augmented, eval_transform(images, config), atol=1e-4, rtol=0)
    no_randomness = AugmentConfig(image_size=32, max_rotation=0.0, flip_p=0.0)
    torch.testing.assert_close(
        train_transform(images, no_randomness), eval_transform(images, no_randomness),
        atol=1e-4, rtol=0,
    )


@pytest.mark.parametrize(
    "config", [SMALL, AugmentConfig(image_size=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))]
)
def test_denormalize_inverts_normalisation(config: AugmentConfig) -> None:
    images = torch.randint(0, 256, (3, 48, 48), dtype=torch.uint8)
    resized = F.interpolate(images.unsqueeze(1).float() / 255, size=(32, 32), mode="bilinear")
    normalised = eval_transform(images, config)
    torch.testing.assert_close(denormalize(normalised, config), resized.expand(-1, 3, -1, -1))
    torch.testing.assert_close(denormalize(normalised[0], config), resized[0].expand(3, -1, -1))


def test_imagenet_normalisation_per_channel() -> None:
    white = eval_transform(torch.full((1, 48, 48), 255, dtype=torch.uint8), SMALL)
    expected = [(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    torch.testing.assert_close(white[0, :, 5, 5], torch.tensor(expected))


def test_rotated_corners_are_black() -> None:
    white = torch.full((1, 48, 48), 255, dtype=torch.uint8)
    out = denormalize(apply_params(white, fixed(45.0, False), SMALL))[0, 0]
    assert out[0, 0] == 0 and out[-1, -1] == 0 and out[16, 16] == 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
def test_non_uint8_input_raises(dtype: torch.dtype) -> None:
    images = torch.zeros(2, 48, 48, dtype=dtype)
    with pytest.raises(ValueError, match=str(dtype)):
        train_transform(images)
    with pytest.raises(ValueError, match="uint8"):
        eval_transform(images)


@pytest.mark.parametrize("shape", [(48, 48), (2, 3, 48, 48), (2, 48, 40)])
def test_bad_shape_raises(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="shape"):
        eval_transform(torch.zeros(shape, dtype=torch.uint8))


def test_params_must_match_batch() -> None:
    with pytest.raises(ValueError, match="params"):
        apply_params(torch.zeros(3, 48, 48, dtype=torch.uint8), fixed(0.0, False))


def test_batch_augmenter_is_reproducible() -> None:
    images = torch.randint(0, 256, (4, 48, 48), dtype=torch.uint8)
    first, second = BatchAugmenter(SMALL, seed=3), BatchAugmenter(SMALL, seed=3)
    assert torch.equal(first(images), second(images))
    assert not torch.equal(first(images), first(images))  # the generator moves on
    assert first.eval(images).shape == (4, 3, 32, 32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu_given_params() -> None:
    images = torch.randint(0, 256, (8, 48, 48), dtype=torch.uint8)
    params = sample_params(8, SMALL, torch.Generator().manual_seed(0))
    on_cpu = apply_params(images, params, SMALL)
    on_gpu = apply_params(images.cuda(), params, SMALL)
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, atol=1e-4, rtol=0)
    augmenter = BatchAugmenter(SMALL, seed=0, device="cuda")
    assert augmenter(images).device.type == "cuda"
