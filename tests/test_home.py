"""One home for runs and data, resolved alike from the repository root, book/, an installed
package and Colab; and the Colab set-up that moves it to Google Drive."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fer_course import home
from fer_course.data.locate import find_fer2013
from fer_course.ops import colab
from fer_course.runs import RunStore, default_runs_dir

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (home.HOME_ENV, home.RUNS_DIR_ENV, home.RESULTS_ENV, "FER2013_PATH"):
        monkeypatch.setenv(name, "")  # recorded, so that what colab.setup sets is undone
        monkeypatch.delenv(name)


@pytest.mark.parametrize("where", [".", "book", "fer_course/runs"])
def test_runs_and_results_resolve_to_the_checkout_from_any_folder_in_it(
        monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    monkeypatch.chdir(ROOT / where)
    assert home.course_home() == ROOT
    assert default_runs_dir("cpu") == ROOT / "runs" / "cpu"
    assert home.results_root() == ROOT / "results"
    assert RunStore("best").stored("best").is_finished()


def test_outside_any_checkout_the_package_checkout_is_home(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    assert home.checkout_root() is None
    assert home.course_home() == ROOT  # this package was imported from the checkout


def test_environment_variables_override_each_place(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(home.HOME_ENV, str(tmp_path / "course"))
    assert default_runs_dir("best") == tmp_path / "course" / "runs" / "best"
    assert home.data_dir() == tmp_path / "course" / "data"
    monkeypatch.setenv(home.RUNS_DIR_ENV, str(tmp_path / "elsewhere"))
    assert default_runs_dir("best") == tmp_path / "elsewhere" / "best"
    monkeypatch.setenv(home.RESULTS_ENV, str(tmp_path / "results"))
    assert RunStore("cpu").results_dir == tmp_path / "results" / "cpu"


def test_data_is_found_in_the_homes_data_folder(monkeypatch, tmp_path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "fer2013.npz").write_bytes(b"")
    monkeypatch.setenv(home.HOME_ENV, str(tmp_path))
    monkeypatch.chdir(ROOT / "book")
    assert find_fer2013() == tmp_path / "data" / "fer2013.npz"


def fake_drive(root: Path):
    mounted = []

    def mount(where: Path) -> None:
        mounted.append(where)
        (where / "MyDrive").mkdir(parents=True)

    return mount, mounted


def test_colab_with_drive_keeps_runs_and_data_on_drive(monkeypatch, tmp_path, capsys) -> None:
    clone = tmp_path / "fer-course"
    (clone / "results").mkdir(parents=True)
    mount, mounted = fake_drive(tmp_path / "drive")
    where = colab.setup(drive=True, in_colab=True, clone=clone, drive_root=tmp_path / "drive",
                        mount=mount)
    assert where == tmp_path / "drive" / "MyDrive" / "fer-course" and where.is_dir()
    assert mounted == [tmp_path / "drive"]
    assert default_runs_dir("colab") == where / "runs" / "colab"
    assert os.environ[home.RESULTS_ENV] == str(clone / "results")
    assert "on Google Drive" in capsys.readouterr().out
    # run again after a disconnect: Drive is mounted already, the same home comes back
    assert colab.setup(drive=True, in_colab=True, clone=clone,
                       drive_root=tmp_path / "drive", mount=mount) == where
    assert len(mounted) == 1


def test_colab_without_drive_says_a_disconnect_erases_the_runs(monkeypatch, tmp_path,
                                                              capsys) -> None:
    clone = tmp_path / "fer-course"
    clone.mkdir()
    monkeypatch.setenv(home.RESULTS_ENV, str(tmp_path / "not-there"))
    assert colab.setup(in_colab=True, clone=clone) == clone
    assert home.RESULTS_ENV not in os.environ  # never a folder that does not exist
    assert "which a disconnect erases" in capsys.readouterr().out


def test_colab_gets_the_data_by_upload_or_path(monkeypatch, tmp_path) -> None:
    clone = tmp_path / "fer-course"
    clone.mkdir()
    colab.setup(in_colab=True, clone=clone, fer2013="upload",
                upload=lambda: {"fer2013.csv": b"emotion,pixels,Usage\n"})
    assert Path(os.environ["FER2013_PATH"]) == clone / "data" / "fer2013.csv"
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        colab.setup(in_colab=True, clone=other, fer2013=str(tmp_path / "missing.csv"))
    assert list(other.iterdir()) == []  # a bad path changes nothing on disk
    with pytest.raises(FileNotFoundError, match="no file was uploaded"):
        colab.setup(in_colab=True, clone=clone, fer2013="upload", upload=dict)


def test_colab_refuses_a_drive_that_did_not_mount(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not mounted"):
        colab.setup(drive=True, in_colab=True, clone=tmp_path, drive_root=tmp_path / "drive",
                    mount=lambda where: None)
