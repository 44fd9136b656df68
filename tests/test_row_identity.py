"""Whether ``Split.rows`` are csv rows (``FERData.rows_are_csv``), kept by every reader, cache
and copy, and refused where csv rows are needed (FER+ votes).

Kaggle's image-folder release names its files ``train/angry/Training_3908.jpg`` and
``test/happy/PrivateTest_1234.jpg``: those numbers are not csv rows, so the reader numbers
the images by folder position. Such a folder has as many images as fer2013.csv, in the same
splits, so the FER+ count and Usage checks alone would pass and put the crowd's labels on
the wrong faces; the marker stops that.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import fer_course.data.readers as readers
from fer_course.analysis.label_noise import ferplus_counts
from fer_course.data import FERData, FERFormatError, Split, load_fer2013, make_synthetic_fer
from fer_course.data.ferplus import (
    apply_ferplus_labels,
    check_alignment,
    synthetic_ferplus_votes,
    write_ferplus_csv,
)
from fer_course.data.formats.cache import CACHE_DIR_NAME
from fer_course.data.formats.writers import write_image_folders, write_kaggle_csv, write_npz
from fer_course.data.packed import read_packed_fer, same_fer_data, write_packed_fer
from fer_course.data.types import (
    POSITION_ROWS_NOTE,
    SPLIT_TO_USAGE,
    legacy_rows_are_csv,
    require_csv_rows,
)


@pytest.fixture(scope="module")
def data() -> FERData:
    """28 train, 7 val, 7 test synthetic faces; their rows 0-41 are csv rows."""
    return make_synthetic_fer(28, 7, 7, seed=2)


def write_kaggle_release(data: FERData, root: Path, ext: str = "png") -> Path:
    """The layout of Kaggle's image-folder FER-2013: ``train/<class>/Training_<n>.<ext>`` and
    ``test/<class>/PublicTest_<n>.<ext>`` / ``PrivateTest_<n>.<ext>``, where ``n`` is no csv
    row (here a random number)."""
    rng = np.random.default_rng(7)
    for name, split in data.splits().items():
        folder = root / ("train" if name == "train" else "test")
        numbers = rng.choice(100_000, size=len(split), replace=False)
        for image, label, number in zip(split.images.numpy(), split.labels.tolist(), numbers,
                                        strict=True):
            class_dir = folder / data.classes[label].lower()
            class_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(class_dir / f"{SPLIT_TO_USAGE[name]}_{number}.{ext}")
    return root


def votes_file(data: FERData, tmp_path: Path) -> Path:
    return write_ferplus_csv(synthetic_ferplus_votes(data, seed=1), tmp_path / "fer2013new.csv")


def all_rows(data: FERData) -> list[int]:
    return sorted(int(r) for s in data.splits().values() for r in s.rows)


def image_bytes(data: FERData) -> list[bytes]:
    return sorted(i.numpy().tobytes() for s in data.splits().values() for i in s.images)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_kaggle_release_reads_with_position_rows(tmp_path: Path, data: FERData, ext: str) -> None:
    root = write_kaggle_release(data, tmp_path / "fer2013", ext)
    back = load_fer2013(root, use_cache=False)
    assert back.counts()["test"] == 14 and len(back.train) + len(back.val) == 28
    assert back.rows_are_csv is False
    assert POSITION_ROWS_NOTE in back.notes
    assert all_rows(back) == list(range(42))  # positions: 0-27 train/, 28-41 test/
    if ext == "png":
        assert image_bytes(back) == image_bytes(data)


def test_kaggle_release_refuses_ferplus(tmp_path: Path, data: FERData) -> None:
    root = write_kaggle_release(data, tmp_path / "fer2013")
    votes = votes_file(data, tmp_path)
    with pytest.raises(FERFormatError) as err:
        load_fer2013(root, labels="ferplus", ferplus_path=votes)
    message = str(err.value)
    assert "folder positions, not fer2013.csv rows" in message
    assert "not named by csv row" in message and "Training_3908.jpg" in message
    assert "fer2013.csv" in message and "fer2013.npz" in message and "<row>.png" in message
    positions = load_fer2013(root)
    for refuse in (check_alignment, ferplus_counts):
        with pytest.raises(FERFormatError, match="folder positions"):
            refuse(positions, synthetic_ferplus_votes(data, seed=1))
    with pytest.raises(FERFormatError, match="stored predictions"):
        require_csv_rows(positions, "stored predictions")
    # Counts and usages agree (train/ positions are Training rows, test/ positions test
    # rows): without the marker the votes would be joined, to the wrong faces.
    unmarked = dataclasses.replace(
        positions, rows_are_csv=True, notes=[n for n in positions.notes if n != POSITION_ROWS_NOTE]
    )
    assert sum(apply_ferplus_labels(unmarked, votes).counts().values()) > 0


@pytest.mark.parametrize("layout", ["three", "two"])
def test_row_named_folders_keep_csv_rows(tmp_path: Path, data: FERData, layout: str) -> None:
    root = write_image_folders(data, tmp_path / "faces", layout=layout)
    back = load_fer2013(root, use_cache=False)
    assert back.rows_are_csv is True and POSITION_ROWS_NOTE not in back.notes
    assert all_rows(back) == all_rows(data)
    votes = votes_file(data, tmp_path)
    plus = load_fer2013(root, labels="ferplus", ferplus_path=votes, use_cache=False)
    assert plus.rows_are_csv is True
    expected = apply_ferplus_labels(data, votes)
    want = {int(r): int(label) for s in expected.splits().values()
            for r, label in zip(s.rows, s.labels)}
    got = {int(r): int(label) for s in plus.splits().values()
           for r, label in zip(s.rows, s.labels)}
    assert got == want


def test_csv_and_npz_rows_are_csv_rows(tmp_path: Path, data: FERData) -> None:
    csv = write_kaggle_csv(data, tmp_path / "fer2013.csv")
    npz = write_npz(data, tmp_path / "fer2013.npz")
    for path in (csv, npz):
        assert load_fer2013(path).rows_are_csv is True
    assert data.rows_are_csv is True  # synthetic rows are the rows of its csv


def test_numbers_that_are_not_distinct_rows_give_positions(tmp_path: Path, data: FERData) -> None:
    """Files numbered per split (``train/…/1.png`` and ``test/…/1.png``) or numbered in one
    split only are not csv rows: every split gets positions, and no two images share a row."""
    for root, names in ((tmp_path / "per_split", lambda split, i: f"{i}.png"),
                        (tmp_path / "mixed", lambda split, i: f"{i}.png" if split == "train"
                         else f"PrivateTest_{i}.png")):
        for name, split in data.splits().items():
            folder = "train" if name == "train" else "test"
            for i, (image, label) in enumerate(zip(split.images.numpy(), split.labels.tolist())):
                class_dir = root / folder / data.classes[label].lower()
                class_dir.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(class_dir / names(name, i + 100 * (name == "test")))
        back = load_fer2013(root, use_cache=False)
        assert back.rows_are_csv is False, root.name
        assert all_rows(back) == list(range(42)), root.name


def test_cache_keeps_the_marker(tmp_path: Path, data: FERData, monkeypatch) -> None:
    kaggle = write_kaggle_release(data, tmp_path / "kaggle")
    named = write_image_folders(data, tmp_path / "named")
    first = {root: load_fer2013(root) for root in (kaggle, named)}

    def no_read(root):
        raise AssertionError(f"{root} was read again although a cache exists")

    monkeypatch.setattr(readers, "read_folder_arrays", no_read)
    for root, expected in ((kaggle, False), (named, True)):
        again = load_fer2013(root)
        assert again.rows_are_csv is expected
        assert same_fer_data(again, first[root])
        (cache_file,) = (tmp_path / CACHE_DIR_NAME).glob(f"{root.name}-*.npz")
        with np.load(cache_file) as z:
            assert bool(z["rows_are_csv"]) is expected
        assert load_fer2013(cache_file).rows_are_csv is expected  # the cache read as an npz


def _drop_marker(cache_file: Path) -> None:
    with np.load(cache_file) as z:
        arrays = {k: z[k] for k in z.files if k != "rows_are_csv"}
    np.savez(cache_file, **arrays)


def test_cache_without_marker(tmp_path: Path, data: FERData, monkeypatch) -> None:
    """A cache written before the marker: a folder's is read again (its rows may be
    positions), a csv's is used (its rows are csv rows)."""
    kaggle = write_kaggle_release(data, tmp_path / "kaggle")
    csv = write_kaggle_csv(data, tmp_path / "fer2013.csv")
    load_fer2013(kaggle)
    load_fer2013(csv)
    caches = {p.name.split("-")[0]: p for p in (tmp_path / CACHE_DIR_NAME).glob("*.npz")}
    for cache_file in caches.values():
        _drop_marker(cache_file)
    # Read as a plain npz, the old folder cache is not trusted, the old csv cache is.
    assert load_fer2013(caches["kaggle"]).rows_are_csv is False
    assert load_fer2013(caches["fer2013.csv"]).rows_are_csv is True

    reads = []
    real_read = readers.read_folder_arrays
    monkeypatch.setattr(readers, "read_folder_arrays",
                        lambda root: reads.append(root) or real_read(root))
    monkeypatch.setattr(readers, "parse_fer_csv", lambda *a, **k: pytest.fail("csv parsed"))
    assert load_fer2013(kaggle).rows_are_csv is False
    assert reads == [kaggle]  # the folder was read again ...
    with np.load(caches["kaggle"]) as z:
        assert bool(z["rows_are_csv"]) is False  # ... and its cache rewritten with the marker
    assert load_fer2013(csv).rows_are_csv is True  # the csv's old cache was used


def test_copies_keep_the_marker(tmp_path: Path, data: FERData) -> None:
    back = load_fer2013(write_kaggle_release(data, tmp_path / "kaggle"), use_cache=False)
    assert back.rows_are_csv is False and len(back.val) > 0  # val carved from train/
    # a subset built by hand that keeps the notes (as analysis.ablation.evaluation_subset)
    subset = FERData(back.train, Split(back.val.images[:2], back.val.labels[:2],
                                       back.val.rows[:2]), back.test, back.classes,
                     back.source, list(back.notes), list(back.skipped))
    assert subset.rows_are_csv is False
    packed = read_packed_fer(write_packed_fer(back, tmp_path / "k.ferpack", effort="fast"))
    assert packed.rows_are_csv is False and same_fer_data(packed, back)
    assert read_packed_fer(write_packed_fer(data, tmp_path / "s.ferpack", "fast")).rows_are_csv
    plus = apply_ferplus_labels(data, synthetic_ferplus_votes(data))
    assert plus.rows_are_csv is True


def test_writers_do_not_turn_positions_into_csv_rows(tmp_path: Path, data: FERData) -> None:
    back = load_fer2013(write_kaggle_release(data, tmp_path / "kaggle"), use_cache=False)
    folders = write_image_folders(back, tmp_path / "again")
    assert all(p.name.startswith("position_") for p in folders.rglob("*.png"))
    assert load_fer2013(folders, use_cache=False).rows_are_csv is False
    npz = write_npz(back, tmp_path / "again.npz")
    assert load_fer2013(npz).rows_are_csv is False
    with pytest.warns(UserWarning, match="folder positions"):
        write_kaggle_csv(back, tmp_path / "again.csv")


def test_marker_and_note_go_together() -> None:
    one = Split(torch.zeros(1, 48, 48, dtype=torch.uint8), torch.tensor([0]))
    marked = FERData(one, one, one, rows_are_csv=False)
    assert marked.notes == [POSITION_ROWS_NOTE]
    assert FERData(one, one, one, notes=[POSITION_ROWS_NOTE]).rows_are_csv is False
    assert FERData(one, one, one).rows_are_csv is True
    assert legacy_rows_are_csv("fer2013.csv") and legacy_rows_are_csv("fer2013.npz")
    assert legacy_rows_are_csv("synthetic (seed 0)")
    assert not legacy_rows_are_csv("fer2013") and not legacy_rows_are_csv("images")
