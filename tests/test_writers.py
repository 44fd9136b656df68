"""Writers produce the real FER-2013 file formats, and the real readers read them back."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from fer_course.atomic import atomic_open
from fer_course.data.formats.writers import (
    rows_in_csv_order,
    write_image_folders,
    write_kaggle_csv,
    write_npz,
)
from fer_course.data.readers import load_fer2013
from fer_course.data.synthetic import make_synthetic_fer
from fer_course.data.types import IMAGE_SIZE

NAMES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
USAGE_ORDER = ["Training"] * 28 + ["PublicTest"] * 14 + ["PrivateTest"] * 14


@pytest.fixture(scope="module")
def data():
    return make_synthetic_fer(28, 14, 14, seed=3)


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def _assert_same_splits(got, expected):
    for name, split in expected.splits().items():
        back = got.splits()[name]
        assert torch.equal(back.images, split.images), name
        assert torch.equal(back.labels, split.labels), name
        assert np.array_equal(back.rows, split.rows), name


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_rows_in_csv_order_sorts_by_row(data):
    rows, images, labels, usage = rows_in_csv_order(data)
    assert np.array_equal(rows, np.arange(56))
    assert usage.tolist() == USAGE_ORDER
    assert np.array_equal(images[28:42], data.val.images.numpy())
    assert np.array_equal(labels[42:], data.test.labels.numpy())


def test_fer2013_csv_format(data, tmp_path):
    path = write_kaggle_csv(data, tmp_path / "fer2013.csv")
    table = _read_csv(path)
    assert table[0] == ["emotion", "pixels", "Usage"]
    assert len(table) == 1 + 56
    first = table[1]
    assert first[0] == str(int(data.train.labels[0]))
    assert first[1] == " ".join(str(v) for v in data.train.images[0].flatten().tolist())
    assert len(first[1].split(" ")) == IMAGE_SIZE * IMAGE_SIZE
    assert [row[2] for row in table[1:]] == USAGE_ORDER
    assert "\r" not in path.read_text()
    assert _leftovers(tmp_path) == []


def test_icml_csv_format(data, tmp_path):
    path = write_kaggle_csv(data, tmp_path / "icml_face_data.csv", variant="icml")
    assert path.read_text().splitlines()[0] == "emotion, Usage, pixels"
    table = _read_csv(path)
    assert table[0] == ["emotion", " Usage", " pixels"]
    assert table[1][:2] == [str(int(data.train.labels[0])), "Training"]
    assert table[-1][1] == "PrivateTest"
    assert table[-1][2].split(" ") == [str(v) for v in data.test.images[-1].flatten().tolist()]


def test_csv_bad_variant_writes_nothing(data, tmp_path):
    with pytest.raises(ValueError, match="variant"):
        write_kaggle_csv(data, tmp_path / "x.csv", variant="excel")
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_three_folder_png_layout(data, tmp_path):
    root = write_image_folders(data, tmp_path / "folders")
    assert sorted(p.name for p in root.iterdir()) == ["test", "train", "val"]
    for name, split in data.splits().items():
        assert sorted(p.name for p in (root / name).iterdir()) == sorted(NAMES)
        for label, count in enumerate(split.class_counts()):
            assert len(list((root / name / NAMES[label]).iterdir())) == count
        for image, label, row in zip(split.images, split.labels, split.rows, strict=True):
            with Image.open(root / name / NAMES[label] / f"{row:05d}.png") as saved:
                assert saved.mode == "L" and saved.size == (IMAGE_SIZE, IMAGE_SIZE)
                assert np.array_equal(np.asarray(saved), image.numpy())
    assert _leftovers(tmp_path) == []


def test_two_folder_layout_merges_val_into_test(data, tmp_path):
    root = write_image_folders(data, tmp_path / "two", layout="two", class_names="digits")
    assert sorted(p.name for p in root.iterdir()) == ["test", "train"]
    assert sorted(p.name for p in (root / "test").iterdir()) == [str(i) for i in range(7)]
    test_rows = sorted(int(p.stem) for p in (root / "test").rglob("*.png"))
    assert test_rows == list(range(28, 56))
    train_rows = sorted(int(p.stem) for p in (root / "train").rglob("*.png"))
    assert train_rows == list(range(28))


def test_jpg_is_close_but_lossy(data, tmp_path):
    root = write_image_folders(data, tmp_path / "jpg", ext="jpg")
    label, row = int(data.val.labels[0]), int(data.val.rows[0])
    with Image.open(root / "val" / NAMES[label] / f"{row:05d}.jpg") as saved:
        assert saved.mode == "L"
        pixels = np.asarray(saved).astype(int)
    assert np.abs(pixels - data.val.images[0].numpy().astype(int)).mean() < 8


def test_image_folders_refuse_non_empty_root(data, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        write_image_folders(data, tmp_path / "full")
    (tmp_path / "empty").mkdir()
    assert (write_image_folders(data, tmp_path / "empty") / "train").is_dir()


def test_npz_format(data, tmp_path):
    path = write_npz(data, tmp_path / "fer2013.npz")
    assert _leftovers(tmp_path) == []
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == ["images", "labels", "usage"]
        assert z["images"].dtype == np.uint8 and z["images"].shape == (56, 48, 48)
        assert z["labels"].dtype == np.int64 and z["labels"].shape == (56,)
        assert z["usage"].dtype.kind == "U" and z["usage"].tolist() == USAGE_ORDER
        assert np.array_equal(z["images"][:28], data.train.images.numpy())
        assert np.array_equal(z["labels"][42:], data.test.labels.numpy())


@pytest.mark.parametrize("variant", ["fer2013", "icml"])
def test_csv_round_trip_through_reader(data, tmp_path, variant):
    path = write_kaggle_csv(data, tmp_path / f"{variant}.csv", variant=variant)
    _assert_same_splits(load_fer2013(path, use_cache=False), data)


def test_npz_round_trip_through_reader(data, tmp_path):
    _assert_same_splits(load_fer2013(write_npz(data, tmp_path / "d.npz")), data)


@pytest.mark.parametrize("class_names", ["names", "digits"])
def test_three_folder_round_trip_through_reader(data, tmp_path, class_names):
    root = write_image_folders(data, tmp_path / "f", class_names=class_names)
    _assert_same_splits(load_fer2013(root, use_cache=False), data)


def test_two_folder_round_trip_carves_val_from_train(data, tmp_path):
    root = write_image_folders(data, tmp_path / "two", layout="two")
    back = load_fer2013(root, use_cache=False)
    assert back.counts()["test"] == 28 and len(back.train) + len(back.val) == 28
    assert len(back.val) > 0
    assert any("val" in note and "train" in note for note in back.notes)
    rows, images, labels, _ = rows_in_csv_order(data)
    for split in back.splits().values():
        assert np.array_equal(split.images.numpy(), images[split.rows])
        assert np.array_equal(split.labels.numpy(), labels[split.rows])
    assert sorted(back.test.rows.tolist()) == list(range(28, 56))
