"""The in-memory form of FER-2013: one ``Split`` per usage, gathered in ``FERData``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

CLASSES: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
"""The seven FER-2013 classes, in label order (0 = Angry ... 6 = Neutral)."""

IMAGE_SIZE = 48
SPLITS: tuple[str, ...] = ("train", "val", "test")
USAGE_TO_SPLIT: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SPLIT_TO_USAGE: dict[str, str] = {v: k for k, v in USAGE_TO_SPLIT.items()}


@dataclass
class Split:
    """Images and labels of one split.

    images: uint8 tensor ``[N, 48, 48]``; labels: int64 tensor ``[N]``;
    rows: where each image came from (csv data row, counted from 0, or file index),
    kept so that results can be traced back to the source.

    >>> s = Split(torch.zeros(2, 48, 48, dtype=torch.uint8), torch.tensor([0, 3]))
    >>> len(s), s.class_counts()[:4]
    (2, [1, 0, 0, 1])
    """

    images: torch.Tensor
    labels: torch.Tensor
    rows: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.images = torch.as_tensor(self.images, dtype=torch.uint8)
        self.labels = torch.as_tensor(self.labels, dtype=torch.int64)
        if self.images.ndim != 3 or tuple(self.images.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"images must be [N, 48, 48], got {list(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must be [N] with N = {self.images.shape[0]}, got {list(self.labels.shape)}"
            )
        if self.rows is None:
            self.rows = np.arange(len(self.labels))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def class_counts(self, num_classes: int = len(CLASSES)) -> list[int]:
        """How many images each class has, in label order."""
        return torch.bincount(self.labels, minlength=num_classes).tolist()


@dataclass
class FERData:
    """FER-2013 (or a stand-in) as three splits.

    ``source`` names where it came from (a file name, never a full path) and
    ``notes`` says anything a reader must know, such as a validation split carved
    from the training images; ``skipped`` lists every bad source row that was left out
    (only with ``skip_bad_rows=True``), with its line and reason.
    """

    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...] = CLASSES
    source: str = "unknown"
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # bad source rows left out, with reasons

    def splits(self) -> dict[str, Split]:
        """The three splits by name, in the order train, val, test."""
        return {"train": self.train, "val": self.val, "test": self.test}

    def counts(self) -> dict[str, int]:
        """Number of images per split, e.g. ``{'train': 28709, 'val': 3589, 'test': 3589}``."""
        return {name: len(split) for name, split in self.splits().items()}

    def summary(self) -> str:
        """One line: source and split sizes."""
        c = self.counts()
        return f"{self.source}: train {c['train']:,} / val {c['val']:,} / test {c['test']:,}"


def from_arrays(
    images: np.ndarray,
    labels: np.ndarray,
    usage: np.ndarray,
    source: str,
    notes: list[str] | None = None,
) -> FERData:
    """Build ``FERData`` from whole-file arrays and a per-row Usage string.

    >>> imgs = np.zeros((3, 48, 48), np.uint8)
    >>> d = from_arrays(imgs, np.array([0, 1, 2]),
    ...                 np.array(["Training", "PublicTest", "PrivateTest"]), "demo")
    >>> d.counts()
    {'train': 1, 'val': 1, 'test': 1}
    """
    usage = np.asarray(usage).astype(str)
    unknown = sorted(set(np.unique(usage)) - set(USAGE_TO_SPLIT))
    if unknown:
        raise ValueError(
            f"{source}: unknown Usage values {unknown}; expected {list(USAGE_TO_SPLIT)}"
        )
    parts = {}
    for usage_name, split in USAGE_TO_SPLIT.items():
        rows = np.flatnonzero(usage == usage_name)
        parts[split] = Split(torch.from_numpy(np.ascontiguousarray(images[rows])),
                             torch.from_numpy(np.asarray(labels[rows], dtype=np.int64)), rows)
    return FERData(**parts, source=source, notes=list(notes or []))


class FERFormatError(ValueError):
    """A data file or folder does not hold FER-2013 in a form we can read.

    The message names the file and, for a csv, the line: ``fer2013.csv: line 1042:
    expected 2304 pixels, got 2303``.
    """
