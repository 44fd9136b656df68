"""Training augmentation as batched tensor ops on the training device.

- ``paper_transform``: the seed paper's (resize, rotation up to 45 degrees, flip, three
  ImageNet-normalised channels), for the torchvision backbones;
- ``small_faces``: the ``best`` recipe's, at 48 px (rotation, scale, shift and flip in one
  affine map, then random erasing), gray faces on ``[0, 1]``.

>>> from fer_course.augment import AugmentConfig, FaceAugment
>>> AugmentConfig(image_size=32).max_rotation, FaceAugment().max_rotation
(45.0, 15.0)
"""

from fer_course.augment.paper_transform import (
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
from fer_course.augment.small_faces import FaceAugment, face_eval_input, face_train_input

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AugmentConfig",
    "AugmentParams",
    "BatchAugmenter",
    "FaceAugment",
    "apply_params",
    "denormalize",
    "eval_transform",
    "face_eval_input",
    "face_train_input",
    "sample_params",
    "sampling_grid",
    "train_transform",
]
