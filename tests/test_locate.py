"""Finding FER-2013 on disk, and the help text shown when it is not there.

Every test runs with HOME and the working directory pointed at temporary folders, no
``$FER2013_PATH`` and not in Colab, so a developer's own copy of the data is never found.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_course.data.locate import (
    COMPETITION,
    DATASET,
    DataNotFoundError,
    find_fer2013,
    missing_data_message,
)

CSV = b"emotion,pixels,Usage\n3," + b" ".join([b"0"] * 2304) + b",Training\n"


@pytest.fixture(autouse=True)
def sandbox(offline_home: Path) -> Path:
    """Every test here runs in the offline sandbox of ``conftest.offline_home``."""
    return offline_home


# --------------------------------------------------------------------------- messages


def test_missing_message_names_every_way() -> None:
    msg = missing_data_message("data/fer2013.csv")
    assert "data/fer2013.csv" in msg.splitlines()[0]
    for needle in ("Kaggle", "kaggle.json", "KAGGLE_USERNAME", "KAGGLE_KEY", "Secrets",
                   COMPETITION, "kaggle competitions download -c", DATASET, "fer2013.tar.gz",
                   "icml_face_data.csv", ".npz", "train/", "files.upload()",
                   "drive.mount('/content/drive')", "FER2013_PATH", 'download_fer2013("data/")'):
        assert needle in msg, needle
    assert 15 <= len(msg.splitlines()) <= 30
    assert missing_data_message(None).startswith("FER-2013 was not found.")


def test_data_not_found_error_is_file_not_found() -> None:
    err = DataNotFoundError("x.csv")
    assert isinstance(err, FileNotFoundError)
    assert str(err) == missing_data_message("x.csv")
    assert err.path == Path("x.csv")


# --------------------------------------------------------------------------- find_fer2013


def test_find_explicit_path(sandbox: Path) -> None:
    csv = sandbox / "mine.csv"
    csv.write_bytes(CSV)
    assert find_fer2013(csv) == csv
    assert find_fer2013(str(csv)) == csv
    with pytest.raises(DataNotFoundError, match="nope.csv"):
        find_fer2013(sandbox / "nope.csv")


def test_find_env_var(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = sandbox / "elsewhere" / "fer2013.csv"
    csv.parent.mkdir()
    csv.write_bytes(CSV)
    (sandbox / "work" / "fer2013.csv").write_bytes(CSV)  # the env var wins over usual places
    monkeypatch.setenv("FER2013_PATH", str(csv))
    assert find_fer2013() == csv
    monkeypatch.setenv("FER2013_PATH", str(sandbox / "missing.csv"))
    with pytest.raises(DataNotFoundError, match="FER2013_PATH"):
        find_fer2013()


def test_find_usual_places_in_order(sandbox: Path) -> None:
    work, home = sandbox / "work", sandbox / "home"
    (home / "fer2013.csv").write_bytes(CSV)
    assert find_fer2013() == home / "fer2013.csv"
    (work / "data" / "fer2013").mkdir(parents=True)  # an empty folder is not a data set
    assert find_fer2013() == home / "fer2013.csv"
    (work / "data" / "fer2013" / "train").mkdir()
    assert find_fer2013() == work / "data" / "fer2013"
    (work / "data" / "fer2013.npz").write_bytes(b"npz")
    assert find_fer2013() == work / "data" / "fer2013.npz"
    (work / "data" / "fer2013.csv").write_bytes(CSV)
    assert find_fer2013() == work / "data" / "fer2013.csv"


def test_find_nothing_lists_what_was_tried(sandbox: Path) -> None:
    with pytest.raises(DataNotFoundError) as info:
        find_fer2013()
    msg = str(info.value)
    assert str(sandbox / "work" / "data" / "fer2013.csv") in msg.replace("\n  ", " ")
    assert "files.upload()" in msg
    assert sandbox / "home" / "fer2013.csv" in info.value.tried
