"""The package's own ``.npz`` cache: a parsed source saved once, loaded in well under 2 s.

A cache entry is keyed on the source's name, size and modification time (for a folder:
on every image's name, size and time), so an edited source is parsed again. It lives in
``.fer_course_cache/`` beside the source, or in ``~/.cache/fer_course`` when that folder
cannot be written (a read-only data mount, for example).

Besides the arrays it stores ``rows_are_csv`` (see ``FERData``). A cache written before
that marker existed is still used for a csv (its rows are csv rows by construction); for
an image folder it is passed over and the folder read again, since its rows may be folder
positions (``readers._read_cached``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from fer_course.atomic import atomic_open

CACHE_FORMAT = 1
CACHE_DIR_NAME = ".fer_course_cache"
CACHE_KEYS = ("images", "labels", "usage")


def source_fingerprint(source: Path) -> str:
    """A short hash of what the source is now: size and mtime of the file or of each image.

    >>> import tempfile; p = Path(tempfile.mkdtemp()) / "a.csv"; _ = p.write_text("x")
    >>> len(source_fingerprint(p))
    16
    """
    digest = hashlib.sha256(f"format {CACHE_FORMAT}".encode())
    files = sorted(source.rglob("*")) if source.is_dir() else [source]
    for f in files:
        if f.is_file():
            st = f.stat()
            digest.update(f"{f.relative_to(source.parent)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def cache_path(source: Path, fingerprint: str, variant: str = "") -> Path:
    """Where the cache of ``source`` is written (the file may not exist yet)."""
    name = f"{source.name}{variant}-{fingerprint}.npz"
    beside = source.parent / CACHE_DIR_NAME
    if _writable(beside):
        return beside / name
    return Path.home() / ".cache" / "fer_course" / name


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> Path:
    """Write an uncompressed ``.npz`` atomically: a killed write never leaves a broken file."""
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def write_cache(
    source: Path,
    images: np.ndarray,
    labels: np.ndarray,
    usage: np.ndarray,
    rows: np.ndarray,
    notes: list[str],
    fingerprint: str,
    variant: str = "",
    skipped: list[str] | None = None,
    rows_are_csv: bool = True,
) -> Path | None:
    """Save a parsed source; drop older caches of the same file. ``None`` if nowhere writable.
    ``rows_are_csv``: whether ``rows`` are csv rows or folder positions (see ``FERData``)."""
    target = cache_path(source, fingerprint, variant)
    try:
        save_npz_atomic(
            target, images=images, labels=labels, usage=usage.astype("<U11"), rows=rows,
            notes=np.array(notes, dtype=str), skipped=np.array(skipped or [], dtype=str),
            source=np.array(source.name), rows_are_csv=np.array(bool(rows_are_csv)),
        )
    except OSError:
        return None
    for old in target.parent.glob(f"{source.name}{variant}-*.npz"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def find_cache(source: Path, fingerprint: str, variant: str = "") -> Path | None:
    """The cache of ``source`` if one matches its current fingerprint."""
    for folder in (source.parent / CACHE_DIR_NAME, Path.home() / ".cache" / "fer_course"):
        candidate = folder / f"{source.name}{variant}-{fingerprint}.npz"
        if candidate.is_file():
            return candidate
    return None
