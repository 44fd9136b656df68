"""Where the course keeps its runs, finds its data and reads its stored results.

One resolution for every entry point (the repository root, a notebook in ``book/``, Colab,
an installed wheel used from any folder):

- **home** (``course_home()``): ``$FER_COURSE_HOME`` if set; else the course checkout that
  holds the working directory (``book/`` finds the root above it); else the checkout this
  package was imported from (an editable install); else ``~/fer-course``. Runs go to
  ``<home>/runs/<profile>/`` (``$FER_COURSE_RUNS_DIR`` overrides) and FER-2013 is looked
  for in ``<home>/data/``.
- **results** (``results_root()``): ``$FER_COURSE_RESULTS`` if set; else the ``results/``
  folder of the checkout around the working directory or of the one this package was
  imported from; else the results that travel
  inside the package (``fer_course/shipped/``: the runs whose weights ship, with their
  metrics and run cards, and no predictions).

In Colab, ``fer_course.ops.colab.setup(drive=True)`` sets ``$FER_COURSE_HOME`` to a folder on
Google Drive, so runs outlive the runtime.

>>> runs_root().parent == course_home() or RUNS_DIR_ENV in os.environ
True
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = ["HOME_ENV", "RESULTS_ENV", "RUNS_DIR_ENV", "checkout_root", "course_home",
           "data_dir", "results_root", "runs_root", "shipped_root"]

HOME_ENV = "FER_COURSE_HOME"
RESULTS_ENV = "FER_COURSE_RESULTS"
RUNS_DIR_ENV = "FER_COURSE_RUNS_DIR"
DEFAULT_HOME = "fer-course"  # under the user's home folder, for an installed package


def _is_checkout(folder: Path) -> bool:
    """Whether ``folder`` is the root of a course checkout (the book beside the library)."""
    return (folder / "_toc.yml").is_file() and (folder / "fer_course" / "__init__.py").is_file()


def checkout_root(start: str | os.PathLike | None = None) -> Path | None:
    """The course checkout holding ``start`` (default: the working directory) or one of
    its parents, else ``None``.

    >>> checkout_root("/") is None
    True
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _is_checkout(folder):
            return folder
    return None


def _package_checkout() -> Path | None:
    """The checkout this package was imported from (source tree or editable install)."""
    root = Path(__file__).resolve().parents[1]
    return root if _is_checkout(root) else None


def course_home() -> Path:
    """The folder that holds ``runs/`` and ``data/``: ``$FER_COURSE_HOME``, the checkout
    around the working directory, the checkout of this package, or ``~/fer-course``."""
    env = os.environ.get(HOME_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return checkout_root() or _package_checkout() or Path.home() / DEFAULT_HOME


def runs_root() -> Path:
    """Where local runs live, one folder per profile: ``$FER_COURSE_RUNS_DIR``, else
    ``<home>/runs``."""
    env = os.environ.get(RUNS_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else course_home() / "runs"


def data_dir() -> Path:
    """Where FER-2013 is looked for first: ``<home>/data``."""
    return course_home() / "data"


def shipped_root() -> Path | None:
    """The results that travel inside an installed package (``fer_course/shipped``), or
    ``None`` where the package has none (a checkout, whose ``results/`` holds them)."""
    shipped = resources.files("fer_course") / "shipped"
    return Path(str(shipped)) if shipped.is_dir() else None


def results_root() -> Path:
    """``$FER_COURSE_RESULTS`` if set, else the ``results/`` of the checkout around the
    working directory or of this package's, else the results shipped inside the package.

    >>> results_root().name in ("results", "shipped") or RESULTS_ENV in os.environ
    True
    """
    env = os.environ.get(RESULTS_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    for checkout in (checkout_root(), _package_checkout()):
        if checkout is not None and (checkout / "results").is_dir():
            return checkout / "results"
    shipped = shipped_root()
    if shipped is not None:
        return shipped
    raise FileNotFoundError(
        "no stored results: this fer_course has neither a checkout's results/ folder nor "
        f"shipped ones; set ${RESULTS_ENV} to a results folder")
