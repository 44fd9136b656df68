"""Parse FER-2013 csv files: Kaggle's ``fer2013.csv`` and the ``icml_face_data.csv`` variant.

Both hold one image per line: an ``emotion`` label 0-6, 2,304 space-separated pixels and a
``Usage`` (Training, PublicTest, PrivateTest). Column order and leading spaces in the header
differ between the two; columns are found by name.
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_course.data.types import CLASSES, IMAGE_SIZE, USAGE_TO_SPLIT, FERFormatError

N_PIXELS = IMAGE_SIZE * IMAGE_SIZE
REQUIRED_COLUMNS = ("emotion", "pixels", "usage")


@dataclass
class ParsedCsv:
    """Whole-file arrays in row order, plus the lines that were skipped and why."""

    images: np.ndarray  # uint8 [N, 48, 48]
    labels: np.ndarray  # int64 [N]
    usage: np.ndarray  # str [N]
    rows: np.ndarray  # data row (0-based, header excluded) of each kept image
    skipped: list[str] = field(default_factory=list)  # "line 12: label '9' outside 0-6"


def _diagnose_pixels(text: str) -> str:
    """Say exactly what is wrong with a pixel string that did not parse as 2,304 values."""
    tokens = text.split()
    for position, token in enumerate(tokens, start=1):
        if not token.isdigit():
            return f"pixel {position} is {token!r}, not a whole number 0-255"
        if int(token) > 255:
            return f"pixel {position} is {token}, outside 0-255"
    return f"expected {N_PIXELS} pixels, got {len(tokens)}"


def parse_pixels(text: str) -> np.ndarray | str:
    """2,304 pixels as uint8 ``[48, 48]``, or a string saying why they are not valid.

    >>> parse_pixels(" ".join(["7"] * 2304)).shape
    (48, 48)
    >>> parse_pixels("1 2 x")
    "pixel 3 is 'x', not a whole number 0-255"
    """
    try:
        with warnings.catch_warnings():
            # numpy warns (and stops early) on a token it cannot read; make that an error
            warnings.simplefilter("error", DeprecationWarning)
            values = np.fromstring(text, dtype=np.int32, sep=" ")
    except ValueError:
        return _diagnose_pixels(text)
    if values.size != N_PIXELS or values.min() < 0 or values.max() > 255:
        return _diagnose_pixels(text)
    return values.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE)


def _column_indices(header: list[str], path: Path) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise FERFormatError(
            f"{path}: line 1: the header {header} lacks column(s) {missing}; expected "
            "'emotion,pixels,Usage' (fer2013.csv) or 'emotion, Usage, pixels' (icml_face_data.csv)"
        )
    return {c: names.index(c) for c in REQUIRED_COLUMNS}


def _check_row(row: list[str], cols: dict[str, int]) -> tuple[int, np.ndarray, str] | str:
    """(label, image, usage) of one csv row, or the reason it is bad."""
    if len(row) <= max(cols.values()):
        return f"expected {len(cols)} columns, got {len(row)}"
    label_text = row[cols["emotion"]].strip()
    if not label_text.isdigit() or int(label_text) >= len(CLASSES):
        return f"label {label_text!r} outside 0-{len(CLASSES) - 1}"
    usage = row[cols["usage"]].strip()
    if usage not in USAGE_TO_SPLIT:
        return f"unknown Usage {usage!r} (expected Training, PublicTest or PrivateTest)"
    image = parse_pixels(row[cols["pixels"]])
    if isinstance(image, str):
        return image
    return int(label_text), image, usage


def parse_fer_csv(path: str | Path, skip_bad_rows: bool = False) -> ParsedCsv:
    """Read a FER-2013 csv. A bad row raises ``FERFormatError`` naming file and line,
    unless ``skip_bad_rows``: then it is left out and listed in ``ParsedCsv.skipped``.
    (``load_fer2013`` then refuses a result with an empty split or too many skipped rows:
    see ``fer_course.data.guard``.)

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny.csv"
    >>> _ = p.write_text("emotion,pixels,Usage\\n3," + " ".join(["9"] * 2304) + ",Training\\n")
    >>> parse_fer_csv(p).labels
    array([3])
    """
    path = Path(path)
    images, labels, usages, rows, skipped = [], [], [], [], []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise FERFormatError(f"{path}: the file is empty")
        cols = _column_indices(header, path)
        for data_row, row in enumerate(reader):
            if not row:  # a blank line (often the last one) holds no image
                continue
            checked = _check_row(row, cols)
            if isinstance(checked, str):
                message = f"line {reader.line_num}: {checked}"
                if not skip_bad_rows:
                    raise FERFormatError(
                        f"{path}: {message} (pass skip_bad_rows=True to skip such rows)"
                    )
                skipped.append(message)
                continue
            label, image, usage = checked
            images.append(image)
            labels.append(label)
            usages.append(usage)
            rows.append(data_row)
    if not images:
        raise FERFormatError(f"{path}: no valid image rows ({len(skipped)} bad rows)")
    return ParsedCsv(
        images=np.stack(images), labels=np.array(labels, dtype=np.int64),
        usage=np.array(usages), rows=np.array(rows, dtype=np.int64), skipped=skipped,
    )
