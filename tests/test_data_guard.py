"""Data that cannot quietly shrink (``fer_course.data.guard``) and the data check
(``fer_course.data.summary``)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_course.data import (
    MAX_SKIPPED_SHARE,
    DataShrankError,
    FERData,
    FERFormatError,
    Split,
    load_fer2013,
    make_synthetic_fer,
    write_image_folders,
    write_kaggle_csv,
    write_npz,
)
from fer_course.data.formats.cache import CACHE_DIR_NAME
from fer_course.data.packed import read_packed_fer, write_packed_fer
from fer_course.data.summary import data_summary, describe_data

BAD_PIXELS = " ".join(["1"] * 2303)  # one pixel short


@pytest.fixture(scope="module")
def synthetic() -> FERData:
    return make_synthetic_fer(280, 35, 35, seed=2, with_flaws=False)  # 350 rows


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def with_bad_rows(synthetic: FERData, path: Path, data_rows: list[int],
                  variant: str = "fer2013") -> Path:
    """A csv of ``synthetic`` whose given data rows have 2,303 pixels."""
    lines = lines_of(write_kaggle_csv(synthetic, path, variant=variant))
    for row in data_rows:
        cells = lines[row + 1].rstrip("\n").split(",")
        cells[1 if variant == "fer2013" else 2] = BAD_PIXELS
        lines[row + 1] = ",".join(cells) + "\n"
    path.write_text("".join(lines))
    return path


def test_error_is_a_value_error_and_the_share_is_one_percent() -> None:
    assert issubclass(DataShrankError, FERFormatError)
    assert issubclass(DataShrankError, ValueError)
    assert MAX_SKIPPED_SHARE == 0.01


def test_csv_cut_short_raises_naming_file_splits_and_line(tmp_path: Path, synthetic) -> None:
    full = write_kaggle_csv(synthetic, tmp_path / "full.csv")
    text = full.read_text()
    cut = tmp_path / "fer2013.csv"
    cut.write_text(text[: len(text) // 2])  # mid-line, inside the Training rows
    n_lines = len(lines_of(cut))
    with pytest.raises(DataShrankError) as err:
        load_fer2013(cut, skip_bad_rows=True)
    message = str(err.value)
    assert message.startswith(f"{cut}: splits val (PublicTest) and test (PrivateTest) are empty")
    skips = f"1 of {n_lines - 1} rows skipped as bad: line {n_lines} (first: line {n_lines}:"
    assert skips in message
    assert "cut short" in message
    assert not (tmp_path / CACHE_DIR_NAME).exists()  # a refused load writes nothing


def test_csv_cut_at_a_line_end_raises_without_skipping(tmp_path: Path, synthetic) -> None:
    lines = lines_of(write_kaggle_csv(synthetic, tmp_path / "full.csv"))
    cut = tmp_path / "fer2013.csv"
    cut.write_text("".join(lines[:301]))  # header, 280 Training rows, 20 PublicTest rows
    with pytest.raises(DataShrankError, match=r"split test \(PrivateTest\) is empty "
                       r"\(train 280, val 20, test 0\); no row was skipped"):
        load_fer2013(cut)
    assert not (tmp_path / CACHE_DIR_NAME).exists()


def test_too_many_bad_rows_raise(tmp_path: Path, synthetic) -> None:
    path = with_bad_rows(synthetic, tmp_path / "fer2013.csv", [4, 9, 17, 30, 31, 40, 50])
    with pytest.raises(DataShrankError) as err:
        load_fer2013(path, skip_bad_rows=True)
    message = str(err.value)
    assert message.startswith(f"{path}: 7 of 350 rows skipped as bad (2.0%), more than the 1%")
    assert "lines 6, 11, 19, 32, 33 and 2 more" in message  # data row 4 is line 6
    assert "expected 2304 pixels, got 2303" in message
    assert not (tmp_path / CACHE_DIR_NAME).exists()
    # a larger share accepts the loss, and the accepted load is cached
    with pytest.warns(UserWarning, match="skipped 7 bad rows"):
        data = load_fer2013(path, skip_bad_rows=True, max_skipped_share=0.05)
    assert len(data.skipped) == 7
    assert list((tmp_path / CACHE_DIR_NAME).glob("fer2013.csv-skip-*.npz"))
    # the cache is checked too: the default share still refuses it
    with pytest.raises(DataShrankError, match="7 of 350 rows"):
        load_fer2013(path, skip_bad_rows=True)


def test_a_few_bad_rows_under_the_share_load(tmp_path: Path, synthetic) -> None:
    path = with_bad_rows(synthetic, tmp_path / "fer2013.csv", [10, 300])
    with pytest.warns(UserWarning, match="skipped 2 bad rows of fer2013.csv"):
        data = load_fer2013(path, skip_bad_rows=True)
    assert data.counts() == {"train": 279, "val": 34, "test": 35}
    assert data.skipped == ["line 12: expected 2304 pixels, got 2303",
                            "line 302: expected 2304 pixels, got 2303"]
    assert list((tmp_path / CACHE_DIR_NAME).glob("*.npz"))


def test_max_skipped_share_must_be_a_share(tmp_path: Path, synthetic) -> None:
    path = write_kaggle_csv(synthetic, tmp_path / "fer2013.csv")
    with pytest.raises(ValueError, match="max_skipped_share must be between 0 and 1, got 5"):
        load_fer2013(path, max_skipped_share=5)


def test_npz_without_private_test_raises(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.npz"
    np.savez(path, images=np.zeros((3, 48, 48), np.uint8), labels=np.array([0, 3, 6]),
             usage=np.array(["Training", "Training", "PublicTest"]))
    with pytest.raises(DataShrankError, match=r"fer2013.npz: split test \(PrivateTest\) is "
                       r"empty \(train 2, val 1, test 0\)"):
        load_fer2013(path)


def test_folders_need_every_split_but_two_folders_carve_val(tmp_path: Path, synthetic) -> None:
    two = load_fer2013(write_image_folders(synthetic, tmp_path / "two", layout="two"))
    assert min(two.counts().values()) > 0
    (cache_file,) = (tmp_path / CACHE_DIR_NAME).glob("two-*.npz")
    assert load_fer2013(cache_file).counts() == two.counts()  # its cache carves val too

    no_test = FERData(synthetic.train, synthetic.val,
                      Split(torch.zeros(0, 48, 48, dtype=torch.uint8),
                            torch.zeros(0, dtype=torch.int64)))
    npz = write_npz(no_test, tmp_path / "no_test.npz")
    with pytest.raises(DataShrankError, match="split test"):
        load_fer2013(npz)


def test_packed_file_with_an_empty_split_raises(tmp_path: Path, synthetic) -> None:
    empty = Split(torch.zeros(0, 48, 48, dtype=torch.uint8), torch.zeros(0, dtype=torch.int64))
    path = write_packed_fer(FERData(synthetic.train, empty, synthetic.test),
                            tmp_path / "fer2013.ferpack", effort="fast")
    assert len(read_packed_fer(path).val) == 0  # the format itself may hold anything
    with pytest.raises(DataShrankError, match=r"fer2013.ferpack: split val \(PublicTest\)"):
        load_fer2013(path)


def test_synthetic_data_still_round_trips(tmp_path: Path) -> None:
    small = make_synthetic_fer(14, 7, 7)
    for path in (write_kaggle_csv(small, tmp_path / "s.csv"), write_npz(small, tmp_path / "s.npz"),
                 write_image_folders(small, tmp_path / "faces")):
        assert load_fer2013(path).counts() == {"train": 14, "val": 7, "test": 7}, path


def test_describe_data_counts_a_synthetic_csv(tmp_path: Path, synthetic) -> None:
    path = write_kaggle_csv(synthetic, tmp_path / "fer2013.csv")
    summary = data_summary(path)
    assert summary["path"] == str(path)
    assert summary["form"] == "csv, fer2013.csv layout (emotion, pixels, Usage)"
    assert summary["counts"] == {"train": 280, "val": 35, "test": 35}
    assert summary["total"] == 350
    for name, split in synthetic.splits().items():
        expected = dict(zip(synthetic.classes, split.class_counts(), strict=True))
        assert summary["class_counts"][name] == expected, name
    assert summary["skipped"] == []
    assert json.loads(json.dumps(summary)) == summary  # ready for --json

    text = describe_data(path)
    lines = text.splitlines()
    assert lines[0] == f"data:   {path}"
    assert "splits: train 280 / val 35 / test 35 (350 images)" in lines
    header = next(i for i, line in enumerate(lines) if line.startswith("class"))
    assert lines[header].split() == ["class", "train", "val", "test"]
    for i, name in enumerate(synthetic.classes):
        row = lines[header + 1 + i].split()
        assert row == [name, *(str(c) for c in (s.class_counts()[i]
                                                 for s in synthetic.splits().values()))]
    assert lines[header + 8].split() == ["total", "280", "35", "35"]
    assert len({len(lines[header + k]) for k in range(9)}) == 1  # an aligned table


def test_describe_data_lists_skips_and_finds_the_data(tmp_path: Path, synthetic,
                                                      monkeypatch) -> None:
    path = with_bad_rows(synthetic, tmp_path / "icml_face_data.csv", [5], variant="icml")
    monkeypatch.setenv("FER2013_PATH", str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = describe_data(skip_bad_rows=True)
    assert "form:   csv, icml_face_data.csv layout (emotion, Usage, pixels)" in text
    assert "skipped rows: 1\n  line 7: expected 2304 pixels, got 2303" in text
    assert "notes:\n  - skipped 1 bad rows of icml_face_data.csv" in text
    with pytest.raises(FERFormatError, match="line 7"):  # strict by default
        describe_data()


@pytest.mark.realdata
def test_real_csv_cut_short_raises(real_data_path: Path, tmp_path: Path) -> None:
    real = load_fer2013(real_data_path)
    assert real.counts() == {"train": 28709, "val": 3589, "test": 3589}
    assert data_summary(real_data_path)["class_counts"]["test"]["Happy"] == 879
    text = write_kaggle_csv(real, tmp_path / "full.csv").read_text()
    cut = tmp_path / "fer2013.csv"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(DataShrankError) as err:
        load_fer2013(cut, skip_bad_rows=True)
    message = str(err.value)
    assert "splits val (PublicTest) and test (PrivateTest) are empty" in message
    n_lines = len(lines_of(cut))  # the header, whole rows, and the half-written last one
    assert f"1 of {n_lines - 1:,} rows skipped as bad: line {n_lines} (first: " in message
    assert not (tmp_path / CACHE_DIR_NAME).exists()
