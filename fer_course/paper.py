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
