"""The in-memory form of FER-2013: one ``Split`` per usage, gathered in ``FERData``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import torch

CLASSES: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
"""The seven FER-2013 classes, in label order (0 = Angry ... 6 = Neutral)."""

IMAGE_SIZE = 48
SPLITS: tuple[str, ...] = ("train", "val", "test")
USAGE_TO_SPLIT: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SPLIT_TO_USAGE: dict[str, str] = {v: k for k, v in USAGE_TO_SPLIT.items()}


POSITION_ROWS_NOTE = (
    "rows are folder positions, not fer2013.csv rows: the image files are not named by csv "
    "row, so FER+ votes and stored predictions cannot be joined to these images"
)
"""The note of every ``FERData`` whose ``rows_are_csv`` is ``False``."""


@dataclass
class Split:
    """Images and labels of one split.

    images: uint8 tensor ``[N, 48, 48]``; labels: int64 tensor ``[N]``;
    rows: where each image came from, kept so that results can be traced back to the
    source: its data row in the csv (counted from 0), or, for image folders whose files are
    not named by csv row, its position among the files (``FERData.rows_are_csv`` says which).

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

    ``rows_are_csv``: whether every ``Split.rows`` is a data row of the csv (Kaggle's
    ``fer2013.csv`` for the real data), so that anything indexed by csv row (FER+ votes,
    stored predictions) may be joined to these images. ``False`` when the rows are only
    positions among image files whose names are not csv rows (Kaggle's image-folder release,
    ``train/angry/Training_3908.jpg``); ``require_csv_rows`` refuses such data. ``False``
    also adds ``POSITION_ROWS_NOTE`` to ``notes``, and that note makes it ``False``, so a
    copy that keeps the notes keeps the marker.

    >>> one = Split(torch.zeros(1, 48, 48), torch.tensor([0]))
    >>> d = FERData(one, one, one, source="faces", rows_are_csv=False)
    >>> d.notes == [POSITION_ROWS_NOTE], FERData(one, one, one, notes=d.notes).rows_are_csv
    (True, False)
    """

    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...] = CLASSES
    source: str = "unknown"
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # bad source rows left out, with reasons
    rows_are_csv: bool = True  # Split.rows are csv data rows (else folder positions)

    def __post_init__(self) -> None:
        if POSITION_ROWS_NOTE in self.notes:
            self.rows_are_csv = False
        self.rows_are_csv = bool(self.rows_are_csv)
        if not self.rows_are_csv and POSITION_ROWS_NOTE not in self.notes:
            self.notes = [*self.notes, POSITION_ROWS_NOTE]

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
    rows_are_csv: bool = True,
) -> FERData:
    """Build ``FERData`` from whole-file arrays and a per-row Usage string (``rows_are_csv``:
    see ``FERData``).

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
    return FERData(**parts, source=source, notes=list(notes or []), rows_are_csv=rows_are_csv)


class FERFormatError(ValueError):
    """A data file or folder does not hold FER-2013 in a form we can read.

    The message names the file and, for a csv, the line: ``fer2013.csv: line 1042:
    expected 2304 pixels, got 2303``.
    """


def require_csv_rows(data: FERData, purpose: str) -> None:
    """Raise ``FERFormatError`` unless ``data.rows_are_csv``: call it before joining anything
    indexed by csv row to ``data``'s images by ``Split.rows``. ``purpose`` names what would be
    joined, e.g. ``"FER+ votes"`` or ``"stored predictions"``; the message says why it
    cannot be, and what to load instead.

    >>> from fer_course.data.synthetic import make_synthetic_fer
    >>> d = make_synthetic_fer(14, 7, 7)
    >>> require_csv_rows(d, "FER+ votes")  # synthetic rows are csv rows: nothing to say
    >>> d.rows_are_csv = False
    >>> try:
    ...     require_csv_rows(d, "FER+ votes")
    ... except FERFormatError as err:
    ...     print(str(err)[:87])
    synthetic (seed 0): cannot join FER+ votes by csv row: the rows of this data are folder
    """
    if data.rows_are_csv:
        return
    raise FERFormatError(
        f"{data.source}: cannot join {purpose} by csv row: the rows of this data are folder "
        "positions, not fer2013.csv rows, because its image files are not named by csv row "
        "(as in Kaggle's image-folder release, train/angry/Training_3908.jpg), so whatever is "
        "indexed by csv row would land on the wrong faces. Load Kaggle's fer2013.csv, the "
        "fer2013.npz, or image folders whose files are named by csv row (<row>.png, as "
        "write_image_folders writes them) instead"
    )


def legacy_rows_are_csv(source: str) -> bool:
    """``rows_are_csv`` for data saved before the marker existed (an old cache or ``.ferpack``),
    judged by its ``source``: ``True`` for data read from a csv, an npz or a ferpack, or made
    synthetic; ``False`` otherwise (an image folder, whose rows may be folder positions).

    >>> legacy_rows_are_csv("fer2013.csv with FER+ labels of fer2013new.csv")
    True
    >>> legacy_rows_are_csv("images with FER+ labels of fer2013new.csv")
    False
    """
    origin = source.split(" with FER+ labels of ", 1)[0].lower()
    return bool(re.search(r"\.(csv|npz|ferpack)(\s|$)", origin)) or origin.startswith("synthetic")
