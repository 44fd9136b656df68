"""Google Colab: the first cell of every chapter, in one call.

``setup(drive=..., fer2013=...)`` decides where the course keeps its runs and data and gets
FER-2013, then says what it did:

- ``drive=True`` mounts Google Drive and makes ``MyDrive/fer-course`` the course's home
  (``$FER_COURSE_HOME``): runs are checkpointed there after every epoch, so a chapter run
  again after a disconnect resumes where it stopped; a string names another folder under
  ``MyDrive``. ``drive=False`` keeps them in the runtime (``/content/fer-course``), which a
  disconnect erases.
- ``fer2013`` gets the data into ``<home>/data``: ``"kaggle"`` (a Kaggle token in Colab's
  Secrets panel), ``"upload"`` (a file picker), or the path of a file already there (on
  Drive, say). ``None`` leaves it to the chapters, which look in ``<home>/data`` first.
- ``$FER_COURSE_RESULTS`` is pointed at the clone's ``results/`` only when that folder
  exists (an installed ``fer_course`` otherwise reads the results it ships).

The Colab calls (``drive.mount``, ``files.upload``) are passed in by the tests, so every
branch runs outside Colab too.

>>> home = setup(in_colab=False)  # doctest: +ELLIPSIS
Not in Colab: runs go to ...
>>> home == course_home()  # outside Colab nothing changed
True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from fer_course.data.locate import in_colab as running_in_colab
from fer_course.home import HOME_ENV, RESULTS_ENV, course_home

__all__ = ["CLONE", "DRIVE_ROOT", "setup"]

CLONE = Path("/content/fer-course")
"""Where a chapter's first cell clones the course in Colab."""
DRIVE_ROOT = Path("/content/drive")
"""Where Google Drive is mounted; ``MyDrive`` is the user's own folder in it."""
DRIVE_FOLDER = "fer-course"


def _mount_drive(root: Path) -> None:
    from google.colab import drive  # only in Colab

    drive.mount(str(root))


def _upload() -> dict[str, bytes]:
    from google.colab import files  # only in Colab

    return files.upload()


def _drive_home(drive: bool | str, root: Path, mount: Callable[[Path], None]) -> Path:
    """Mount Drive (once) and return the course's folder on it, created if missing."""
    if not (root / "MyDrive").is_dir():
        mount(root)
    if not (root / "MyDrive").is_dir():
        raise FileNotFoundError(f"Google Drive is not mounted at {root}: no MyDrive folder")
    folder = root / "MyDrive" / (drive if isinstance(drive, str) else DRIVE_FOLDER)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _get_data(how: str | os.PathLike, data: Path,
              upload: Callable[[], dict[str, bytes]]) -> Path:
    """FER-2013 into ``data``: from Kaggle, an upload, or a file that already exists."""
    if how == "kaggle":
        from fer_course.data.download import download_fer2013
        from fer_course.data.kaggle_auth import colab_secrets_to_env

        colab_secrets_to_env()
        return download_fer2013(data)
    if how == "upload":
        uploaded = upload()
        if not uploaded:
            raise FileNotFoundError("no file was uploaded: choose fer2013.csv (or .npz)")
        name, content = next(iter(uploaded.items()))
        data.mkdir(parents=True, exist_ok=True)
        target = data / Path(name).name
        target.write_bytes(content)
        return target
    path = Path(how).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"fer2013={str(how)!r}: no such file or folder; use 'kaggle', "
                                "'upload' or the path of fer2013.csv")
    return path


def setup(drive: bool | str = False, fer2013: str | os.PathLike | None = None, *,
          in_colab: bool | None = None, clone: Path = CLONE, drive_root: Path = DRIVE_ROOT,
          mount: Callable[[Path], None] = _mount_drive,
          upload: Callable[[], dict[str, bytes]] = _upload) -> Path:
    """Set where runs and data live (Drive or the runtime), get FER-2013 if asked, print
    what was done and return the course's home. Outside Colab it changes nothing and only
    reports the home (``fer_course.home``)."""
    colab = running_in_colab() if in_colab is None else in_colab
    if not colab:
        home = course_home()
        print(f"Not in Colab: runs go to {home / 'runs'}; FER-2013 is looked for in "
              f"{home / 'data'} and the usual places.")
        return home
    if drive:
        home = _drive_home(drive, drive_root, mount)
        kept = "on Google Drive: a run resumes there after a disconnect"
    else:
        home = clone if clone.is_dir() else Path.cwd()
        kept = ("in this runtime, which a disconnect erases (setup(drive=True) keeps them "
                "on Google Drive)")
    os.environ[HOME_ENV] = str(home)
    if (clone / "results").is_dir():
        os.environ[RESULTS_ENV] = str(clone / "results")
    elif RESULTS_ENV in os.environ and not Path(os.environ[RESULTS_ENV]).is_dir():
        del os.environ[RESULTS_ENV]  # never point at a folder that is not there
    print(f"Runs and data live in {home} ({kept}).")
    if fer2013 is not None:
        path = _get_data(fer2013, home / "data", upload)
        os.environ["FER2013_PATH"] = str(path)
        print(f"FER-2013: {path}")
    print(_gpu_line())
    return home


def _gpu_line() -> str:
    """Which accelerator this runtime has; the run card says what it means for a profile."""
    import torch

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}."
    return ("No GPU in this runtime; the run card below says what that means for the "
            "chosen profile.")
