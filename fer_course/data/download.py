"""Fetching FER-2013 from Kaggle when it is not on disk yet.

``download_fer2013()`` fetches the data with the ``kaggle`` package, which is imported
only when a download really happens, and returns the path for ``load_fer2013``.
Finding data already on disk is the job of ``fer_course.data.locate``.

No message, print or chained error from this module ever holds a Kaggle key: error
texts that come back from the API are scrubbed first (the credentials, and where they
are found, are ``fer_course.data.kaggle_auth``'s job).

>>> "KAGGLE_KEY" in TOKEN_HELP
True
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from fer_course.data.kaggle_auth import (
    TOKEN_HELP,
    kaggle_credentials_available,
    scrub,
    secret_values,
)

# MISSING_DATA_HELP stays importable from here: the messages below point students to
# fer_course.data.download.MISSING_DATA_HELP.
from fer_course.data.locate import COMPETITION, DATASET, MISSING_DATA_HELP, RULES_URL

SOURCES: tuple[str, ...] = ("competition", "msambare")

__all__ = [
    "COMPETITION",
    "DATASET",
    "MISSING_DATA_HELP",
    "SOURCES",
    "DownloadError",
    "download_fer2013",
    "kaggle_credentials_available",
]



class KaggleApiLike(Protocol):
    """What ``download_fer2013`` needs from ``kaggle.api`` (a test can pass a fake)."""

    def authenticate(self) -> None: ...

    def competition_download_files(
        self, competition: str, path: str | None = None, quiet: bool = True
    ) -> None: ...

    def dataset_download_files(
        self, dataset: str, path: str | None = None, unzip: bool = False, quiet: bool = True
    ) -> None: ...


class DownloadError(RuntimeError):
    """Fetching FER-2013 from Kaggle failed; the message says why and what to do."""


# --------------------------------------------------------------------------- errors


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every error it was raised from or while handling, each once."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__]
    return seen


def _http_status(exc: BaseException) -> int | None:
    """The HTTP error status (4xx/5xx) that ``exc`` or its chain carries or names, if any."""
    for e in _chain(exc):
        response = getattr(e, "response", None)
        for value in (getattr(e, "status", None), getattr(e, "status_code", None),
                      getattr(e, "code", None), getattr(response, "status_code", None),
                      getattr(response, "status", None)):
            if isinstance(value, int) and 400 <= value < 600:
                return value
    text = " ".join(str(e) for e in _chain(exc))
    for status, word in ((403, "Forbidden"), (401, "Unauthorized"), (404, "Not Found")):
        if re.search(rf"\b{status}\b", text) or word in text:
            return status
    return None


_OFFLINE_WORDS = (
    "connection", "connect", "network is unreachable", "name or service not known",
    "temporary failure in name resolution", "nodename nor servname", "getaddrinfo",
    "max retries", "timed out", "timeout", "no route to host", "proxy",
)


def _is_offline(exc: BaseException) -> bool:
    """Whether ``exc`` (or its chain) looks like no connection to kaggle.com."""
    for e in _chain(exc):
        if isinstance(e, ConnectionError | TimeoutError):
            return True
        names = [cls.__name__ for cls in type(e).__mro__]
        if any("Connection" in n or "Timeout" in n for n in names):
            return True
    text = " ".join(str(e) for e in _chain(exc)).lower()
    return any(word in text for word in _OFFLINE_WORDS)


class _ScrubbedCause(RuntimeError):
    """Stands in for an original error whose text held a credential."""


def _download_error(
    exc: BaseException, what: str, secrets: Sequence[str], head: str = "", fallback: str = ""
) -> DownloadError:
    """A ``DownloadError`` for ``exc`` with a hint, scrubbed, chained to a safe cause."""
    detail = scrub(f"{type(exc).__name__}: {exc}", secrets)
    if len(detail) > 400:
        detail = detail[:400] + " ..."
    status = _http_status(exc)
    if status == 403:
        hint = (f"Kaggle refused the download (403 Forbidden). Accept the competition rules "
                f"first: sign in, open {RULES_URL} , click 'I Understand and Accept', "
                "then run again."
                if what == COMPETITION else
                "Kaggle refused the download (403 Forbidden): check the token and that the "
                "dataset is still public.")
    elif status == 401:
        hint = ("Kaggle rejected the credentials (401 Unauthorized): the token is wrong or "
                f"expired.\n{TOKEN_HELP}")
    elif status == 404:
        hint = (f"Kaggle did not find '{what}' (404). Get the data another way; see "
                "fer_course.data.download.MISSING_DATA_HELP.")
    elif _is_offline(exc):
        hint = ("No connection to kaggle.com. Check the internet connection, or download "
                "FER-2013 elsewhere and upload it; see fer_course.data.download.MISSING_DATA_HELP.")
    elif fallback:
        hint = fallback
    elif isinstance(exc, OSError):
        hint = ("Could not fetch or save the files: check the connection to kaggle.com and the "
                "free disk space; see fer_course.data.download.MISSING_DATA_HELP for other ways.")
    else:
        hint = "See fer_course.data.download.MISSING_DATA_HELP for other ways to get the data."
    head = head or f"Downloading '{what}' from Kaggle failed."
    err = DownloadError(f"{head}\n{hint}\n({detail})")
    leaked = any(s in f"{e!s} {e!r}" for e in _chain(exc) for s in secrets)
    err.__cause__ = _ScrubbedCause(detail) if leaked else exc
    return err


# --------------------------------------------------------------------------- archives


def _safe_target(root: Path, name: str) -> Path:
    """Where archive member ``name`` goes under ``root``; refuses names that escape it.

    >>> _safe_target(Path("x"), "a/b.csv").parts[-3:]
    ('x', 'a', 'b.csv')
    """
    refused = f"Refusing unsafe archive member {name!r} (it would leave {root})."
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise DownloadError(refused)
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()):
        raise DownloadError(refused)
    return target


def _write(source: IO[bytes], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out, length=1 << 20)


def _extract_zip(archive: Path, root: Path) -> None:
    """Unpack ``archive`` under ``root`` after checking every member name."""
    with zipfile.ZipFile(archive) as zf:
        members = [(info, _safe_target(root, info.filename)) for info in zf.infolist()]
        for info, target in members:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                with zf.open(info) as source:
                    _write(source, target)


def _extract_csv_from_tar(archive: Path, member_name: str, target: Path) -> Path:
    """Copy the regular file called ``member_name`` out of a tar to ``target``.

    Every member is checked first: a name that leaves the archive root, or a link or
    device, makes the whole archive refused.
    """
    root = target.parent / ".tar_check"
    with tarfile.open(archive) as tf:
        found = None
        for member in tf.getmembers():
            _safe_target(root, member.name)
            if not (member.isfile() or member.isdir()):
                raise DownloadError(f"Refusing archive member {member.name!r}: not a plain file.")
            if member.isfile() and Path(member.name).name == member_name and found is None:
                found = member
        if found is None:
            raise DownloadError(f"{archive.name} holds no {member_name}.")
        source = tf.extractfile(found)
        if source is None:  # pragma: no cover - isfile() members always give a file
            raise DownloadError(f"Could not read {found.name} from {archive.name}.")
        partial = target.with_name(target.name + ".part")
        with source:
            _write(source, partial)
        os.replace(partial, target)
    return target


def _unzip_all(staging: Path) -> None:
    for archive in sorted(staging.rglob("*.zip")):
        print(f"Unzipping {archive.name} ...")
        _extract_zip(archive, archive.parent)
        archive.unlink()


def _first(staging: Path, name: str) -> Path | None:
    hits = sorted(staging.rglob(name), key=lambda p: (len(p.parts), str(p)))
    return hits[0] if hits else None


def _unpack_competition(staging: Path, dest: Path) -> Path:
    _unzip_all(staging)
    tar = _first(staging, "fer2013.tar.gz")
    if tar is not None:
        print(f"Extracting fer2013.csv from {tar.name} ...")
        return _extract_csv_from_tar(tar, "fer2013.csv", dest / "fer2013.csv")
    for name in ("fer2013.csv", "icml_face_data.csv"):
        found = _first(staging, name)
        if found is not None:
            os.replace(found, dest / name)
            return dest / name
    got = sorted(p.name for p in staging.rglob("*") if p.is_file())
    raise DownloadError(f"The download holds neither fer2013.tar.gz, fer2013.csv nor "
                        f"icml_face_data.csv; it holds {got}.")


def _unpack_folders(staging: Path, dest: Path) -> Path:
    _unzip_all(staging)
    trains = [p for p in staging.rglob("train") if p.is_dir()]
    roots = [p.parent for p in trains if (p.parent / "test").is_dir()]
    if not roots:
        raise DownloadError(f"The {DATASET} download has no train/ and test/ folders.")
    root = min(roots, key=lambda p: len(p.parts))
    target = dest / "fer2013"
    target.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val", "test"):
        if (root / split).is_dir():
            shutil.rmtree(target / split, ignore_errors=True)
            shutil.move(str(root / split), str(target / split))
    return target


# --------------------------------------------------------------------------- download


def _existing(dest: Path, source: str) -> Path | None:
    if source == "msambare":
        folder = dest / "fer2013"
        return folder if (folder / "train").is_dir() else None
    for name in ("fer2013.csv", "icml_face_data.csv"):
        if (dest / name).is_file():
            return dest / name
    return None


def _quietly(action: Callable[[], Any], secrets: Sequence[str], show: bool = True) -> Any:
    """Run ``action`` with its prints held back; shown (scrubbed) only if it succeeds and ``show``.

    kaggle prints its own sign-in help when it finds no token (and, in kaggle 2, already
    on import, which then succeeds anyway); our message replaces it.
    """
    held = io.StringIO()
    with contextlib.redirect_stdout(held):
        result = action()
    if show and held.getvalue():
        print(scrub(held.getvalue(), secrets), end="")
    return result


def _import_kaggle() -> Any:
    import kaggle  # type: ignore[import-untyped]

    return kaggle


def _kaggle_api(secrets: Sequence[str]) -> Any:
    """``kaggle.api``, imported now; any failure (even ``SystemExit``) becomes DownloadError."""
    try:
        kaggle = _quietly(_import_kaggle, secrets, show=False)
    except ImportError as exc:
        raise DownloadError(
            "The 'kaggle' package is not installed: pip install kaggle "
            "(or pip install 'fer_course[kaggle]'), then run again."
        ) from exc
    except (Exception, SystemExit):  # old versions authenticate on import and may exit
        raise DownloadError(TOKEN_HELP) from None
    return kaggle.api


def download_fer2013(
    dest: str | os.PathLike[str] = "data",
    source: str = "competition",
    api: KaggleApiLike | None = None,
    force: bool = False,
) -> Path:
    """Fetch FER-2013 from Kaggle into ``dest`` and return the path for ``load_fer2013``.

    ``source="competition"`` gets the competition files and keeps ``fer2013.csv`` (taken
    out of ``fer2013.tar.gz``), else ``icml_face_data.csv``; ``source="msambare"`` gets
    the dataset ``msambare/fer2013`` as image folders ``dest/fer2013/train|test``. When
    that target exists already it is returned at once (no network) unless ``force``.
    ``api`` stands in for ``kaggle.api`` (tests pass a fake). Needs a Kaggle API token
    and, for the competition, its rules accepted on the website.

    >>> download_fer2013("data", source="elsewhere")
    Traceback (most recent call last):
    ...
    ValueError: source must be one of ('competition', 'msambare'), got 'elsewhere'
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    dest = Path(dest).expanduser()
    existing = _existing(dest, source)
    if existing is not None and not force:
        print(f"FER-2013 is already at {existing}; nothing to download.")
        return existing
    if api is None and not kaggle_credentials_available():
        raise DownloadError(TOKEN_HELP)
    secrets = secret_values()
    if api is None:
        api = _kaggle_api(secrets)
    what = COMPETITION if source == "competition" else DATASET

    # Errors are kept and raised after their ``except`` block, so that the original (whose
    # text may hold a credential) never becomes the ``__context__`` of our DownloadError.
    try:
        _quietly(api.authenticate, secrets)
        auth_error = None
    except (Exception, SystemExit) as exc:  # kaggle exits when it finds no credentials
        auth_error = exc
    if isinstance(auth_error, SystemExit):
        raise DownloadError(TOKEN_HELP)
    if auth_error is not None:
        raise _download_error(auth_error, what, secrets, head="Signing in to Kaggle failed.",
                              fallback=TOKEN_HELP)
    staging = dest / ".fer2013_download"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        print(f"Downloading {what} from Kaggle into {dest} (this can take minutes) ...")
        failure = None
        try:
            if source == "competition":
                api.competition_download_files(what, path=str(staging), quiet=False)
            else:
                api.dataset_download_files(what, path=str(staging), unzip=False, quiet=False)
        except (Exception, SystemExit) as exc:
            failure = exc
        if failure is not None:
            raise _download_error(failure, what, secrets)
        unpack = _unpack_competition if source == "competition" else _unpack_folders
        result = unpack(staging, dest)
    except (zipfile.BadZipFile, tarfile.TarError) as exc:
        raise DownloadError(f"The downloaded archive is damaged ({exc}); run again "
                            "with force=True.") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"FER-2013 is ready: {result}")
    return result
