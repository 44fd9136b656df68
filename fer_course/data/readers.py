"""``load_fer2013``: one entry point for every form FER-2013 comes in.

>>> from fer_course.data import load_fer2013          # doctest: +SKIP
>>> data = load_fer2013("data/fer2013.csv")           # doctest: +SKIP
>>> data.counts()                                     # doctest: +SKIP
{'train': 28709, 'val': 3589, 'test': 3589}
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from fer_course.data.ferplus import apply_ferplus_labels, find_ferplus, missing_ferplus_message
from fer_course.data.formats import cache
from fer_course.data.formats.image_folders import (
    PAPER_VAL_FRACTION,
    file_rows,
    find_split_folders,
    read_split_folder,
    stratified_holdout,
)
from fer_course.data.formats.kaggle_csv import parse_fer_csv
from fer_course.data.guard import MAX_SKIPPED_SHARE, check_not_shrunk
from fer_course.data.locate import find_fer2013
from fer_course.data.packed import PACKED_SUFFIX, read_packed_fer
from fer_course.data.types import (
    CLASSES,
    IMAGE_SIZE,
    POSITION_ROWS_NOTE,
    SPLIT_TO_USAGE,
    USAGE_TO_SPLIT,
    FERData,
    FERFormatError,
    Split,
    from_arrays,
    legacy_rows_are_csv,
)

MAX_LISTED_SKIPS = 10
TWO_FOLDER_NOTE = ("two-folder layout: test/ merges PublicTest and PrivateTest; "
                   "val is carved from train/")
"""The note of data read from ``train/`` and ``test/`` folders (kept in their cache)."""
LABEL_SETS = ("fer2013", "ferplus")


def load_fer2013(
    path: str | os.PathLike | None = None,
    *,
    skip_bad_rows: bool = False,
    use_cache: bool = True,
    val_fraction: float = PAPER_VAL_FRACTION,
    seed: int = 0,
    labels: str = "fer2013",
    ferplus_path: str | os.PathLike | None = None,
    max_skipped_share: float = MAX_SKIPPED_SHARE,
) -> FERData:
    """Load FER-2013 from a csv, an ``.npz``, a ``.ferpack`` or an image-folder root.

    ``path=None`` looks in ``$FER2013_PATH`` and the usual places (see ``find_fer2013``).
    A csv or folder is parsed once and cached as ``.npz``; later loads read the cache.
    ``skip_bad_rows`` leaves bad csv/npz rows out and lists them in ``data.skipped``
    (and warns); by default the first bad row raises ``FERFormatError`` naming its line.
    Data cannot quietly shrink: a load that leaves a split empty, or that skips (with
    ``skip_bad_rows``) more than ``max_skipped_share`` of the rows (``MAX_SKIPPED_SHARE``,
    1 %), raises
    ``DataShrankError`` naming the file, the empty splits and the skipped lines, and writes
    no cache (see ``fer_course.data.guard``).
    ``val_fraction`` and ``seed`` only matter for a ``train``/``test`` folder layout,
    where the validation split is carved from the training images.
    ``labels="ferplus"`` relabels every image by the majority of its FER+ votes, read from
    ``ferplus_path`` (else ``$FERPLUS_PATH`` or ``data/fer2013new.csv``): images without a
    valid majority are dropped and ``Contempt`` becomes class 7 (see ``fer_course.data.ferplus``).
    FER+ is joined by csv row, so it needs ``data.rows_are_csv``: image folders whose files
    are not named by csv row (Kaggle's ``train/angry/Training_3908.jpg``) raise
    ``FERFormatError`` instead (see ``require_csv_rows``).
    """
    if labels not in LABEL_SETS:
        raise ValueError(f"labels must be one of {LABEL_SETS}, got {labels!r}")
    if not 0 <= max_skipped_share <= 1:
        raise ValueError(f"max_skipped_share must be between 0 and 1, got {max_skipped_share!r}")
    ferplus_file = None
    if labels == "ferplus":  # found before the long read, so that a missing file fails fast
        ferplus_file = find_ferplus(ferplus_path)
        if ferplus_file is None:
            raise FileNotFoundError(missing_ferplus_message())
    loaded = _load(path, skip_bad_rows, use_cache, val_fraction, seed)
    data = loaded.data
    if ferplus_file is not None:
        data = apply_ferplus_labels(data, ferplus_file)
    # the one check of every form, before the cache is written: a refused load leaves no trace
    share = max_skipped_share if skip_bad_rows and loaded.judged_rows else 1.0
    check_not_shrunk(data, loaded.source, kept=loaded.kept, max_skipped_share=share)
    loaded.save()
    if loaded.warning:
        warnings.warn(loaded.warning, stacklevel=2)
    return data


def _nothing_to_save() -> None:
    """The ``save`` of a load whose cache is off, already there, or not a cache's business."""


class _Loaded(NamedTuple):
    """What ``_load`` read, not yet checked: ``save`` writes the cache once the checks pass."""

    data: FERData
    source: Path
    kept: int  # images the read kept, before a val split was carved or labels changed
    save: Callable[[], object] = _nothing_to_save
    warning: str = ""  # said once the checks pass: the rows skipped
    judged_rows: bool = True  # False for a .ferpack, whose skipped rows an earlier load left


def _load(path: str | os.PathLike | None, skip_bad_rows: bool, use_cache: bool,
          val_fraction: float, seed: int) -> _Loaded:
    """``load_fer2013`` with FER-2013's own labels, before its checks and its cache write."""
    source = find_fer2013(path)
    save: Callable[[], object] = _nothing_to_save
    if source.suffix.lower() == PACKED_SUFFIX:  # saved FERData: nothing to parse or carve
        packed = read_packed_fer(source)
        return _Loaded(packed, source, sum(packed.counts().values()), judged_rows=False)
    if source.is_dir():
        arrays, save = _read_cached(source, "folder", False, use_cache)
    elif source.suffix.lower() == ".npz":
        arrays = read_fer_npz(source, skip_bad_rows)
    elif source.suffix.lower() == ".csv":
        arrays, save = _read_cached(source, "csv", skip_bad_rows, use_cache)
    else:
        raise FERFormatError(
            f"{source}: unsupported file type {source.suffix!r}; "
            "give a .csv, an .npz, a .ferpack or a folder"
        )
    images, labels, usage, rows, notes, skipped, rows_are_csv = arrays
    if skipped:
        listed = "; ".join(skipped[:MAX_LISTED_SKIPS])
        extra = len(skipped) - MAX_LISTED_SKIPS
        more = f" and {extra} more" if extra > 0 else ""
        notes = [*notes, f"skipped {len(skipped)} bad rows of {source.name}: {listed}{more}"]
    data = from_arrays(images, labels, usage, source=source.name, notes=notes,
                       rows_are_csv=rows_are_csv)
    data.skipped = list(skipped)
    for split in data.splits().values():
        split.rows = rows[split.rows]
    two_folders = source.is_dir() or TWO_FOLDER_NOTE in notes  # the folders or their cache
    if two_folders and len(data.val) == 0 and len(data.train):  # train/ and test/ only
        data = carve_validation(data, val_fraction, seed)
    return _Loaded(data, source, len(images), save, notes[-1] if skipped else "")


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], list[str], bool]
"""``(images, labels, usage, rows, notes, skipped, rows_are_csv)`` of a whole source."""


def _read_cached(source: Path, kind: str, skip_bad_rows: bool,
                 use_cache: bool = True) -> tuple[Arrays, Callable[[], object]]:
    """Parse a csv or folder, or read its cache when the source has not changed since.

    Returns the arrays and a ``save`` that writes the cache of a fresh parse (a no-op on a
    cache hit or with ``use_cache=False``): the caller runs it only once the load passed
    its checks, so that a refused load writes nothing.
    A cache without ``rows_are_csv`` (written before the marker existed) is used for a csv,
    whose rows are always csv rows, but not for a folder, whose rows may be positions: the
    folder is read again and the cache rewritten with the marker."""
    variant = "-skip" if skip_bad_rows else ""
    fingerprint = cache.source_fingerprint(source)
    hit = cache.find_cache(source, fingerprint, variant) if use_cache else None
    if hit is not None:
        with np.load(hit) as z:
            if "rows_are_csv" in z or kind == "csv":
                notes = [str(n) for n in z["notes"]]
                skipped = [str(n) for n in z["skipped"]] if "skipped" in z else []
                rows_are_csv = bool(z["rows_are_csv"]) if "rows_are_csv" in z else True
                return (z["images"], z["labels"], z["usage"], z["rows"], notes, skipped,
                        rows_are_csv), _nothing_to_save
    if kind == "csv":
        parsed = parse_fer_csv(source, skip_bad_rows=skip_bad_rows)
        arrays: Arrays = (parsed.images, parsed.labels, parsed.usage, parsed.rows, [],
                          parsed.skipped, True)
    else:
        arrays = read_folder_arrays(source)
    if not use_cache:
        return arrays, _nothing_to_save

    def save() -> Path | None:
        images, labels, usage, rows, notes, skipped, rows_are_csv = arrays
        return cache.write_cache(source, images, labels, usage, rows, notes, fingerprint,
                                 variant, skipped=skipped, rows_are_csv=rows_are_csv)

    return arrays, save


def read_folder_arrays(root: Path) -> Arrays:
    """Whole-data-set arrays from an image-folder root (``data.formats.image_folders``).

    Files named by csv row (``<row>.png``) keep their rows (``rows_are_csv`` true); any
    other names give folder positions (false), and a note says so."""
    folders = find_split_folders(root)
    read = {split: read_split_folder(folder) for split, folder in folders.items()}
    rows_per_split, rows_are_csv = file_rows([names for _, _, names, _ in read.values()])
    parts, notes = [], []
    ignored = sum(n_ignored for *_, n_ignored in read.values())
    for (split, (images, labels, _, _)), rows in zip(read.items(), rows_per_split):
        order = np.argsort(rows, kind="stable")  # files named by csv row: back in csv order
        usage = np.full(len(labels), SPLIT_TO_USAGE[split])
        parts.append((images[order], labels[order], usage, rows[order]))
    if "val" not in folders:
        notes.append(TWO_FOLDER_NOTE)
    if ignored:
        notes.append(f"passed over {ignored} non-image files under {root.name}/")
    if not rows_are_csv:
        notes.append(POSITION_ROWS_NOTE)
    images, labels, usage, rows = (np.concatenate(a) for a in zip(*parts))
    return images, labels, usage, rows, notes, [], rows_are_csv


def read_fer_npz(path: Path, skip_bad_rows: bool = False) -> Arrays:
    """Arrays of an ``.npz`` holding ``images`` uint8 [N,48,48], ``labels`` [N], ``usage`` [N]
    (the form of the package's cache and of a plain ``numpy.savez`` export).

    ``rows_are_csv`` comes from the file's ``rows_are_csv`` array when it has one. Without
    it, a plain export (no ``source``) is in csv order, so its positions are csv rows; a
    cache written before the marker existed is trusted only when its ``source`` is a csv
    (``legacy_rows_are_csv``), since an image folder's rows may be folder positions."""
    try:
        z = np.load(path)
    except (OSError, ValueError) as err:
        raise FERFormatError(f"{path}: cannot read as .npz ({err})") from err
    with z:
        missing = [k for k in cache.CACHE_KEYS if k not in z.files]
        if missing:
            raise FERFormatError(f"{path}: lacks array(s) {missing}; it holds {z.files}")
        images, labels, usage = z["images"], z["labels"], z["usage"].astype(str)
        rows = z["rows"] if "rows" in z.files else np.arange(len(labels), dtype=np.int64)
        notes = [str(n) for n in z["notes"]] if "notes" in z.files else []
        skipped = [str(n) for n in z["skipped"]] if "skipped" in z.files else []
        if "rows_are_csv" in z.files:
            rows_are_csv = bool(z["rows_are_csv"])
        else:
            rows_are_csv = "source" not in z.files or legacy_rows_are_csv(str(z["source"]))
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE,) * 2:
        raise FERFormatError(
            f"{path}: images must be uint8 [N, 48, 48], got {images.dtype} {list(images.shape)}"
        )
    if labels.shape != (len(images),) or usage.shape != (len(images),):
        raise FERFormatError(
            f"{path}: labels {list(labels.shape)} and usage {list(usage.shape)} must both be "
            f"[{len(images)}], one per image"
        )
    bad_label = (labels < 0) | (labels >= len(CLASSES))
    bad_usage = ~np.isin(usage, list(USAGE_TO_SPLIT))
    bad = np.flatnonzero(bad_label | bad_usage)
    for row in bad:
        reason = (
            f"label {labels[row]} outside 0-{len(CLASSES) - 1}" if bad_label[row]
            else f"unknown Usage {usage[row]!r} (expected Training, PublicTest or PrivateTest)"
        )
        if not skip_bad_rows:
            raise FERFormatError(f"{path}: row {row}: {reason}")
        skipped.append(f"row {row}: {reason}")
    keep = np.setdiff1d(np.arange(len(images)), bad)
    if len(bad):
        images, labels, usage, rows = images[keep], labels[keep], usage[keep], rows[keep]
    return images, labels.astype(np.int64), usage, rows, notes, skipped, rows_are_csv


def carve_validation(data: FERData, fraction: float, seed: int) -> FERData:
    """Move a stratified, seeded ``fraction`` of ``train`` into ``val`` (layouts without val)."""
    held = stratified_holdout(data.train.labels.numpy(), fraction, seed)
    kept = np.setdiff1d(np.arange(len(data.train)), held)

    def take(idx: np.ndarray) -> Split:
        t = torch.from_numpy(idx)
        return Split(data.train.images[t], data.train.labels[t], data.train.rows[idx])

    note = (
        f"val: {len(held):,} images carved from train/ ({fraction:.1%}, stratified by class, "
        f"seed {seed}); test: {len(data.test):,} images (PublicTest and PrivateTest merged)"
    )
    return FERData(
        train=take(kept), val=take(held), test=data.test, classes=data.classes,
        source=data.source, notes=[*data.notes, note], skipped=data.skipped,
        rows_are_csv=data.rows_are_csv,
    )
