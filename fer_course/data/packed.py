"""FER-2013 packed small and lossless (``.ferpack``), to carry it where every MiB counts.

The 35,887 images take 82.7 MB raw and 78 MB as a compressed ``.npz``; packed they
take 50.4 MiB, so the data set fits through a 64 MiB transfer with the course's
source. Images are stored once per distinct picture (FER-2013 repeats 1,853 of them)
as lossless WebP strips, 48 pixels wide and up to 341 images tall. Of the options
measured this was the smallest and the fastest to read (1.3-1.9 s); lzma of
MED-predicted pixels came close (51.0 MiB) but decodes several times slower, and a
PNG or WebP mosaic, or lzma with a delta filter, took 53-55 MiB. Labels, csv rows,
split sizes, classes, source, notes, skipped rows and ``rows_are_csv`` are kept, so
``read_packed_fer(write_packed_fer(d, p))`` equals ``d``.

Layout: ``FERPACK\\0``, the JSON header's length and CRC-32 (little-endian uint32
each), the utf-8 JSON header, an xz section (labels, rows and each image's place among the
distinct ones, all int64), then the WebP strips. The header holds each section's size
and CRC-32 and a sha256 of all pixels, so a truncated or damaged file fails with a
``FERFormatError`` that names it.

>>> import tempfile
>>> from fer_course.data.synthetic import make_synthetic_fer
>>> d = make_synthetic_fer(14, 7, 7)
>>> p = write_packed_fer(d, Path(tempfile.mkdtemp()) / "fer2013.ferpack", effort="fast")
>>> back = read_packed_fer(p)
>>> back.counts(), bool((back.test.images == d.test.images).all()), back.source
({'train': 14, 'val': 7, 'test': 7}, True, 'synthetic (seed 0)')

From a shell: ``python -m fer_course.data.packed data/fer2013.npz .gpu_data/fer2013.ferpack``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import os
import struct
import sys
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fer_course.atomic import atomic_open
from fer_course.data.types import (
    IMAGE_SIZE,
    SPLITS,
    FERData,
    FERFormatError,
    Split,
    legacy_rows_are_csv,
)

PACKED_SUFFIX = ".ferpack"
MAGIC = b"FERPACK\x00"
FORMAT_VERSION = 1
CODEC = "webp-lossless-strips"
STRIP_IMAGES = 341
"""Images per WebP strip: 341 x 48 = 16,368 rows, under WebP's 16,383-pixel limit."""
EFFORTS: dict[str, tuple[int, int]] = {"fast": (50, 0), "default": (100, 4), "max": (100, 6)}
"""WebP (quality, method) per effort. On FER-2013, ``max`` is 2% smaller than ``default``
(50.4 against 51.4 MiB) and ten times slower to write (about 13 CPU minutes); ``fast``
writes in seconds but is about 40% larger. Every effort is lossless."""
_LENGTH = struct.Struct("<II")  # header length, header CRC-32
_HEADER_KEYS = ("classes", "source", "notes", "skipped", "counts", "index", "strips",
                "images_sha256")


def distinct_images(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct images in first-seen order, and each image's index among them.

    >>> imgs = np.array([[[1]], [[2]], [[1]]], dtype=np.uint8)
    >>> unique, where = distinct_images(imgs)
    >>> len(unique), where.tolist()
    (2, [0, 1, 0])
    """
    seen: dict[bytes, int] = {}
    where = np.fromiter(
        (seen.setdefault(image.tobytes(), len(seen)) for image in images),
        dtype=np.int64, count=len(images),
    )
    first = np.unique(where, return_index=True)[1]
    return images[first], where


def encode_strip(images: np.ndarray, effort: str = "max") -> bytes:
    """Lossless WebP of images stacked into one 48-pixel-wide strip.

    >>> blob = encode_strip(np.zeros((2, 48, 48), np.uint8), "fast")
    >>> blob[:4], blob[8:12]
    (b'RIFF', b'WEBP')
    """
    quality, method = EFFORTS[effort]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(images).reshape(-1, IMAGE_SIZE)).save(
        buffer, format="WEBP", lossless=True, quality=quality, method=method
    )
    return buffer.getvalue()


def decode_strip(blob: bytes, count: int) -> np.ndarray:
    """The ``count`` images of a strip from ``encode_strip``, uint8 ``[count, 48, 48]``.

    >>> imgs = np.arange(2 * 48 * 48).reshape(2, 48, 48).astype(np.uint8)
    >>> bool((decode_strip(encode_strip(imgs, "fast"), 2) == imgs).all())
    True
    """
    with Image.open(io.BytesIO(blob)) as image:
        if image.format != "WEBP" or image.size != (IMAGE_SIZE, IMAGE_SIZE * count):
            raise ValueError(f"expected a {IMAGE_SIZE}x{IMAGE_SIZE * count} WebP, got "
                             f"{image.format} {image.size[0]}x{image.size[1]}")
        pixels = np.asarray(image)
    if pixels.ndim == 3:  # grey is stored as equal R, G and B
        pixels = pixels[:, :, 0]
    return np.ascontiguousarray(pixels).reshape(count, IMAGE_SIZE, IMAGE_SIZE)


def _map_threads(function, items: list) -> list:
    """``[function(item) ...]`` on a few threads (Pillow lets go of the GIL for WebP)."""
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(function, items))


def _all_splits(data: FERData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, labels and rows of train, val and test, one after the other."""
    splits = [data.splits()[name] for name in SPLITS]
    images = np.concatenate([s.images.numpy() for s in splits])
    labels = np.concatenate([s.labels.numpy() for s in splits]).astype("<i8")
    rows = np.concatenate([np.asarray(s.rows).reshape(-1) for s in splits]).astype("<i8")
    return np.ascontiguousarray(images), labels, rows


def _section(blob: bytes) -> dict[str, int]:
    return {"bytes": len(blob), "crc32": zlib.crc32(blob)}


def write_packed_fer(data: FERData, path: str | os.PathLike, effort: str = "max") -> Path:
    """Write ``data`` as a ``.ferpack`` file, atomically; ``effort`` is a key of ``EFFORTS``.

    >>> import tempfile
    >>> from fer_course.data.synthetic import make_synthetic_fer
    >>> d = make_synthetic_fer(14, 7, 7)
    >>> p = write_packed_fer(d, Path(tempfile.mkdtemp()) / "s.ferpack", effort="fast")
    >>> p.read_bytes()[:8]
    b'FERPACK\\x00'
    """
    if effort not in EFFORTS:
        raise ValueError(f"effort must be one of {sorted(EFFORTS)}, got {effort!r}")
    path = Path(path)
    images, labels, rows = _all_splits(data)
    unique, where = distinct_images(images)
    index = lzma.compress(labels.tobytes() + rows.tobytes() + where.tobytes(),
                          preset=9 | lzma.PRESET_EXTREME)
    starts = range(0, len(unique), STRIP_IMAGES)
    strips = _map_threads(lambda i: encode_strip(unique[i:i + STRIP_IMAGES], effort), starts)
    header = {
        "format": "ferpack", "version": FORMAT_VERSION, "codec": CODEC,
        "classes": list(data.classes), "source": data.source,
        "notes": list(data.notes), "skipped": list(data.skipped),
        "rows_are_csv": bool(data.rows_are_csv),
        "counts": {name: len(data.splits()[name]) for name in SPLITS},
        "distinct": len(unique), "index": _section(index),
        "strips": [{**_section(s), "images": len(unique[i:i + STRIP_IMAGES])}
                   for i, s in zip(starts, strips)],
        "images_sha256": hashlib.sha256(images).hexdigest(),
    }
    head = json.dumps(header, ensure_ascii=False).encode("utf-8")
    with atomic_open(path, "wb") as handle:
        for part in (MAGIC, _LENGTH.pack(len(head), zlib.crc32(head)), head, index, *strips):
            handle.write(part)
    return path


def _read_header(blob: bytes, path: Path) -> tuple[dict, int]:
    """The JSON header of a packed file's bytes, and where the sections start."""
    if not blob.startswith(MAGIC):
        raise FERFormatError(f"{path}: not a packed FER-2013 file (it does not start "
                             f"with {MAGIC!r}); write one with write_packed_fer")
    start = len(MAGIC) + _LENGTH.size
    if len(blob) < start:
        raise FERFormatError(f"{path}: truncated: {len(blob)} bytes, shorter than its header")
    length, crc = _LENGTH.unpack_from(blob, len(MAGIC))
    if len(blob) < start + length:
        raise FERFormatError(f"{path}: truncated: {len(blob):,} bytes, but its header "
                             f"alone needs {start + length:,}")
    if zlib.crc32(blob[start:start + length]) != crc:
        raise FERFormatError(f"{path}: corrupt header (CRC-32 mismatch)")
    try:
        header = json.loads(blob[start:start + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FERFormatError(f"{path}: corrupt header ({err})") from err
    if not isinstance(header, dict) or any(key not in header for key in _HEADER_KEYS):
        raise FERFormatError(f"{path}: header lacks some of {list(_HEADER_KEYS)}")
    if header.get("version") != FORMAT_VERSION or header.get("codec") != CODEC:
        raise FERFormatError(f"{path}: format version {header.get('version')} codec "
                             f"{header.get('codec')!r}; this reader knows version "
                             f"{FORMAT_VERSION} {CODEC!r}")
    return header, start + length


def _sections(blob: bytes, header: dict, offset: int, path: Path) -> list[bytes]:
    """The index and strip sections, each checked against its size and CRC-32."""
    specs = [header["index"], *header["strips"]]
    expected = offset + sum(spec["bytes"] for spec in specs)
    if len(blob) != expected:
        what = "truncated" if len(blob) < expected else "has trailing bytes"
        raise FERFormatError(f"{path}: {what}: {len(blob):,} bytes, expected {expected:,}")
    parts = []
    for number, spec in enumerate(specs):
        part = blob[offset:offset + spec["bytes"]]
        offset += spec["bytes"]
        if zlib.crc32(part) != spec["crc32"]:
            name = "index" if number == 0 else f"image strip {number - 1}"
            raise FERFormatError(f"{path}: corrupt {name} (CRC-32 mismatch)")
        parts.append(part)
    return parts


def _decode(header: dict, parts: list[bytes], path: Path) -> tuple[np.ndarray, ...]:
    """All images, labels and rows, in split order, checked against the header."""
    total = sum(header["counts"].values())
    try:
        index = np.frombuffer(lzma.decompress(parts[0]), dtype="<i8").reshape(3, total)
        counts = [strip["images"] for strip in header["strips"]]
        unique = np.concatenate(
            [np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8),
             *_map_threads(lambda pair: decode_strip(*pair), list(zip(parts[1:], counts)))]
        )
        images = unique[index[2]]
    except (lzma.LZMAError, ValueError, OSError, IndexError) as err:
        raise FERFormatError(f"{path}: cannot decode ({err})") from err
    if hashlib.sha256(images).hexdigest() != header["images_sha256"]:
        raise FERFormatError(f"{path}: decoded pixels do not match the stored sha256")
    return images, index[0], index[1]


def read_packed_fer(path: str | os.PathLike) -> FERData:
    """Read a file written by ``write_packed_fer``; damage raises ``FERFormatError``.

    A file written before ``rows_are_csv`` was stored gets it from ``legacy_rows_are_csv``:
    true when its data came from a csv, npz or ferpack (or is synthetic), false when from an
    image folder, whose rows may be folder positions.

    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "bad.ferpack"
    >>> _ = bad.write_bytes(b"FERPACK\\x00\\x10")
    >>> try:
    ...     read_packed_fer(bad)
    ... except FERFormatError as err:
    ...     print(str(err).split(": ", 1)[1])
    truncated: 9 bytes, shorter than its header
    """
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as err:
        raise FERFormatError(f"{path}: cannot read ({err})") from err
    header, offset = _read_header(blob, path)
    images, labels, rows = _decode(header, _sections(blob, header, offset, path), path)
    splits, start = {}, 0
    for name in SPLITS:
        end = start + header["counts"][name]
        splits[name] = Split(torch.from_numpy(images[start:end].copy()),
                             torch.from_numpy(labels[start:end].astype(np.int64)),
                             rows[start:end].astype(np.int64))
        start = end
    rows_are_csv = header.get("rows_are_csv")
    if not isinstance(rows_are_csv, bool):
        rows_are_csv = legacy_rows_are_csv(str(header["source"]))
    return FERData(**splits, classes=tuple(header["classes"]), source=header["source"],
                   notes=list(header["notes"]), skipped=list(header["skipped"]),
                   rows_are_csv=rows_are_csv)


def same_fer_data(a: FERData, b: FERData) -> bool:
    """Whether two ``FERData`` hold the same images, labels and rows per split, and the same
    classes, source, notes, skipped rows and ``rows_are_csv``.

    >>> from fer_course.data.synthetic import make_synthetic_fer
    >>> same_fer_data(make_synthetic_fer(14, 7, 7), make_synthetic_fer(14, 7, 7, seed=1))
    False
    """
    if (tuple(a.classes), a.source, list(a.notes), list(a.skipped), a.rows_are_csv) != (
            tuple(b.classes), b.source, list(b.notes), list(b.skipped), b.rows_are_csv):
        return False
    return all(
        torch.equal(x.images, y.images) and torch.equal(x.labels, y.labels)
        and np.array_equal(np.asarray(x.rows), np.asarray(y.rows))
        for x, y in zip(a.splits().values(), b.splits().values())
    )


def _mib(path: Path) -> str:
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() \
        else path.stat().st_size
    return f"{size / 2**20:.2f} MiB"


def main(argv: Sequence[str] | None = None) -> int:
    """Pack any FER-2013 form that ``load_fer2013`` reads; check the result; print sizes."""
    parser = argparse.ArgumentParser(prog="python -m fer_course.data.packed",
                                     description=main.__doc__)
    parser.add_argument("input", type=Path, help="a FER-2013 csv, .npz, .ferpack or folder")
    parser.add_argument("output", type=Path, help=f"the file to write, e.g. fer2013{PACKED_SUFFIX}")
    parser.add_argument("--effort", choices=sorted(EFFORTS), default="max",
                        help="WebP effort: max is smallest, fast is quickest (default: max)")
    args = parser.parse_args(argv)
    from fer_course.data.readers import load_fer2013  # the command packs any form it reads

    data = load_fer2013(args.input)
    started = time.perf_counter()
    write_packed_fer(data, args.output, effort=args.effort)
    written = time.perf_counter()
    back = read_packed_fer(args.output)
    read = time.perf_counter()
    same = same_fer_data(back, data)
    print(f"{args.input} ({_mib(args.input)}) -> {args.output} ({_mib(args.output)}): "
          f"{data.summary()}; written in {written - started:.1f} s, read back in "
          f"{read - written:.2f} s, {'identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
