"""FER+ labels: the csv reader, the majority rule, relabelling FERData and ``load_fer2013``.

Small FER+ csv files are written by hand next to a synthetic data set of 28 images
(rows 0-13 train, 14-20 val, 21-27 test), so every expected label can be checked by eye.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_course.analysis.label_noise import ferplus_confusion, ferplus_counts, ferplus_disagreement
from fer_course.data import CLASSES, FERData, FERFormatError, Split, load_fer2013
from fer_course.data.ferplus import (
    FERPLUS_CLASSES,
    NO_MAJORITY,
    NOT_FACE,
    UNKNOWN,
    VOTE_COLUMNS,
    apply_ferplus_labels,
    ferplus_majority,
    read_ferplus_csv,
    synthetic_ferplus_votes,
    write_ferplus_csv,
)
from fer_course.data.formats.writers import write_npz
from fer_course.data.synthetic import make_synthetic_fer
from fer_course.data.types import SPLIT_TO_USAGE

HEADER = "Usage,Image name," + ",".join(VOTE_COLUMNS)
HAPPY = [0, 10, 0, 0, 0, 0, 0, 0, 0, 0]  # ten happiness votes
# Hand-chosen votes (VOTE_COLUMNS order: neutral, happiness, surprise, sadness, anger, disgust,
# fear, contempt, unknown, NF) and what they must give; every other row gets HAPPY.
BY_HAND = {
    0: ([6, 0, 0, 1, 3, 0, 0, 0, 0, 0], CLASSES.index("Neutral")),
    1: ([0, 0, 0, 0, 0, 0, 0, 0, 7, 3], UNKNOWN),
    2: ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], NOT_FACE),
    3: ([0, 0, 0, 5, 5, 0, 0, 0, 0, 0], NO_MAJORITY),  # sadness and anger tie
    4: ([0, 0, 0, 0, 6, 3, 0, 1, 0, 0], CLASSES.index("Angry")),
    5: ([0, 0, 1, 0, 0, 0, 5, 0, 4, 0], CLASSES.index("Fear")),
    15: ([1, 0, 0, 0, 0, 1, 0, 8, 0, 0], 7),  # Contempt, in val
    16: ([2, 0, 4, 0, 0, 0, 4, 0, 0, 0], NO_MAJORITY),  # surprise and fear tie
    22: ([0, 0, 0, 0, 0, 0, 0, 0, 6, 4], UNKNOWN),  # test
    23: ([0, 0, 0, 9, 0, 0, 0, 0, 0, 1], CLASSES.index("Sad")),
}


@pytest.fixture
def data() -> FERData:
    return make_synthetic_fer(14, 7, 7, seed=0)


def usages(data: FERData) -> list[str]:
    """Each csv row's Usage, from the split that holds it."""
    out = [""] * sum(data.counts().values())
    for name, split in data.splits().items():
        for row in split.rows:
            out[int(row)] = SPLIT_TO_USAGE[name]
    return out


def write_csv(path: Path, data: FERData, votes: dict[int, list] | None = None,
              header: str = HEADER, rows: int | None = None) -> Path:
    """A FER+ csv for ``data``: HAPPY votes, or ``votes[row]`` (values written as given)."""
    votes = {row: v for row, (v, _) in BY_HAND.items()} if votes is None else votes
    lines = [header]
    for row, usage in enumerate(usages(data)[:rows]):
        values = votes.get(row, HAPPY)
        lines.append(f"{usage},fer{row:07d}.png," + ",".join(str(v) for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_majority_by_hand() -> None:
    for votes, expected in BY_HAND.values():
        assert ferplus_majority(votes) == expected, votes
    table = np.array([v for v, _ in BY_HAND.values()])
    assert ferplus_majority(table).tolist() == [e for _, e in BY_HAND.values()]
    assert ferplus_majority([0] * 10) == NO_MAJORITY  # no votes at all
    # FER+'s own rule: single votes ignored, then more than half of the rest
    assert ferplus_majority([4, 3, 1, 1, 0, 0, 0, 0, 1, 0], rule="ferplus") == 6  # 4 of 7
    assert ferplus_majority([4, 3, 3, 0, 0, 0, 0, 0, 0, 0], rule="ferplus") == NO_MAJORITY
    assert ferplus_majority([4, 3, 3, 0, 0, 0, 0, 0, 0, 0]) == 6  # plurality keeps it
    with pytest.raises(ValueError, match="rule"):
        ferplus_majority(HAPPY, rule="mean")
    with pytest.raises(ValueError, match=r"\[N, 10\]"):
        ferplus_majority([1, 2, 3])


def test_relabel_drops_and_counts(tmp_path: Path, data: FERData) -> None:
    plus = apply_ferplus_labels(data, write_csv(tmp_path / "fer2013new.csv", data))
    assert plus.classes == (*CLASSES, "Contempt") == FERPLUS_CLASSES
    assert plus.classes.index("Contempt") == 7
    labels = {int(r): int(label) for s in plus.splits().values()
              for r, label in zip(s.rows, s.labels.tolist())}
    for row, (_, expected) in BY_HAND.items():
        if expected >= 0:
            assert labels[row] == expected
        else:
            assert row not in labels
    assert all(labels[row] == CLASSES.index("Happy") for row in labels if row not in BY_HAND)
    assert plus.counts() == {"train": 14 - 3, "val": 7 - 1, "test": 7 - 1}
    # images travel with their rows
    where = {int(r): i for i, r in enumerate(data.train.rows)}
    for i, row in enumerate(plus.train.rows):
        assert torch.equal(plus.train.images[i], data.train.images[where[int(row)]])
    note = plus.notes[-1]
    assert "fer2013new.csv" in note and "Contempt" in note
    assert "train 3 (1 / 1 / 1)" in note  # unknown / not a face / no majority
    assert "val 1 (0 / 0 / 1)" in note and "test 1 (1 / 0 / 0)" in note
    assert plus.notes[:-1] == data.notes
    assert "/" not in plus.source.split(" with ")[1]  # a file name, never a path
    with pytest.raises(ValueError, match="applied twice"):
        apply_ferplus_labels(plus, tmp_path / "fer2013new.csv")


def test_counts_and_disagreement_tables(tmp_path: Path, data: FERData) -> None:
    path = write_csv(tmp_path / "fer2013new.csv", data)
    counts = ferplus_counts(data, path)
    assert counts.loc["dropped: unknown"].tolist() == [1, 0, 1, 2]
    assert counts.loc["dropped: not a face"].tolist() == [1, 0, 0, 1]
    assert counts.loc["dropped: no majority"].tolist() == [1, 1, 0, 2]
    assert counts.loc["Contempt"].tolist() == [0, 1, 0, 1]
    assert counts.loc["FER-2013 images"].tolist() == [14, 7, 7, 28]
    assert (counts.loc[list(FERPLUS_CLASSES)].sum() + counts.iloc[8:11].sum()).tolist() == [
        14, 7, 7, 28]

    plus = apply_ferplus_labels(data, path)
    table = ferplus_disagreement(data, plus)
    original = {int(r): int(label) for s in data.splits().values()
                for r, label in zip(s.rows, s.labels.tolist())}
    kept = {int(r): int(label) for s in plus.splits().values()
            for r, label in zip(s.rows, s.labels.tolist())}
    for label, name in enumerate(CLASSES):
        mine = [r for r, c in original.items() if c == label]
        with_plus = [r for r in mine if r in kept]
        differ = [r for r in with_plus if kept[r] != label]
        assert table.loc[name, "images"] == len(mine)
        assert table.loc[name, "with FER+ label"] == len(with_plus)
        assert table.loc[name, "FER+ differs"] == len(differ)
    changed = [r for r, (_, e) in BY_HAND.items() if e >= 0 and e != original[r]]
    unhappy = [r for r in kept if r not in BY_HAND and original[r] != CLASSES.index("Happy")]
    assert table.loc["all", "FER+ differs"] == len(changed) + len(unhappy)
    assert table.loc["all", "images"] == 28 and table.loc["all", "with FER+ label"] == 23
    confusion = ferplus_confusion(data, plus)
    assert confusion.to_numpy().sum() == 23 and confusion.shape == (7, 8)
    assert confusion.loc[CLASSES[original[15]], "Contempt"] == 1


def test_wrong_row_count_is_refused_with_both_counts(tmp_path: Path, data: FERData) -> None:
    short = write_csv(tmp_path / "short.csv", data, rows=27)
    with pytest.raises(FERFormatError, match=r"short\.csv: 27 data rows, but .* has 28"):
        apply_ferplus_labels(data, short)


@pytest.mark.parametrize(("value", "problem"), [("x", "'x'"), ("-1", "'-1'"), ("2.5", "'2.5'"),
                                                ("", "''")])
def test_bad_vote_names_file_and_line(tmp_path: Path, data: FERData, value: str,
                                      problem: str) -> None:
    votes = {5: [0, 0, 0, 0, 0, 0, value, 0, 0, 0]}
    path = write_csv(tmp_path / "bad.csv", data, votes)
    with pytest.raises(FERFormatError, match=rf"bad\.csv: line 7: fear is {problem}"):
        read_ferplus_csv(path)


def test_other_bad_rows_name_the_line(tmp_path: Path, data: FERData) -> None:
    path = write_csv(tmp_path / "f.csv", data)
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace("Training", "Train")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FERFormatError, match=r"f\.csv: line 4: unknown Usage 'Train'"):
        read_ferplus_csv(path)
    lines = write_csv(path, data).read_text().splitlines()
    lines[4] = ",".join(lines[4].split(",")[:-2])  # two columns short
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FERFormatError, match=r"line 5: expected at least 12 columns, got 10"):
        read_ferplus_csv(path)
    lines = write_csv(path, data).read_text().splitlines()
    path.write_text("\n".join([*lines[:6], "", *lines[6:]]) + "\n")
    with pytest.raises(FERFormatError, match=r"line 7: blank line between data rows"):
        read_ferplus_csv(path)
    path.write_text("\n".join(lines) + "\n\n\n")  # blank lines at the end are fine
    assert len(read_ferplus_csv(path)) == 28
    path.write_text("")
    with pytest.raises(FERFormatError, match="empty"):
        read_ferplus_csv(path)


def test_usage_must_match_the_split(tmp_path: Path, data: FERData) -> None:
    path = write_csv(tmp_path / "f.csv", data)
    lines = path.read_text().splitlines()
    lines[16] = lines[16].replace("PublicTest", "Training")  # row 15, a val image
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FERFormatError, match=r"f\.csv: line 17: Usage 'Training', but row 15"):
        apply_ferplus_labels(data, path)


def test_missing_column_is_named(tmp_path: Path, data: FERData) -> None:
    header = HEADER.replace(",contempt", "")
    votes = {row: HAPPY[:9] for row in range(28)}
    path = write_csv(tmp_path / "f.csv", data, votes, header=header)
    with pytest.raises(FERFormatError, match=r"f\.csv: line 1: .*lacks column\(s\) \['contempt'\]"):
        read_ferplus_csv(path)
    # columns are found by name: another order, other case and spaces read the same
    shuffled = tmp_path / "g.csv"
    names = ["Image name", "Usage", *reversed(VOTE_COLUMNS)]
    body = [f" {n.upper()} " for n in names]
    rows = [",".join([f"fer{r:07d}.png", u, *map(str, reversed(HAPPY))])
            for r, u in enumerate(usages(data))]
    shuffled.write_text("\n".join([",".join(body), *rows]) + "\n")
    assert (read_ferplus_csv(shuffled).votes == np.array(HAPPY)).all()


def test_load_fer2013_with_ferplus_labels(tmp_path: Path, data: FERData,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    npz = write_npz(data, tmp_path / "fer2013.npz")
    csv_path = write_csv(tmp_path / "fer2013new.csv", data)
    plus = load_fer2013(npz, labels="ferplus", ferplus_path=csv_path)
    assert plus.classes == FERPLUS_CLASSES and plus.counts() == {"train": 11, "val": 6,
                                                                 "test": 6}
    assert load_fer2013(npz).classes == CLASSES  # the default is unchanged
    monkeypatch.setenv("FERPLUS_PATH", str(csv_path))
    assert load_fer2013(npz, labels="ferplus").counts() == plus.counts()
    monkeypatch.setenv("FERPLUS_PATH", str(tmp_path / "nowhere.csv"))
    with pytest.raises(FileNotFoundError, match="nowhere.csv.*FERPLUS_PATH"):
        load_fer2013(npz, labels="ferplus")
    monkeypatch.delenv("FERPLUS_PATH")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)  # no data/fer2013new.csv here
    monkeypatch.setenv("HOME", str(empty))
    with pytest.raises(FileNotFoundError, match="ferplus_path"):
        load_fer2013(npz, labels="ferplus")
    with pytest.raises(ValueError, match="labels must be one of"):
        load_fer2013(npz, labels="FER+")


def test_two_folder_layout_accepts_carved_val(data: FERData) -> None:
    """A ``train/`` + ``test/`` folder layout carves val from Training rows and merges the
    test usages; the Usage check allows exactly that."""
    votes = synthetic_ferplus_votes(data)
    train = data.train
    carved = FERData(
        train=Split(train.images[:10], train.labels[:10], train.rows[:10]),
        val=Split(train.images[10:], train.labels[10:], train.rows[10:]),
        test=Split(torch.cat([data.val.images, data.test.images]),
                   torch.cat([data.val.labels, data.test.labels]),
                   np.concatenate([data.val.rows, data.test.rows])),
        source="folders", notes=["two-folder layout: test/ merges PublicTest and PrivateTest; "
                                 "val is carved from train/"])
    plus = apply_ferplus_labels(carved, votes)
    assert sum(plus.counts().values()) <= 28
    with pytest.raises(FERFormatError, match="Usage 'Training', but row 10"):
        apply_ferplus_labels(FERData(carved.train, carved.val, carved.test, source="x"), votes)


def test_synthetic_votes_round_trip(tmp_path: Path, data: FERData) -> None:
    votes = synthetic_ferplus_votes(data, seed=3)
    assert (votes.votes.sum(axis=1) == 10).all()
    black = [10, 11]  # planted all-black rows: ten NF votes, as in the real FER+
    assert (ferplus_majority(votes.votes[black]) == NOT_FACE).all()
    back = read_ferplus_csv(write_ferplus_csv(votes, tmp_path / "s.csv"))
    assert (back.votes == votes.votes).all() and back.usage.tolist() == usages(data)
    assert (synthetic_ferplus_votes(data, seed=3).votes == votes.votes).all()  # seeded
    plus = apply_ferplus_labels(data, back)
    agree = ferplus_disagreement(data, plus).loc["all"]
    assert 0 < agree["FER+ differs"] < agree["with FER+ label"]


@pytest.mark.realdata
def test_real_ferplus_counts(real_data_path: Path) -> None:
    """The real FER+ votes on the real FER-2013: images kept and dropped per split."""
    value = os.environ.get("FERPLUS_PATH", "")
    if not value or not Path(value).is_file():
        pytest.skip("real FER+ votes not available (set FERPLUS_PATH)")
    data = load_fer2013(real_data_path)
    counts = ferplus_counts(data, value)
    print(counts)
    plus = load_fer2013(real_data_path, labels="ferplus", ferplus_path=value)
    assert plus.counts() == {"train": 26_940, "val": 3_396, "test": 3_376}
    assert counts.loc["dropped: unknown", ["train", "val", "test"]].tolist() == [170, 25, 27]
    assert counts.loc["dropped: not a face", ["train", "val", "test"]].tolist() == [150, 11, 16]
    assert counts.loc["dropped: no majority", ["train", "val", "test"]].tolist() == [
        1449, 157, 170]
    assert counts.loc["Contempt", "all"] == 212
    assert [plus.splits()[s].class_counts(8) for s in ("train", "val", "test")] == [
        counts.loc[list(FERPLUS_CLASSES), s].tolist() for s in ("train", "val", "test")]
