"""The packed format (``.ferpack``) gives back exactly the ``FERData`` it was given."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_course.data import packed
from fer_course.data.packed import (
    main,
    read_packed_fer,
    same_fer_data,
    write_packed_fer,
)
from fer_course.data.readers import load_fer2013
from fer_course.data.synthetic import make_synthetic_fer
from fer_course.data.types import FERData, FERFormatError, Split

# sha256 of the real images in csv order (from the data folder's README).
REAL_IMAGES_SHA256 = "c267d81af4fae7bced50ff1be0ce06f7d14fb05887ece2efe39e04c35f8558b1"


def _with_edge_images(data: FERData) -> FERData:
    """``data`` with an all-black, an all-white and a random-noise image in each split, and
    rows that are not 0..N-1, so that every field has something to keep."""
    rng = np.random.default_rng(7)
    edges = np.stack([np.zeros((48, 48), np.uint8), np.full((48, 48), 255, np.uint8),
                      rng.integers(0, 256, (48, 48), dtype=np.uint8)])
    splits = {}
    for offset, (name, split) in enumerate(data.splits().items()):
        images = torch.cat([split.images, torch.from_numpy(edges)])
        labels = torch.cat([split.labels, torch.tensor([0, 3, 6])])
        rows = np.concatenate([np.asarray(split.rows), [10_000 + offset, 7, 2**40]])
        splits[name] = Split(images, labels, rows)
    return FERData(**splits, classes=data.classes, source="edges ✓.csv",
                   notes=[*data.notes, "a note"], skipped=["line 3: bad pixels"])


@pytest.fixture(scope="module")
def data() -> FERData:
    return _with_edge_images(make_synthetic_fer(28, 14, 14, seed=3))


@pytest.fixture(scope="module")
def packed_file(data: FERData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_packed_fer(data, tmp_path_factory.mktemp("packed") / "fer.ferpack",
                            effort="fast")


def test_round_trip_is_exact(data: FERData, packed_file: Path) -> None:
    back = read_packed_fer(packed_file)
    assert same_fer_data(back, data)
    for name, split in data.splits().items():
        got = back.splits()[name]
        assert got.images.dtype == torch.uint8 and got.labels.dtype == torch.int64
        assert got.images.numpy().tobytes() == split.images.numpy().tobytes(), name
        assert got.labels.tolist() == split.labels.tolist(), name
        assert np.asarray(got.rows).tolist() == np.asarray(split.rows).tolist(), name
    assert (back.classes, back.source, back.notes, back.skipped) == (
        data.classes, data.source, data.notes, data.skipped)


@pytest.mark.parametrize("effort", ["default", "max"])
def test_every_effort_is_lossless(data: FERData, effort: str, tmp_path: Path) -> None:
    small = FERData(*(Split(s.images[-4:], s.labels[-4:], s.rows[-4:])  # edges and one face
                      for s in data.splits().values()))
    assert same_fer_data(read_packed_fer(write_packed_fer(small, tmp_path / "x.ferpack",
                                                          effort=effort)), small)


def test_many_strips_and_an_empty_split(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(packed, "STRIP_IMAGES", 4)  # 21 + 7 distinct-ish images: 7+ strips
    data = make_synthetic_fer(21, 0, 7, seed=5)
    assert len(data.val) == 0
    back = read_packed_fer(write_packed_fer(data, tmp_path / "s.ferpack", effort="fast"))
    assert same_fer_data(back, data)


def test_duplicates_are_stored_once(tmp_path: Path) -> None:
    image = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    split = Split(torch.from_numpy(np.stack([image] * 50)), torch.zeros(50, dtype=torch.int64))
    once = Split(torch.from_numpy(image[None]), torch.zeros(1, dtype=torch.int64))
    empty = Split(torch.zeros(0, 48, 48, dtype=torch.uint8), torch.zeros(0, dtype=torch.int64))
    many = write_packed_fer(FERData(split, empty, empty), tmp_path / "many.ferpack", "fast")
    one = write_packed_fer(FERData(once, empty, empty), tmp_path / "one.ferpack", "fast")
    assert many.stat().st_size < one.stat().st_size + 200
    assert same_fer_data(read_packed_fer(many), FERData(split, empty, empty))


def test_load_fer2013_reads_the_format(data: FERData, packed_file: Path) -> None:
    assert same_fer_data(load_fer2013(packed_file), data)


@pytest.mark.parametrize("keep", [0, 5, 12, 40, -1])
def test_truncated_file_names_the_file(packed_file: Path, tmp_path: Path, keep: int) -> None:
    blob = packed_file.read_bytes()
    cut = tmp_path / "cut.ferpack"
    cut.write_bytes(blob[:keep] if keep >= 0 else blob[:-1])
    with pytest.raises(FERFormatError, match=r"cut\.ferpack: (truncated|not a packed)"):
        read_packed_fer(cut)


def test_damaged_and_foreign_files_name_the_file(packed_file: Path, tmp_path: Path) -> None:
    blob = bytearray(packed_file.read_bytes())
    blob[-100] ^= 0xFF
    bad = tmp_path / "bad.ferpack"
    bad.write_bytes(bytes(blob))
    with pytest.raises(FERFormatError, match=r"bad\.ferpack: corrupt image strip \d+"):
        load_fer2013(bad)
    blob = bytearray(packed_file.read_bytes())
    blob[30] ^= 0x01  # inside the JSON header
    bad.write_bytes(bytes(blob))
    with pytest.raises(FERFormatError, match=r"bad\.ferpack: corrupt header"):
        read_packed_fer(bad)
    bad.write_bytes(packed_file.read_bytes() + b"x")
    with pytest.raises(FERFormatError, match=r"bad\.ferpack: has trailing bytes"):
        read_packed_fer(bad)
    bad.write_bytes(b"emotion,pixels,Usage\n")
    with pytest.raises(FERFormatError, match=r"bad\.ferpack: not a packed FER-2013 file"):
        read_packed_fer(bad)


def test_failed_write_keeps_the_old_file(
    data: FERData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = write_packed_fer(data, tmp_path / "a.ferpack", effort="fast")
    before = target.read_bytes()

    def fail(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(packed, "encode_strip", fail)
    with pytest.raises(RuntimeError):
        write_packed_fer(data, target, effort="fast")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.ferpack"]


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fer_course.data.formats.writers import write_npz

    source = write_npz(make_synthetic_fer(14, 7, 7), tmp_path / "fer2013.npz")
    out = tmp_path / "out" / "fer2013.ferpack"
    assert main([str(source), str(out), "--effort", "fast"]) == 0
    printed = capsys.readouterr().out
    assert "MiB" in printed and "identical" in printed
    assert same_fer_data(read_packed_fer(out), load_fer2013(source))


@pytest.mark.realdata
@pytest.mark.slow
def test_real_data_round_trip(real_data_path: Path, tmp_path: Path) -> None:
    data = load_fer2013(real_data_path)
    out = write_packed_fer(data, tmp_path / "fer2013.ferpack", effort="fast")
    back = read_packed_fer(out)
    assert same_fer_data(back, data)
    assert back.counts() == {"train": 28709, "val": 3589, "test": 3589}
    images = torch.cat([back.train.images, back.val.images, back.test.images]).numpy()
    if np.array_equal(np.concatenate([s.rows for s in back.splits().values()]),
                      np.arange(len(images))):  # csv order: the README's checksum applies
        assert hashlib.sha256(images.tobytes()).hexdigest() == REAL_IMAGES_SHA256
