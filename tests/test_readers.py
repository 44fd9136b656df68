"""load_fer2013 on every accepted format, its cache, and its errors on bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_course.data import DataNotFoundError, FERFormatError, load_fer2013
from fer_course.data.formats import kaggle_csv as kaggle_csv_module
from fer_course.data.formats.writers import write_image_folders, write_kaggle_csv, write_npz

PIXELS = " ".join(str(i % 256) for i in range(2304))


def csv_text(rows: list[tuple[str, str, str]], header: str = "emotion,pixels,Usage") -> str:
    return header + "\n" + "".join(f"{e},{p},{u}\n" for e, p, u in rows)


GOOD_ROWS = [("0", PIXELS, "Training"), ("3", PIXELS, "Training"),
             ("5", PIXELS, "PublicTest"), ("6", PIXELS, "PrivateTest")]


def assert_same_data(a, b) -> None:
    for name, split in a.splits().items():
        other = b.splits()[name]
        assert split.images.equal(other.images), name
        assert split.labels.equal(other.labels), name


def test_contract_types_and_classes(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text(csv_text(GOOD_ROWS))
    data = load_fer2013(path)
    assert data.classes == ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
    assert data.counts() == {"train": 2, "val": 1, "test": 1}
    assert str(data.train.images.dtype) == "torch.uint8"
    assert tuple(data.train.images.shape) == (2, 48, 48)
    assert str(data.train.labels.dtype) == "torch.int64"
    assert data.train.labels.tolist() == [0, 3]
    assert data.train.images[0].flatten()[:3].tolist() == [0, 1, 2]
    assert data.source == "fer2013.csv"


def test_csv_variants_round_trip(tmp_path: Path, small_synthetic) -> None:
    for variant in ("fer2013", "icml"):
        path = write_kaggle_csv(small_synthetic, tmp_path / f"{variant}.csv", variant=variant)
        assert_same_data(load_fer2013(path), small_synthetic)


def test_icml_header_with_leading_spaces(tmp_path: Path) -> None:
    path = tmp_path / "icml_face_data.csv"
    rows = "".join(f"{e}, {u}, {p}\n" for e, p, u in GOOD_ROWS)
    path.write_text("emotion, Usage, pixels\n" + rows)
    assert load_fer2013(path).counts() == {"train": 2, "val": 1, "test": 1}


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (("0", " ".join(["1"] * 2303), "Training"), "expected 2304 pixels, got 2303"),
        (("0", PIXELS.replace(" 7 ", " x7 ", 1), "Training"), "pixel 8 is 'x7'"),
        (("0", PIXELS.replace(" 7 ", " 300 ", 1), "Training"), "pixel 8 is 300, outside 0-255"),
        (("7", PIXELS, "Training"), "label '7' outside 0-6"),
        (("-1", PIXELS, "Training"), "label '-1' outside 0-6"),
        (("2", PIXELS, "Validation"), "unknown Usage 'Validation'"),
    ],
)
def test_bad_row_names_file_and_line(tmp_path: Path, bad_row, expected: str) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(csv_text([GOOD_ROWS[0], GOOD_ROWS[1], bad_row, GOOD_ROWS[2]]))
    with pytest.raises(FERFormatError) as err:
        load_fer2013(path)
    message = str(err.value)
    assert "broken.csv: line 4:" in message  # header is line 1, the bad row is the 3rd data row
    assert expected in message


def test_skip_bad_rows_reports_every_skip(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    bad1 = ("9", PIXELS, "Training")
    bad2 = ("1", "1 2 3", "PrivateTest")
    path.write_text(csv_text([GOOD_ROWS[0], bad1, *GOOD_ROWS[1:], bad2]))
    with pytest.warns(UserWarning, match="skipped 2 bad rows of broken.csv"):
        data = load_fer2013(path, skip_bad_rows=True, max_skipped_share=0.5)
    assert data.counts() == {"train": 2, "val": 1, "test": 1}
    assert data.skipped == [
        "line 3: label '9' outside 0-6",
        "line 7: expected 2304 pixels, got 3",
    ]
    assert any("skipped 2 bad rows" in note for note in data.notes)
    # rows keep their place in the source: row 1 (line 3) is missing
    assert data.train.rows.tolist() == [0, 2]
    # strict mode still refuses the file even though a skipping load was cached
    with pytest.raises(FERFormatError, match="line 3"):
        load_fer2013(path)


def test_cache_is_written_used_and_invalidated(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text(csv_text(GOOD_ROWS))
    first = load_fer2013(path)
    caches = list((tmp_path / ".fer_course_cache").glob("fer2013.csv-*.npz"))
    assert len(caches) == 1

    def no_parse(*args, **kwargs):
        raise AssertionError("the csv was parsed again although a cache exists")

    monkeypatch.setattr("fer_course.data.readers.parse_fer_csv", no_parse)
    assert_same_data(load_fer2013(path), first)
    monkeypatch.setattr("fer_course.data.readers.parse_fer_csv", kaggle_csv_module.parse_fer_csv)

    path.write_text(csv_text([*GOOD_ROWS, ("4", PIXELS, "Training")]))  # an edited source
    assert load_fer2013(path).counts()["train"] == 3
    assert len(list((tmp_path / ".fer_course_cache").glob("fer2013.csv-*.npz"))) == 1


def test_read_only_folder_caches_in_home(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    data_dir = tmp_path / "ro"
    data_dir.mkdir()
    path = data_dir / "fer2013.csv"
    path.write_text(csv_text(GOOD_ROWS))
    monkeypatch.setattr("fer_course.data.formats.cache._writable", lambda folder: False)
    load_fer2013(path)
    assert list((home / ".cache" / "fer_course").glob("fer2013.csv-*.npz"))
    assert not (data_dir / ".fer_course_cache").exists()


def test_npz_formats(tmp_path: Path, small_synthetic) -> None:
    path = write_npz(small_synthetic, tmp_path / "plain.npz")
    assert_same_data(load_fer2013(path), small_synthetic)
    csv_path = write_kaggle_csv(small_synthetic, tmp_path / "fer2013.csv")
    load_fer2013(csv_path)
    (own_cache,) = (tmp_path / ".fer_course_cache").glob("*.npz")
    assert_same_data(load_fer2013(own_cache), small_synthetic)


def test_npz_bad_label_names_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((4, 48, 48), np.uint8), labels=np.array([0, 12, 1, 2]),
             usage=np.array(["Training", "Training", "PublicTest", "PrivateTest"]))
    with pytest.raises(FERFormatError, match=r"bad.npz: row 1: label 12 outside 0-6"):
        load_fer2013(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_fer2013(path, skip_bad_rows=True, max_skipped_share=0.25)
    assert data.skipped == ["row 1: label 12 outside 0-6"]


def test_npz_missing_arrays(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(FERFormatError, match=r"lacks array\(s\) \['images', 'labels', 'usage'\]"):
        load_fer2013(path)


@pytest.mark.parametrize("class_names", ["names", "digits"])
def test_three_folder_layout(tmp_path: Path, small_synthetic, class_names: str) -> None:
    root = write_image_folders(small_synthetic, tmp_path / "faces", class_names=class_names)
    data = load_fer2013(root)
    assert_same_data(data, small_synthetic)
    assert data.train.rows.tolist() == small_synthetic.train.rows.tolist()


def test_two_folder_layout_carves_stratified_val(tmp_path: Path, small_synthetic) -> None:
    root = write_image_folders(small_synthetic, tmp_path / "faces", layout="two")
    data = load_fer2013(root, val_fraction=0.2, seed=3)
    n_train = len(small_synthetic.train)
    assert len(data.test) == len(small_synthetic.val) + len(small_synthetic.test)
    assert len(data.train) + len(data.val) == n_train
    assert abs(len(data.val) - 0.2 * n_train) <= 7  # rounding per class
    assert any("carved from train" in n and "seed 3" in n for n in data.notes)
    # stratified: each class's share of val follows its share of train
    source_counts = np.array(small_synthetic.train.class_counts())
    val_counts = np.array(data.val.class_counts())
    assert np.all(np.abs(val_counts - 0.2 * source_counts) <= 1)
    # seeded: the same seed gives the same split, another seed another one
    assert load_fer2013(root, val_fraction=0.2, seed=3).val.rows.tolist() == data.val.rows.tolist()
    assert load_fer2013(root, val_fraction=0.2, seed=4).val.rows.tolist() != data.val.rows.tolist()


def make_folder(root: Path) -> Path:
    for split in ("train", "test"):
        (root / split / "happy").mkdir(parents=True)
        Image.fromarray(np.zeros((48, 48), np.uint8)).save(root / split / "happy" / "1.png")
    return root


def test_folder_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "train" / "happy").mkdir(parents=True)
    (empty / "test" / "sad").mkdir(parents=True)
    with pytest.raises(FERFormatError, match=r"train: no images"):
        load_fer2013(empty)

    wrong_size = make_folder(tmp_path / "size")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(wrong_size / "train" / "happy" / "2.png")
    with pytest.raises(FERFormatError, match=r"2.png: image is 28x28, expected 48x48"):
        load_fer2013(wrong_size)

    unreadable = make_folder(tmp_path / "garbage")
    (unreadable / "test" / "happy" / "3.png").write_bytes(b"not a png")
    with pytest.raises(FERFormatError, match=r"3.png: cannot read this image"):
        load_fer2013(unreadable)

    unknown = make_folder(tmp_path / "unknown")
    (unknown / "train" / "bored").mkdir()
    with pytest.raises(FERFormatError, match=r"unknown class folder 'bored'"):
        load_fer2013(unknown)

    no_splits = tmp_path / "flat"
    no_splits.mkdir()
    with pytest.raises(FERFormatError, match=r"expected split folders train/ and test/"):
        load_fer2013(no_splits)


def test_missing_path_says_how_to_get_the_data(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as err:
        load_fer2013(tmp_path / "nowhere" / "fer2013.csv")
    message = str(err.value)
    assert "nowhere" in message and "Kaggle" in message and "Drive" in message


def test_unsupported_file_type(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(FERFormatError, match="unsupported file type '.parquet'"):
        load_fer2013(path)
