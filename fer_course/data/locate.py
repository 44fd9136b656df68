"""Finding FER-2013 on disk, and telling a student how to get it when it is not there.

``find_fer2013()`` says where the data is (an explicit path, ``$FER2013_PATH``, or a
few usual places); when nothing is found it raises ``DataNotFoundError``, whose
message tells a student every way to get the data. Fetching it from Kaggle is the job
of ``fer_course.data.download``, which this module never imports.

>>> "FER2013_PATH" in MISSING_DATA_HELP
True
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

from fer_course.home import course_home

ENV_VAR = "FER2013_PATH"
# The Kaggle sources, named in the help text below; fer_course.data.download uses them too.
COMPETITION = "challenges-in-representation-learning-facial-expression-recognition-challenge"
DATASET = "msambare/fer2013"
RULES_URL = f"https://www.kaggle.com/c/{COMPETITION}/rules"

__all__ = [
    "COMPETITION",
    "DATASET",
    "ENV_VAR",
    "MISSING_DATA_HELP",
    "RULES_URL",
    "DataNotFoundError",
    "find_fer2013",
    "in_colab",
    "missing_data_message",
]

MISSING_DATA_HELP = f"""\
Accepted forms (pass the path, or set FER2013_PATH):
  - fer2013.csv                 Kaggle FER-2013 (columns emotion, pixels, Usage)
  - icml_face_data.csv          the Kaggle competition's csv
  - an image-folder root        train/ val/ test/ (or train/ test/), each with <class>/*.png
  - an .npz file                arrays images, labels, usage
Ways to get it:
  a) Kaggle: needs an API token (~/.kaggle/kaggle.json, or KAGGLE_USERNAME and KAGGLE_KEY;
     in Colab put both in the Secrets panel, the key icon) and the competition rules
     accepted once on the website: {RULES_URL}
       from fer_course.data import download_fer2013
       path = download_fer2013("data/")
     or in a shell:
       kaggle competitions download -c {COMPETITION}
         (a zip with icml_face_data.csv and fer2013.tar.gz, which holds fer2013.csv)
       kaggle datasets download -d {DATASET}     (image folders train/ and test/)
  In Colab, a chapter's first cell does a) or b) for you: fer2013 = "kaggle" or "upload".
  b) Colab upload: from google.colab import files; files.upload()
     (the file lands in /content, e.g. /content/fer2013.csv)
  c) Google Drive: from google.colab import drive; drive.mount('/content/drive')
     then pass the path, e.g. '/content/drive/MyDrive/fer2013.csv'
  d) Anywhere: set the environment variable FER2013_PATH to the file or folder,
     e.g. os.environ["FER2013_PATH"] = "/path/to/fer2013.csv\""""
"""What to tell a student who has no FER-2013 yet: accepted files and four ways to get one."""


class DataNotFoundError(FileNotFoundError):
    """FER-2013 is not where it was looked for; the message says how to get it.

    >>> err = DataNotFoundError("nowhere/fer2013.csv")
    >>> isinstance(err, FileNotFoundError), "files.upload()" in str(err)
    (True, True)
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, tried: Sequence[Path] = ()
    ) -> None:
        self.path = None if path is None else Path(path)
        self.tried = list(tried)
        super().__init__(missing_data_message(path, tried=self.tried))


def missing_data_message(
    path: str | os.PathLike[str] | None, tried: Iterable[str | os.PathLike[str]] = ()
) -> str:
    """The friendly 'FER-2013 not found' text, naming ``path`` (and any places tried).

    >>> print(missing_data_message("data/fer2013.csv").splitlines()[0])
    FER-2013 was not found at 'data/fer2013.csv'.
    """
    head = "FER-2013 was not found" + (f" at '{os.fspath(path)}'." if path is not None else ".")
    tried = [os.fspath(p) for p in tried]
    if tried:
        head += "\n" + textwrap.fill("Looked in: " + ", ".join(tried), width=100,
                                     subsequent_indent="  ", break_on_hyphens=False)
    return f"{head}\n{MISSING_DATA_HELP}"


def in_colab() -> bool:
    """Whether this runs inside Google Colab.

    >>> in_colab() in (True, False)
    True
    """
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):
        return False


def _candidates() -> list[Path]:
    """The usual places, in the order they are tried."""
    relative = [
        "data/fer2013.csv",
        "data/fer2013.npz",
        "data/icml_face_data.csv",
        "data/fer2013/fer2013.csv",
        "data/fer2013",
        "fer2013.csv",
    ]
    bases: list[Path] = []
    for base in (course_home(), Path.cwd(), Path.home()):
        if all(base.resolve() != seen.resolve() for seen in bases):
            bases.append(base)
    places = [base / rel for base in bases for rel in relative]
    if in_colab():
        folders = (Path("/content"), Path("/content/drive/MyDrive"))
        places += [folder / name for folder in folders for name in ("fer2013.csv", "fer2013.npz")]
    return places


def _usable(place: Path) -> bool:
    """Whether ``place`` holds the data: a file, or a folder with ``train/`` in it."""
    if place.is_dir():
        return (place / "train").is_dir()  # an image-folder root
    return place.is_file()


def find_fer2013(path: str | os.PathLike[str] | None = None) -> Path:
    """Where FER-2013 is: ``path`` if given, else ``$FER2013_PATH``, else the usual places.

    The usual places are ``data/fer2013.csv``, ``data/fer2013.npz``,
    ``data/icml_face_data.csv``, ``data/fer2013/`` (holding ``fer2013.csv`` or ``train/``)
    and ``fer2013.csv``, under the course's home (``fer_course.home.course_home``: the
    checkout, or ``$FER_COURSE_HOME``), the working directory and the home directory, and in
    Colab ``/content/`` and ``/content/drive/MyDrive/``. The first that exists wins.

    >>> try:
    ...     find_fer2013("no/such/fer2013.csv")
    ... except DataNotFoundError:
    ...     print("not found")
    not found
    """
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.exists():
            raise DataNotFoundError(explicit)
        return explicit
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        from_env = Path(env).expanduser()
        if not from_env.exists():
            raise DataNotFoundError(from_env, tried=[Path(f"${ENV_VAR}={env}")])
        return from_env
    tried = _candidates()
    for place in tried:
        if _usable(place):
            return place
    raise DataNotFoundError(None, tried=tried)
