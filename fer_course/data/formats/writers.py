"""Save any ``FERData`` in the file formats FER-2013 is shared in.

The tests use these to run the real readers on real formats, and a chapter can
use them to export a cleaned data set. Every writer puts the rows in csv order
(all splits together, sorted by ``Split.rows``) and writes atomically: a half
written file or folder never appears under the final name.

Data whose rows are folder positions (``FERData.rows_are_csv`` false) never comes back
from these files looking like csv rows: its image files are named ``position_<row>``,
not ``<row>``, its npz says ``rows_are_csv=False``, and a csv of it warns (a csv cannot say).

>>> import tempfile
>>> from fer_course.data.synthetic import make_synthetic_fer
>>> d = make_synthetic_fer(14, 7, 7, with_flaws=False)
>>> folder = Path(tempfile.mkdtemp())
>>> write_kaggle_csv(d, folder / "fer2013.csv").name
'fer2013.csv'
>>> sorted(p.name for p in write_image_folders(d, folder / "images").iterdir())
['test', 'train', 'val']
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from fer_course.atomic import atomic_open
from fer_course.data.types import SPLIT_TO_USAGE, FERData

CSV_HEADERS: dict[str, list[str]] = {
    "fer2013": ["emotion", "pixels", "Usage"],
    # Kaggle's icml_face_data.csv really has a space before the second and third names.
    "icml": ["emotion", " Usage", " pixels"],
}


def rows_in_csv_order(data: FERData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, images, labels, usage)`` of all splits together, sorted by row.

    >>> from fer_course.data.synthetic import make_synthetic_fer
    >>> rows, images, labels, usage = rows_in_csv_order(make_synthetic_fer(14, 7, 7))
    >>> images.shape, str(usage[0]), str(usage[-1])
    ((28, 48, 48), 'Training', 'PrivateTest')
    """
    rows, images, labels, usage = [], [], [], []
    for name, split in data.splits().items():
        rows.append(np.asarray(split.rows, dtype=np.int64))
        images.append(split.images.numpy())
        labels.append(split.labels.numpy())
        usage.append(np.full(len(split), SPLIT_TO_USAGE[name]))
    all_rows = np.concatenate(rows)
    order = np.argsort(all_rows, kind="stable")
    return (all_rows[order], np.concatenate(images)[order], np.concatenate(labels)[order],
            np.concatenate(usage)[order])


def write_kaggle_csv(
    data: FERData, path: str | os.PathLike, variant: Literal["fer2013", "icml"] = "fer2013"
) -> Path:
    """Write a Kaggle-style csv: one image a row, pixels as 2304 space-separated ints.

    ``variant="fer2013"`` writes ``fer2013.csv`` (columns ``emotion,pixels,Usage``);
    ``variant="icml"`` writes ``icml_face_data.csv`` (columns ``emotion, Usage, pixels``).

    >>> import tempfile
    >>> from fer_course.data.synthetic import make_synthetic_fer
    >>> out = Path(tempfile.mkdtemp()) / "icml_face_data.csv"
    >>> _ = write_kaggle_csv(make_synthetic_fer(14, 7, 7), out, variant="icml")
    >>> out.read_text().splitlines()[0]
    'emotion, Usage, pixels'
    """
    if variant not in CSV_HEADERS:
        raise ValueError(f"variant must be one of {sorted(CSV_HEADERS)}, got {variant!r}")
    path = Path(path)
    if not data.rows_are_csv:
        warnings.warn(f"{path.name}: the rows of {data.source} are folder positions, not "
                      "fer2013.csv rows, so this csv is in folder order: do not join FER+ "
                      "votes or stored predictions to it by row", UserWarning, stacklevel=2)
    _, images, labels, usage = rows_in_csv_order(data)
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_HEADERS[variant])
        for image, label, use in zip(images, labels, usage, strict=True):
            pixels = " ".join(map(str, image.ravel().tolist()))
            writer.writerow([int(label), pixels, use] if variant == "fer2013"
                            else [int(label), use, pixels])
    return path


def write_image_folders(
    data: FERData,
    root: str | os.PathLike,
    layout: Literal["three", "two"] = "three",
    class_names: Literal["names", "digits"] = "names",
    ext: Literal["png", "jpg"] = "png",
) -> Path:
    """Write one grayscale image file per image, in class folders: ``root/<split>/<class>/``.

    ``layout="three"``: ``train``, ``val`` and ``test`` folders. ``layout="two"``:
    ``train`` and ``test``, where ``test`` holds val and test together (PublicTest and
    PrivateTest), as in the popular Kaggle image-folder copy of FER-2013.
    Class folders are ``angry`` ... ``neutral`` (``"names"``) or ``0`` ... ``6``
    (``"digits"``). Files are named by their zero-padded row, e.g. ``00042.png``; when the
    rows are folder positions (``data.rows_are_csv`` false), ``position_00042.png``, so
    that reading the folders back does not take them for csv rows.
    ``jpg`` is lossy, so its pixels come back close to, not equal to, the originals.
    ``root`` must not exist yet or be empty; the tree is built next to it and
    renamed into place when complete.

    >>> import tempfile
    >>> from fer_course.data.synthetic import make_synthetic_fer
    >>> root = write_image_folders(make_synthetic_fer(14, 7, 7), Path(tempfile.mkdtemp()) / "f",
    ...                            layout="two", class_names="digits")
    >>> sorted(p.name for p in (root / "test").iterdir())
    ['0', '1', '2', '3', '4', '5', '6']
    """
    layouts = {"three": {"train": "train", "val": "val", "test": "test"},
               "two": {"train": "train", "val": "test", "test": "test"}}
    if layout not in layouts:
        raise ValueError(f"layout must be 'three' or 'two', got {layout!r}")
    if class_names not in ("names", "digits"):
        raise ValueError(f"class_names must be 'names' or 'digits', got {class_names!r}")
    if ext not in ("png", "jpg"):
        raise ValueError(f"ext must be 'png' or 'jpg', got {ext!r}")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; write image folders into a new folder")
    folders = ([c.lower() for c in data.classes] if class_names == "names"
               else [str(i) for i in range(len(data.classes))])
    all_rows = np.concatenate([np.asarray(s.rows) for s in data.splits().values()])
    width = max(5, len(str(int(all_rows.max())))) if len(all_rows) else 5
    prefix = "" if data.rows_are_csv else "position_"

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.", suffix=".tmp"))
    try:
        for split_name, split in data.splits().items():
            split_dir = tmp / layouts[layout][split_name]
            for folder in folders:
                (split_dir / folder).mkdir(parents=True, exist_ok=True)
            for image, label, row in zip(split.images.numpy(), split.labels.tolist(),
                                         split.rows, strict=True):
                target = split_dir / folders[label] / f"{prefix}{int(row):0{width}d}.{ext}"
                Image.fromarray(np.ascontiguousarray(image)).save(target, quality=95)
        tmp.chmod(0o755)  # mkdtemp makes folders private
        os.replace(tmp, root)  # replaces an empty root too
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def write_npz(data: FERData, path: str | os.PathLike) -> Path:
    """Write ``images`` uint8 ``[N, 48, 48]``, ``labels`` int64 ``[N]`` and ``usage`` str ``[N]``.

    Rows are in csv order, compressed, loadable without ``allow_pickle``: the
    layout of the shared ``fer2013.npz``. Data whose rows are folder positions gets a fourth
    array, ``rows_are_csv`` (``False``), so that it is not read back as csv rows.

    >>> import tempfile
    >>> from fer_course.data.synthetic import make_synthetic_fer
    >>> out = write_npz(make_synthetic_fer(14, 7, 7), Path(tempfile.mkdtemp()) / "s.npz")
    >>> sorted(np.load(out).files)
    ['images', 'labels', 'usage']
    """
    path = Path(path)
    _, images, labels, usage = rows_in_csv_order(data)
    marker = {} if data.rows_are_csv else {"rows_are_csv": np.array(False)}
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(handle, images=images.astype(np.uint8),
                            labels=labels.astype(np.int64), usage=usage.astype(str), **marker)
    return path
