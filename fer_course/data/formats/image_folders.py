"""Read FER-2013 from image folders: ``root/<split>/<class>/*.png`` (or ``.jpg``).

Two layouts are accepted:

- three folders ``train``, ``val``, ``test`` (Training, PublicTest, PrivateTest);
- two folders ``train``, ``test`` (the common Kaggle image release), where ``test`` merges
  PublicTest and PrivateTest and a validation split is carved from ``train``, stratified
  and seeded. The returned data says so in its notes.

A class folder is a name (``angry``, ``happy``, ...) or the label digit (``0`` ... ``6``).

Files named by their csv row (``00042.png``) keep that row; any other names (the Kaggle
image release's ``Training_3908.jpg``) give folder positions, which ``FERData.rows_are_csv``
marks as such, so that FER+ votes or stored predictions are never joined to them
(see ``file_rows``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from fer_course.data.types import CLASSES, IMAGE_SIZE, FERFormatError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
SPLIT_FOLDER_NAMES = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation", "publictest"),
    "test": ("test", "privatetest"),
}
CLASS_ALIASES = {
    0: ("angry", "anger"),
    1: ("disgust", "disgusted"),
    2: ("fear", "fearful", "scared"),
    3: ("happy", "happiness"),
    4: ("sad", "sadness"),
    5: ("surprise", "surprised"),
    6: ("neutral",),
}
PAPER_VAL_FRACTION = 3589 / 28709  # FER-2013's own PublicTest size relative to Training


def class_label(folder_name: str) -> int | None:
    """Label of a class folder name, or ``None`` if it names no FER-2013 class.

    >>> class_label("Happy"), class_label("5"), class_label("cats")
    (3, 5, None)
    """
    name = folder_name.strip().lower()
    if name.isdigit():
        return int(name) if int(name) < len(CLASSES) else None
    return next((label for label, names in CLASS_ALIASES.items() if name in names), None)


def find_split_folders(root: Path) -> dict[str, Path]:
    """The split folders under ``root``, by split name; error if train or test is missing."""
    found: dict[str, Path] = {}
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        for split, names in SPLIT_FOLDER_NAMES.items():
            if child.name.lower() in names and split not in found:
                found[split] = child
    found = {split: found[split] for split in SPLIT_FOLDER_NAMES if split in found}
    if "train" not in found or "test" not in found:
        raise FERFormatError(
            f"{root}: expected split folders train/ and test/ (and optionally val/), each with "
            f"one folder per class; found {sorted(p.name for p in root.iterdir())}"
        )
    return found


def read_image(path: Path) -> np.ndarray:
    """One 48x48 grayscale image as uint8; clear errors for unreadable or wrong-size files."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.size != (IMAGE_SIZE, IMAGE_SIZE):
                raise FERFormatError(
                    f"{path}: image is {img.size[0]}x{img.size[1]}, expected 48x48"
                )
            return np.asarray(img.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise FERFormatError(f"{path}: cannot read this image ({err})") from err


def read_split_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """Images, labels and file names (relative to the split folder) of one split folder,
    plus how many non-image files were passed over."""
    files: list[tuple[Path, int]] = []
    ignored = 0
    for class_dir in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
        if not class_dir.is_dir():
            ignored += 1
            continue
        label = class_label(class_dir.name)
        if label is None:
            valid = [names[0] for names in CLASS_ALIASES.values()]
            raise FERFormatError(
                f"{class_dir}: unknown class folder {class_dir.name!r}; use one of {valid} "
                "or the label digits 0-6"
            )
        for f in sorted(class_dir.iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                files.append((f, label))
            elif not f.name.startswith("."):
                ignored += 1
    if not files:
        raise FERFormatError(f"{folder}: no images (.png or .jpg) in any class folder")
    images = np.stack([read_image(f) for f, _ in files])
    labels = np.array([label for _, label in files], dtype=np.int64)
    names = [str(f.relative_to(folder)) for f, _ in files]
    return images, labels, names, ignored


def file_rows(names_per_split: list[list[str]]) -> tuple[list[np.ndarray], bool]:
    """The source row of every file, per split, and whether those are csv rows.

    When every file of every split is named by a number, all distinct (``00042.png`` is row
    42, as ``write_image_folders`` and other exports by csv row name them), the numbers are
    csv rows: ``True``. Otherwise (Kaggle's image-folder release names files
    ``Training_3908.jpg``, ``PrivateTest_1234.jpg``: not csv rows) every file gets its
    position, counted across the splits in order, and ``False``.

    >>> rows, csv = file_rows([["angry/00007.png", "happy/00003.png"], ["sad/00012.png"]])
    >>> [r.tolist() for r in rows], csv
    ([[7, 3], [12]], True)
    >>> rows, csv = file_rows([["angry/Training_10.jpg", "happy/Training_3.jpg"], ["sad/1.png"]])
    >>> [r.tolist() for r in rows], csv
    ([[0, 1], [2]], False)
    """
    stems = [Path(n).stem for names in names_per_split for n in names]
    csv = all(s.isdigit() for s in stems) and len({int(s) for s in stems}) == len(stems)
    rows, offset = [], 0
    for names in names_per_split:
        if csv:
            rows.append(np.array([int(Path(n).stem) for n in names], dtype=np.int64))
        else:
            rows.append(np.arange(offset, offset + len(names), dtype=np.int64))
        offset += len(names)
    return rows, csv


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a seeded, class-stratified holdout of about ``fraction`` of the samples.

    >>> idx = stratified_holdout(np.array([0] * 80 + [1] * 20), 0.1, seed=0)
    >>> len(idx), int((idx >= 80).sum())
    (10, 2)
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = int(round(len(members) * fraction))
        picked.append(rng.permutation(members)[:take])
    return np.sort(np.concatenate(picked))
