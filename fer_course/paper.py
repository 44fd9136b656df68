"""Numbers reported by the seed paper (An, Liu and Zheng), kept as cited data.

Chapters print these beside our own measurements; nothing here is a result of ours.

>>> PAPER_SPLIT_SIZES["train"]
28709
"""

from __future__ import annotations

CITATION = "An, Liu and Zheng, Emotion Detection with CNN Ensembles and CNN Autoencoders (2020)"

PAPER_SPLIT_SIZES: dict[str, int] = {"train": 28709, "val": 3589, "test": 3589}
"""Section 2: training, validation and testing set sizes."""

PAPER_TABLE1_AUGMENTATION: tuple[tuple[str, str], ...] = (
    ("Resize(224)", "the ImageNet backbones expect 224x224 inputs"),
    ("RandomRotation(45)", "a uniform random angle in [-45, 45] degrees"),
    ("RandomHorizontalFlip()", "a mirror image with probability 0.5"),
)
"""Table 1: the training-time transformations, in order."""

PAPER_TABLE5: dict[str, tuple[float, float, float]] = {
    # backbone: (training, validation, testing) accuracy after 30 epochs of fine-tuning
    "resnet18": (0.872, 0.688, 0.691),
    "resnet34": (0.912, 0.706, 0.699),
    "resnet50": (0.933, 0.708, 0.693),
    "resnet101": (0.936, 0.701, 0.692),
    "resnet152": (0.961, 0.719, 0.693),
    "resnext50_32x4d": (0.975, 0.725, 0.694),
    "resnext101_32x8d": (0.983, 0.720, 0.708),
    "wide_resnet50_2": (0.970, 0.709, 0.703),
    "wide_resnet101_2": (0.970, 0.711, 0.706),
    "densenet121": (0.952, 0.720, 0.698),
    "densenet161": (0.971, 0.727, 0.705),
    "densenet169": (0.956, 0.713, 0.700),
    "densenet201": (0.970, 0.722, 0.703),
    "vgg11": (0.900, 0.696, 0.683),
    "vgg13": (0.886, 0.698, 0.683),
    "vgg16": (0.899, 0.707, 0.682),
    "vgg19": (0.925, 0.701, 0.685),
}
"""Table 5: accuracies of the 17 fine-tuned backbones (keys are torchvision names)."""

PAPER_BEST_ENSEMBLE: dict[str, float | int] = {"members": 13, "test": 0.740}
"""Section 5.1.2: the top-13 ensemble (members ordered by test accuracy), majority vote."""

PAPER_FIGURE5_MSE: dict[int, float] = {200: 0.0398, 500: 0.0364, 1000: 0.0335}
"""Figure 5: reconstruction MSE per latent size (scale not stated; its caption says 80
epochs, the text says the autoencoder converges in 50)."""

PAPER_FROZEN_ACCURACY: dict[str, float] = {"train": 0.251, "val": 0.247}
"""Section 5.2.1: a classifier on the frozen 1000-number code."""

PAPER_MULTITASK: dict[str, float | int] = {"latent_dim": 686, "val": 0.674, "test": 0.659}
"""Section 5.2.2: the multitask network (latent 686)."""
