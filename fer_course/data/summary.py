"""A data check for a command line: what a FER-2013 source holds, as text or as numbers.

``data_summary(path)`` loads the data (``load_fer2013``, so every check of a load runs)
and returns plain numbers, ready for ``json.dumps``; ``describe_data(path)`` returns the
same as a short readable text; ``summary_text`` turns a summary into that text, so that a
command line can print either without loading twice.

>>> import tempfile
>>> from pathlib import Path
>>> from fer_course.data import make_synthetic_fer, write_kaggle_csv
>>> csv_file = write_kaggle_csv(make_synthetic_fer(70, 14, 14), Path(tempfile.mkdtemp()) / "s.csv")
>>> data_summary(csv_file)["counts"]
{'train': 70, 'val': 14, 'test': 14}
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from fer_course.data.formats.image_folders import find_split_folders
from fer_course.data.guard import MAX_SKIPPED_SHARE
from fer_course.data.locate import find_fer2013
from fer_course.data.readers import load_fer2013
from fer_course.data.types import FERFormatError

MAX_SHOWN_SKIPS = 5
"""How many skipped rows the text lists one by one (the summary keeps them all)."""


def data_form(source: Path) -> str:
    """What form the data at ``source`` has, in words (the header decides for a csv).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "icml_face_data.csv"
    >>> _ = p.write_text("emotion, Usage, pixels\\n")
    >>> data_form(p)
    'csv, icml_face_data.csv layout (emotion, Usage, pixels)'
    """
    suffix = source.suffix.lower()
    if source.is_dir():
        try:
            splits = list(find_split_folders(source))
        except FERFormatError:
            return "image folders"
        if "val" in splits:
            return "image folders (train/, val/, test/)"
        return "image folders (train/ and test/; val carved from train/)"
    if suffix == ".csv":
        with source.open(newline="", encoding="utf-8") as f:
            header = [h.strip().lower() for h in next(csv.reader(f), [])]
        if header[:3] == ["emotion", "pixels", "usage"]:
            return "csv, fer2013.csv layout (emotion, pixels, Usage)"
        if header[:3] == ["emotion", "usage", "pixels"]:
            return "csv, icml_face_data.csv layout (emotion, Usage, pixels)"
        return f"csv (columns {', '.join(header)})"
    if suffix == ".npz":
        with np.load(source) as z:
            own = "source" in z.files
        return "npz, fer_course cache" if own else "npz (images, labels, usage)"
    if suffix == ".ferpack":
        return "packed FER-2013 (.ferpack)"
    return f"{suffix or 'no suffix'} file"


def data_summary(
    path: str | os.PathLike | None = None,
    *,
    skip_bad_rows: bool = False,
    max_skipped_share: float = MAX_SKIPPED_SHARE,
) -> dict[str, Any]:
    """Load the data at ``path`` (``None``: ``find_fer2013``) and return its numbers.

    Keys: ``path``, ``form``, ``source``, ``classes``, ``counts`` (per split),
    ``total``, ``class_counts`` (per split, per class name), ``skipped``, ``notes``,
    ``rows_are_csv``. Every value is a str, int, bool, list or dict: ``json.dumps`` takes
    it as it is. A load that fails (``DataShrankError``, ``FERFormatError``,
    ``DataNotFoundError``) raises, as ``load_fer2013`` does.

    >>> from fer_course.data import make_synthetic_fer, write_npz
    >>> import tempfile
    >>> npz = write_npz(make_synthetic_fer(14, 7, 7), Path(tempfile.mkdtemp()) / "s.npz")
    >>> s = data_summary(npz)
    >>> s["form"], s["total"], s["class_counts"]["val"]["Happy"]
    ('npz (images, labels, usage)', 28, 1)
    """
    source = find_fer2013(path)
    data = load_fer2013(source, skip_bad_rows=skip_bad_rows, max_skipped_share=max_skipped_share)
    counts = data.counts()
    return {
        "path": str(source),
        "form": data_form(source),
        "source": data.source,
        "classes": list(data.classes),
        "counts": counts,
        "total": sum(counts.values()),
        "class_counts": {
            name: dict(zip(data.classes, split.class_counts(len(data.classes)), strict=True))
            for name, split in data.splits().items()
        },
        "skipped": list(data.skipped),
        "notes": list(data.notes),
        "rows_are_csv": data.rows_are_csv,
    }


def summary_text(summary: dict[str, Any]) -> str:
    """The text of a ``data_summary``: file, form, split sizes, a class table, skips, notes."""
    counts, splits = summary["counts"], list(summary["counts"])
    lines = [
        f"data:   {summary['path']}",
        f"form:   {summary['form']}",
        "splits: " + " / ".join(f"{name} {counts[name]:,}" for name in splits)
        + f" ({summary['total']:,} images)",
        "",
    ]
    first = max(len("class"), *(len(c) for c in summary["classes"]))
    widths = [max(len(name), len(f"{counts[name]:,}")) for name in splits]
    table = [["class", *splits]]
    table += [[c, *(f"{summary['class_counts'][s][c]:,}" for s in splits)]
              for c in summary["classes"]]
    table.append(["total", *(f"{counts[s]:,}" for s in splits)])
    for row in table:
        cells = [row[0].ljust(first)] + [v.rjust(w) for v, w in zip(row[1:], widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    skipped = summary["skipped"]
    lines += ["", f"skipped rows: {len(skipped):,}"]
    lines += [f"  {entry}" for entry in skipped[:MAX_SHOWN_SKIPS]]
    if len(skipped) > MAX_SHOWN_SKIPS:
        lines.append(f"  ... and {len(skipped) - MAX_SHOWN_SKIPS:,} more")
    if summary["notes"]:
        lines += ["notes:", *(f"  - {note}" for note in summary["notes"])]
    return "\n".join(lines)


def describe_data(
    path: str | os.PathLike | None = None,
    *,
    skip_bad_rows: bool = False,
    max_skipped_share: float = MAX_SKIPPED_SHARE,
) -> str:
    """Load the data at ``path`` (``None``: ``find_fer2013``) and say what it holds.

    >>> import tempfile
    >>> from fer_course.data import make_synthetic_fer, write_kaggle_csv
    >>> d = make_synthetic_fer(70, 14, 14, with_flaws=False)
    >>> out = write_kaggle_csv(d, Path(tempfile.mkdtemp()) / "fer2013.csv")
    >>> print(describe_data(out).split("\\n", 1)[1])
    form:   csv, fer2013.csv layout (emotion, pixels, Usage)
    splits: train 70 / val 14 / test 14 (98 images)
    <BLANKLINE>
    class     train  val  test
    Angry        10    2     2
    Disgust       3    2     2
    Fear         10    2     2
    Happy        16    2     2
    Sad          11    2     2
    Surprise      8    2     2
    Neutral      12    2     2
    total        70   14    14
    <BLANKLINE>
    skipped rows: 0
    """
    return summary_text(data_summary(path, skip_bad_rows=skip_bad_rows,
                                     max_skipped_share=max_skipped_share))
