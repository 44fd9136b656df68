"""Data that cannot quietly shrink: ``check_not_shrunk`` refuses a load that lost too much.

A csv cut short in the middle of its training rows parses without complaint (with
``skip_bad_rows=True`` only its last, half-written line is bad) and gives half a
training split and no validation or test split at all; a model trained on it reports
nonsense. ``load_fer2013`` therefore checks every load, whatever its form, once the
``FERData`` is assembled and before anything is written to its cache: every split must
hold images, and rows skipped as bad may be at most ``max_skipped_share`` of those read
(``MAX_SKIPPED_SHARE`` by default). Otherwise it raises ``DataShrankError``, which names
the file, the empty splits and the skipped lines.

>>> from fer_course.data.synthetic import make_synthetic_fer
>>> check_not_shrunk(make_synthetic_fer(14, 7, 7), "fer2013.csv")  # nothing lost: silent
>>> skipped_share(["line 3: label '9' outside 0-6"], kept=99)
0.01
"""

from __future__ import annotations

import os
import re

from fer_course.data.types import SPLIT_TO_USAGE, FERData, FERFormatError
from fer_course.paper import PAPER_SPLIT_SIZES  # the complete FER-2013's split sizes

MAX_SKIPPED_SHARE = 0.01
"""Default largest share of a source's rows that ``skip_bad_rows=True`` may leave out (1 %).

FER-2013 itself has no bad row; a few odd lines in a hand-edited copy are tolerable,
hundreds are a damaged file."""

MAX_LISTED_LINES = 5
"""How many skipped lines (or rows) a ``DataShrankError`` lists by number."""


_PLACE = re.compile(r"^(line|row) (\d+):")


class DataShrankError(FERFormatError):
    """A load left a split empty, or skipped more bad rows than ``max_skipped_share`` allows.

    A ``FERFormatError`` (so a ``ValueError``). The message names the file, the empty
    split(s), the split sizes and the skipped lines: first few numbers and the count.
    """


def skipped_share(skipped: list[str], kept: int) -> float:
    """Share of the rows read that were skipped: ``len(skipped) / (kept + len(skipped))``.

    >>> skipped_share([], kept=0), skipped_share(["row 1: label 12 outside 0-6"], kept=3)
    (0.0, 0.25)
    """
    total = kept + len(skipped)
    return len(skipped) / total if total else 0.0


def skipped_places(skipped: list[str], limit: int = MAX_LISTED_LINES) -> str:
    """The first ``limit`` skipped lines (or rows) by number, and how many more.

    >>> skipped_places(["line 3: bad label", "line 7: 3 pixels", "line 9: x"], limit=2)
    'lines 3, 7 and 1 more'
    >>> skipped_places(["row 12: label 9 outside 0-6"])
    'row 12'
    """
    places = [m for m in (_PLACE.match(entry) for entry in skipped[:limit]) if m]
    if len(places) == len(skipped[:limit]) and len({m.group(1) for m in places}) == 1:
        numbers = ", ".join(m.group(2) for m in places)
        listed = f"{places[0].group(1)}{'s' if len(places) > 1 else ''} {numbers}"
    else:
        listed = ", ".join(entry.split(":", 1)[0] for entry in skipped[:limit])
    extra = len(skipped) - limit
    return f"{listed} and {extra:,} more" if extra > 0 else listed


def _sizes(data: FERData) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in data.counts().items())


def check_not_shrunk(
    data: FERData,
    path: str | os.PathLike,
    *,
    kept: int | None = None,
    max_skipped_share: float = MAX_SKIPPED_SHARE,
) -> None:
    """Raise ``DataShrankError`` if a split of ``data`` is empty or too many rows were skipped.

    ``path`` names the source in the message; ``kept``: how many images the read kept
    (before a validation split was carved or labels were relabelled), by default all of
    ``data``'s; ``data.skipped`` lists the rows left out. The share skipped may be at most
    ``max_skipped_share`` (0 to 1).

    >>> from fer_course.data.synthetic import make_synthetic_fer
    >>> d = make_synthetic_fer(14, 7, 7)
    >>> d.skipped = ["line 3: label '9' outside 0-6"]
    >>> try:
    ...     check_not_shrunk(d, "data/fer2013.csv")
    ... except DataShrankError as err:
    ...     print(str(err)[:78])
    data/fer2013.csv: 1 of 29 rows skipped as bad (3.4%), more than the 1% allowed
    >>> check_not_shrunk(d, "data/fer2013.csv", max_skipped_share=0.05)  # allowed
    """
    if not 0 <= max_skipped_share <= 1:
        raise ValueError(f"max_skipped_share must be between 0 and 1, got {max_skipped_share!r}")
    counts = data.counts()
    empty = [name for name, n in counts.items() if n == 0]
    kept = sum(counts.values()) if kept is None else kept
    share = skipped_share(data.skipped, kept)
    too_many = share > max_skipped_share
    if not empty and not too_many:
        return
    problems = []
    if empty:
        named = " and ".join(f"{name} ({SPLIT_TO_USAGE.get(name, name)})" for name in empty)
        problems.append(f"split{'s' if len(empty) > 1 else ''} {named} "
                        f"{'are' if len(empty) > 1 else 'is'} empty ({_sizes(data)})")
    total = kept + len(data.skipped)
    if too_many:
        problems.append(f"{len(data.skipped):,} of {total:,} rows skipped as bad ({share:.1%}), "
                        f"more than the {max_skipped_share * 100:g}% allowed by max_skipped_share")
    elif data.skipped:
        problems.append(f"{len(data.skipped):,} of {total:,} rows skipped as bad")
    if data.skipped:
        problems[-1] += f": {skipped_places(data.skipped)} (first: {data.skipped[0]})"
    else:
        problems.append("no row was skipped")
    full = ", ".join(f"{name} {n:,}" for name, n in PAPER_SPLIT_SIZES.items())
    advice = (f"The file looks cut short or damaged (the full FER-2013 has {full}): "
              "get a complete copy" if empty else
              "Fix or replace the file, or pass a larger max_skipped_share to accept the loss")
    raise DataShrankError(f"{os.fspath(path)}: {'; '.join(problems)}. {advice}.")
