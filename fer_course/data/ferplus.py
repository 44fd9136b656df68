"""FER+ labels for FER-2013: ten crowd votes per image, read from Microsoft's ``fer2013new.csv``.

FER+ (Barsoum et al., 2016) had every FER-2013 image labelled again by ten annotators.
Its csv has one line per line of ``fer2013.csv``, in the same order, with the columns
``Usage, Image name, neutral, happiness, surprise, sadness, anger, disgust, fear,
contempt, unknown, NF``: the last ten are vote counts. It is joined to FER-2013 **by row
position** (the image names are not row numbers), so ``Split.rows`` picks each image's votes;
data whose rows are folder positions (``FERData.rows_are_csv`` false, as read from Kaggle's
image-folder release) is refused rather than given some other face's votes.

Choices made here:

* **Majority rule.** ``plurality`` (the default): the column with the most votes wins;
  when two or more columns share the top count, the image has *no majority* and is
  dropped. ``ferplus``: the stricter rule of FER+'s own training script in its
  ``majority`` mode: single votes are ignored, and the top column must hold more than half
  of the remaining votes. A winning ``unknown`` or ``NF`` (not a face) drops the image too.
* **Contempt** is kept, as class 7 appended after FER-2013's seven classes, whose indices
  0-6 do not change. Mapping it onto another class (Disgust, Angry) would give images a
  label no annotator chose, and dropping it would hide a class of FER+; it is small
  (about 200 images), and a model for FER+ simply gets an eighth output.

>>> votes = FERPlusVotes(np.array(["Training"]), np.array(["fer0000000.png"]),
...                      np.array([[4, 0, 0, 1, 3, 2, 0, 0, 0, 0]]), "demo.csv")
>>> FERPLUS_CLASSES[int(ferplus_majority(votes.votes)[0])]
'Neutral'
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fer_course.data.types import (
    CLASSES,
    SPLIT_TO_USAGE,
    USAGE_TO_SPLIT,
    FERData,
    FERFormatError,
    Split,
    require_csv_rows,
)

ENV_VAR = "FERPLUS_PATH"
FERPLUS_URL = "https://raw.githubusercontent.com/microsoft/FERPlus/master/fer2013new.csv"
"""The one file to download (MIT licence, Microsoft); it holds votes only, no pixels."""
FERPLUS_ROWS = 35_887
"""Data rows of ``fer2013new.csv``: one per row of ``fer2013.csv``."""
VOTE_COLUMNS: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger",
                                 "disgust", "fear", "contempt", "unknown", "NF")
"""The ten vote columns of the FER+ csv, in its order."""
FERPLUS_CLASSES: tuple[str, ...] = (*CLASSES, "Contempt")
"""FER-2013's seven classes in their order (0 = Angry ... 6 = Neutral), then 7 = Contempt."""
NO_MAJORITY, UNKNOWN, NOT_FACE = -1, -2, -3
"""What ``ferplus_majority`` answers for an image it gives no class."""
DROP_REASONS: dict[int, str] = {UNKNOWN: "unknown", NOT_FACE: "not a face",
                                NO_MAJORITY: "no majority"}
COLUMN_TO_LABEL = np.array([6, 3, 5, 4, 0, 1, 2, 7, UNKNOWN, NOT_FACE], dtype=np.int64)
"""The class index (in ``FERPLUS_CLASSES``) each vote column stands for."""
RULES = ("plurality", "ferplus")
_USUAL_PLACES = ("data/fer2013new.csv", "data/ferplus.csv", "fer2013new.csv")


@dataclass
class FERPlusVotes:
    """The FER+ csv in row order: ``votes`` int64 ``[N, 10]`` in ``VOTE_COLUMNS`` order.

    ``source`` is the file's name (or what made the votes); ``path`` the file, for errors;
    ``lines`` the csv line of each row (the header is line 1).

    >>> v = FERPlusVotes(np.array(["Training"]), np.array([""]), np.zeros((1, 10), int), "x")
    >>> len(v), v.lines.tolist()
    (1, [2])
    """

    usage: np.ndarray
    image_names: np.ndarray
    votes: np.ndarray
    source: str
    path: str = ""
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self.votes = np.asarray(self.votes, dtype=np.int64)
        if self.votes.ndim != 2 or self.votes.shape[1] != len(VOTE_COLUMNS):
            raise ValueError(f"votes must be [N, {len(VOTE_COLUMNS)}], got {self.votes.shape}")
        if len(self.lines) != len(self.votes):
            self.lines = np.arange(len(self.votes), dtype=np.int64) + 2
        if not self.path:
            self.path = self.source

    def __len__(self) -> int:
        return len(self.votes)


def find_ferplus(path: str | os.PathLike | None = None) -> Path | None:
    """Where the FER+ csv is: ``path``, else ``$FERPLUS_PATH``, else ``data/fer2013new.csv``,
    ``data/ferplus.csv`` or ``fer2013new.csv`` under the working or home directory (and
    ``/content/`` in Colab); ``None`` if none of the usual places has it. A path given or
    named by the variable must exist.

    >>> find_ferplus("no/such/fer2013new.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: FER+ votes not found at 'no/such/fer2013new.csv'; ...
    """
    given = os.fspath(path) if path is not None else os.environ.get(ENV_VAR, "").strip()
    if given:
        place = Path(given).expanduser()
        if not place.is_file():
            origin = "" if path is not None else f" (from ${ENV_VAR})"
            raise FileNotFoundError(f"FER+ votes not found at '{given}'{origin}; "
                                    f"download {FERPLUS_URL}")
        return place
    bases = [Path.cwd(), Path.home(), Path("/content")]
    for place in (base / name for base in bases for name in _USUAL_PLACES):
        if place.is_file():
            return place
    return None


def missing_ferplus_message() -> str:
    """What to tell a reader who has no FER+ csv.

    >>> "fer2013new.csv" in missing_ferplus_message()
    True
    """
    return (f"FER+ votes not found: pass ferplus_path, set ${ENV_VAR}, or put the file at "
            f"data/fer2013new.csv; it is one download: {FERPLUS_URL}")


def _column_indices(header: list[str], path: Path) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    wanted = ("usage", *(c.lower() for c in VOTE_COLUMNS))
    missing = [c for c in ("Usage", *VOTE_COLUMNS) if c.lower() not in names]
    if missing:
        raise FERFormatError(
            f"{path}: line 1: the header {header} lacks column(s) {missing}; expected "
            f"'Usage,Image name,{','.join(VOTE_COLUMNS)}' (fer2013new.csv)"
        )
    cols = {c: names.index(c) for c in wanted}
    if "image name" in names:
        cols["image name"] = names.index("image name")
    return cols


def _check_row(row: list[str], cols: dict[str, int]) -> tuple[str, str, list[int]] | str:
    """(usage, image name, votes) of one csv row, or the reason it is bad."""
    if len(row) <= max(cols.values()):
        return f"expected at least {max(cols.values()) + 1} columns, got {len(row)}"
    usage = row[cols["usage"]].strip()
    if usage not in USAGE_TO_SPLIT:
        return f"unknown Usage {usage!r} (expected Training, PublicTest or PrivateTest)"
    votes = []
    for name in VOTE_COLUMNS:
        text = row[cols[name.lower()]].strip()
        if not text.isdigit():
            return f"{name} is {text!r}, not a whole number of votes >= 0"
        votes.append(int(text))
    name = row[cols["image name"]].strip() if "image name" in cols else ""
    return usage, name, votes


def read_ferplus_csv(path: str | os.PathLike) -> FERPlusVotes:
    """Read a FER+ csv (``fer2013new.csv``); a bad line raises ``FERFormatError`` naming
    file and line. Columns are found by name; blank lines at the end are ignored.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "fer2013new.csv"
    >>> _ = p.write_text("Usage,Image name," + ",".join(VOTE_COLUMNS) + "\\n"
    ...                  "Training,fer0000000.png,4,0,0,1,3,2,0,0,0,0\\n")
    >>> read_ferplus_csv(p).votes.tolist()
    [[4, 0, 0, 1, 3, 2, 0, 0, 0, 0]]
    """
    path = Path(path)
    usages, names, votes, lines = [], [], [], []
    blank_line = 0
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise FERFormatError(f"{path}: the file is empty")
        cols = _column_indices(header, path)
        for row in reader:
            if not row or not "".join(row).strip():
                blank_line = blank_line or reader.line_num
                continue
            if blank_line:  # rows are matched by position: a gap would shift every later one
                raise FERFormatError(f"{path}: line {blank_line}: blank line between data rows "
                                     "(FER+ is joined to FER-2013 by row position)")
            checked = _check_row(row, cols)
            if isinstance(checked, str):
                raise FERFormatError(f"{path}: line {reader.line_num}: {checked}")
            usages.append(checked[0])
            names.append(checked[1])
            votes.append(checked[2])
            lines.append(reader.line_num)
    if not votes:
        raise FERFormatError(f"{path}: no data rows after the header")
    return FERPlusVotes(np.array(usages), np.array(names), np.array(votes, dtype=np.int64),
                        source=path.name, path=str(path), lines=np.array(lines, dtype=np.int64))


def write_ferplus_csv(votes: FERPlusVotes, path: str | os.PathLike) -> Path:
    """Write ``votes`` in the layout of ``fer2013new.csv`` (for tests and made-up votes).

    >>> import tempfile
    >>> v = FERPlusVotes(np.array(["PublicTest"]), np.array(["a.png"]),
    ...                  np.array([[0, 9, 1, 0, 0, 0, 0, 0, 0, 0]]), "made up")
    >>> p = write_ferplus_csv(v, Path(tempfile.mkdtemp()) / "f.csv")
    >>> read_ferplus_csv(p).usage.tolist()
    ['PublicTest']
    """
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["Usage", "Image name", *VOTE_COLUMNS])
        for usage, name, row in zip(votes.usage, votes.image_names, votes.votes.tolist()):
            writer.writerow([usage, name, *row])
    return path


def ferplus_majority(votes: np.ndarray | list[int], rule: str = "plurality") -> np.ndarray | int:
    """The class (index in ``FERPLUS_CLASSES``) the votes elect, or why none:
    ``NO_MAJORITY`` (-1), ``UNKNOWN`` (-2) or ``NOT_FACE`` (-3).

    ``votes``: ``[N, 10]`` (an array back) or ``[10]`` (an int back), in ``VOTE_COLUMNS``
    order. ``rule``: ``plurality`` (the top column wins; a shared top means no majority)
    or ``ferplus`` (single votes ignored, the top needs more than half of the rest).

    >>> ferplus_majority([4, 0, 0, 4, 2, 0, 0, 0, 0, 0])          # neutral and sadness tie
    -1
    >>> ferplus_majority([[0, 6, 4, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 3, 7]])
    array([ 3, -3])
    >>> ferplus_majority([4, 3, 1, 1, 0, 0, 0, 0, 1, 0]), ferplus_majority(
    ...     [4, 3, 1, 1, 0, 0, 0, 0, 1, 0], rule="ferplus")     # 4 of 7 counted votes
    (6, 6)
    >>> ferplus_majority([4, 3, 3, 0, 0, 0, 0, 0, 0, 0], rule="ferplus")
    -1
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    array = np.asarray(votes, dtype=np.int64)
    one = array.ndim == 1
    array = np.atleast_2d(array)
    if array.ndim != 2 or array.shape[1] != len(VOTE_COLUMNS):
        raise ValueError(f"votes must be [N, {len(VOTE_COLUMNS)}] or [{len(VOTE_COLUMNS)}], "
                         f"got {list(np.shape(votes))}")
    if rule == "ferplus":
        array = np.where(array == 1, 0, array)
    top = array.max(axis=1)
    if rule == "plurality":
        none = ((array == top[:, None]).sum(axis=1) > 1) | (top == 0)
    else:
        none = 2 * top <= array.sum(axis=1)
    labels = np.where(none, NO_MAJORITY, COLUMN_TO_LABEL[array.argmax(axis=1)])
    return int(labels[0]) if one else labels


def _total_rows(data: FERData) -> int:
    """Rows of the csv the data came from: its images plus any bad rows it skipped."""
    return sum(data.counts().values()) + len(data.skipped)


def _expected_usages(data: FERData) -> dict[str, set[str]]:
    """The FER-2013 ``Usage`` each split's rows may have."""
    if any(note.startswith("two-folder layout") for note in data.notes):  # val carved
        return {"train": {"Training"}, "val": {"Training"},
                "test": {"PublicTest", "PrivateTest"}}
    return {name: {usage} for name, usage in SPLIT_TO_USAGE.items()}


def check_alignment(data: FERData, votes: FERPlusVotes) -> None:
    """Raise ``FERFormatError`` unless ``data``'s rows are csv rows (``require_csv_rows``),
    ``votes`` has one row per csv row of ``data`` and each row's ``Usage`` matches the split
    holding that image. Counts and usages alone cannot tell csv rows from folder positions
    (Kaggle's image folders have as many images, in the same splits), hence the first check.

    >>> from fer_course.data import make_synthetic_fer
    >>> v = synthetic_ferplus_votes(make_synthetic_fer(14, 7, 7))
    >>> check_alignment(make_synthetic_fer(14, 7, 7), v)  # nothing to say: aligned
    """
    require_csv_rows(data, f"the FER+ votes of {votes.source}")
    expected = _total_rows(data)
    if len(votes) != expected:
        raise FERFormatError(
            f"{votes.path}: {len(votes):,} data rows, but {data.source} has {expected:,}; "
            "FER+ is joined to FER-2013 by row position, so both must have the same rows"
        )
    allowed = _expected_usages(data)
    for name, split in data.splits().items():
        rows = np.asarray(split.rows, dtype=np.int64)
        outside = rows[(rows < 0) | (rows >= len(votes))]
        if len(outside):
            raise FERFormatError(f"{votes.path}: has no row {int(outside[0])} (of {name})")
        wrong = np.flatnonzero(~np.isin(votes.usage[rows], list(allowed[name])))
        if len(wrong):
            row = int(rows[wrong[0]])
            raise FERFormatError(
                f"{votes.path}: line {int(votes.lines[row])}: Usage {str(votes.usage[row])!r}, but "
                f"row {row} of {data.source} is in {name} ({' or '.join(sorted(allowed[name]))}); "
                f"{len(wrong):,} {name} rows disagree"
            )


def as_votes(ferplus: FERPlusVotes | str | os.PathLike) -> FERPlusVotes:
    return ferplus if isinstance(ferplus, FERPlusVotes) else read_ferplus_csv(ferplus)


def apply_ferplus_labels(data: FERData, ferplus: FERPlusVotes | str | os.PathLike,
                         rule: str = "plurality") -> FERData:
    """``data`` relabelled by the FER+ majority of each image's csv row (``Split.rows``).

    Images without a valid majority (a tie, or ``unknown`` or ``NF`` on top) are left out
    and counted per split in ``.notes``; ``.classes`` gains ``Contempt`` as class 7.
    ``ferplus``: a FER+ csv or votes already read.

    >>> from fer_course.data import make_synthetic_fer
    >>> d = make_synthetic_fer(70, 14, 14)
    >>> plus = apply_ferplus_labels(d, synthetic_ferplus_votes(d))
    >>> plus.classes[-1], len(plus.classes), sum(plus.counts().values()) <= 98
    ('Contempt', 8, True)
    """
    if tuple(data.classes) != CLASSES:
        raise ValueError(f"{data.source}: expected FER-2013's classes {CLASSES}, got "
                         f"{tuple(data.classes)} (FER+ labels applied twice?)")
    votes = as_votes(ferplus)
    check_alignment(data, votes)
    majority = ferplus_majority(votes.votes, rule)
    parts, dropped = {}, []
    for name, split in data.splits().items():
        rows = np.asarray(split.rows, dtype=np.int64)
        labels = majority[rows]
        keep = np.flatnonzero(labels >= 0)
        index = torch.from_numpy(keep)
        parts[name] = Split(split.images[index], torch.from_numpy(labels[keep]), rows[keep])
        counts = " / ".join(f"{int((labels == code).sum()):,}" for code in DROP_REASONS)
        dropped.append(f"{name} {len(split) - len(keep):,} ({counts})")
    note = (f"labels: FER+ majority ({rule}) of {votes.source}, Contempt added as class 7; "
            f"images dropped (unknown / not a face / no majority): {', '.join(dropped)}")
    return FERData(**parts, classes=FERPLUS_CLASSES,
                   source=f"{data.source} with FER+ labels of {votes.source}",
                   notes=[*data.notes, note], skipped=list(data.skipped),
                   rows_are_csv=data.rows_are_csv)


def labels_by_csv_row(data: FERData) -> tuple[np.ndarray, np.ndarray]:
    """Every image's csv row and label, all splits together."""
    rows = np.concatenate([np.asarray(s.rows, dtype=np.int64) for s in data.splits().values()])
    labels = np.concatenate([s.labels.numpy() for s in data.splits().values()])
    return rows, labels


def synthetic_ferplus_votes(data: FERData, seed: int = 0, agreement: float = 0.8
                            ) -> FERPlusVotes:
    """Made-up FER+ votes for synthetic faces, so that FER+ code runs without the real file.

    The crowd's favourite is the FER-2013 label for a share ``agreement`` of the images,
    else another class (most often Neutral, sometimes Contempt); each of ten annotators
    votes for it with a probability drawn per image, otherwise at random. All-black
    images get ten ``NF`` votes, as in the real FER+.

    >>> from fer_course.data import make_synthetic_fer
    >>> v = synthetic_ferplus_votes(make_synthetic_fer(14, 7, 7))
    >>> len(v), v.votes.sum(axis=1).tolist() == [10] * 28
    (28, True)
    """
    rng = np.random.default_rng(seed)
    n = _total_rows(data)
    original = np.full(n, CLASSES.index("Neutral"), dtype=np.int64)
    usage = np.full(n, "Training", dtype=object)
    black = np.zeros(n, dtype=bool)
    for name, split in data.splits().items():
        rows = np.asarray(split.rows, dtype=np.int64)
        original[rows] = split.labels.numpy()
        usage[rows] = SPLIT_TO_USAGE[name]
        black[rows] = split.images.flatten(1).amax(dim=1).numpy() == 0
    label_to_column = np.argsort(COLUMN_TO_LABEL[:8])  # class index -> its vote column
    other = rng.choice(len(FERPLUS_CLASSES), size=n,
                       p=[0.1, 0.03, 0.1, 0.1, 0.1, 0.07, 0.4, 0.1])
    favourite = np.where(rng.random(n) < agreement, original, other)
    columns = label_to_column[favourite]
    loyalty = rng.uniform(0.35, 1.0, size=n)
    votes = np.zeros((n, len(VOTE_COLUMNS)), dtype=np.int64)
    for _ in range(10):
        random_vote = rng.choice(len(VOTE_COLUMNS), size=n,
                                 p=[0.2, 0.1, 0.1, 0.1, 0.1, 0.08, 0.1, 0.07, 0.13, 0.02])
        chosen = np.where(rng.random(n) < loyalty, columns, random_vote)
        votes[np.arange(n), chosen] += 1
    votes[black] = 0
    votes[black, VOTE_COLUMNS.index("NF")] = 10
    names = np.array([f"fer{row:07d}.png" for row in range(n)])
    return FERPlusVotes(usage.astype(str), names, votes,
                        source=f"synthetic FER+ votes (seed {seed})")
