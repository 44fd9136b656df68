"""Fetching FER-2013 from Kaggle, offline: the Kaggle API is always a fake here.

Every test runs with HOME, the working directory and the Kaggle environment variables
pointed at temporary folders, so a developer's real token is never read or used.
"""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import tarfile
import traceback
import types
import zipfile
from pathlib import Path

import pytest

from fer_course.data import download as dl
from fer_course.data import locate
from fer_course.data.download import DownloadError, download_fer2013, kaggle_credentials_available
from fer_course.data.locate import COMPETITION, DATASET, RULES_URL

SECRET = "supersecret123"
USER = "student_fer"
CSV = b"emotion,pixels,Usage\n3," + b" ".join([b"0"] * 2304) + b",Training\n"

@pytest.fixture(autouse=True)
def sandbox(offline_home: Path) -> Path:
    """Every test here runs in the offline sandbox of ``conftest.offline_home``."""
    return offline_home


def with_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", SECRET)


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_gz_bytes(files: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink:
            link = tarfile.TarInfo(symlink)
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            tf.addfile(link)
    return buf.getvalue()


def competition_zip(tar: bytes | None = None, icml: bool = True) -> bytes:
    files = {"example_submission.csv": b"id\n", "train.csv": b"emotion,pixels\n"}
    if icml:
        files["icml_face_data.csv"] = b"emotion, Usage, pixels\n"
    if tar is not None:
        files["fer2013.tar.gz"] = tar
    return zip_bytes(files)


class FakeApi:
    """Stands in for ``kaggle.api``: records calls, then fails or writes ``payload``."""

    def __init__(
        self,
        payload: bytes = b"",
        error: BaseException | None = None,
        auth_error: BaseException | None = None,
    ) -> None:
        self.payload, self.error, self.auth_error = payload, error, auth_error
        self.calls: list[tuple] = []

    def authenticate(self) -> None:
        self.calls.append(("authenticate",))
        if self.auth_error is not None:
            raise self.auth_error

    def _fetch(self, name: str, path: str | None) -> None:
        if self.error is not None:
            raise self.error
        assert path is not None
        (Path(path) / f"{name.split('/')[-1]}.zip").write_bytes(self.payload)

    def competition_download_files(
        self, competition: str, path: str | None = None, quiet: bool = True
    ) -> None:
        self.calls.append(("competition", competition, quiet))
        self._fetch(competition, path)

    def dataset_download_files(
        self, dataset: str, path: str | None = None, unzip: bool = False, quiet: bool = True
    ) -> None:
        self.calls.append(("dataset", dataset, unzip, quiet))
        self._fetch(dataset, path)


class Forbidden(Exception):
    status = 403


class HttpError(OSError):
    """Like requests.HTTPError: an OSError carrying a response."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.response = types.SimpleNamespace(status_code=status)



# --------------------------------------------------------------------------- credentials


def test_credentials_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not kaggle_credentials_available()
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    assert not kaggle_credentials_available()  # a username alone is not enough
    monkeypatch.setenv("KAGGLE_KEY", SECRET)
    assert kaggle_credentials_available()


def test_credentials_from_files(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = sandbox / "config"
    config.mkdir()
    (config / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config))
    assert kaggle_credentials_available()
    monkeypatch.delenv("KAGGLE_CONFIG_DIR")
    assert not kaggle_credentials_available()
    (sandbox / "home" / ".kaggle").mkdir()
    (sandbox / "home" / ".kaggle" / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    assert kaggle_credentials_available()


def test_credentials_from_colab_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = {"KAGGLE_USERNAME": USER, "KAGGLE_KEY": SECRET}

    def get(name: str) -> str:
        if name not in secrets:
            raise KeyError(name)  # Colab raises SecretNotFoundError
        return secrets[name]

    userdata = types.ModuleType("google.colab.userdata")
    userdata.get = get  # type: ignore[attr-defined]
    colab = types.ModuleType("google.colab")
    colab.userdata = userdata  # type: ignore[attr-defined]
    google = types.ModuleType("google")
    google.colab = colab  # type: ignore[attr-defined]
    for name, module in (("google", google), ("google.colab", colab),
                         ("google.colab.userdata", userdata)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(locate, "in_colab", lambda: True)
    assert kaggle_credentials_available()
    assert os.environ["KAGGLE_KEY"] == SECRET
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err


# --------------------------------------------------------------------------- download errors


def test_help_named_in_messages_is_importable_here() -> None:
    assert dl.MISSING_DATA_HELP is locate.MISSING_DATA_HELP
    assert "fer_course.data.download.MISSING_DATA_HELP" in dl.TOKEN_HELP


def test_no_credentials_gives_token_help() -> None:
    with pytest.raises(DownloadError) as info:
        download_fer2013("data")
    msg = str(info.value)
    for needle in ("kaggle.json", "KAGGLE_USERNAME", "KAGGLE_KEY", "Secrets", RULES_URL):
        assert needle in msg, needle


@pytest.mark.parametrize("error", [
    ConnectionError(f"Failed to establish a new connection for {USER}:{SECRET}@www.kaggle.com"),
    OSError(f"[Errno 101] Network is unreachable (key {SECRET})"),
])
def test_offline_error_is_clear_and_leaks_nothing(
    error: BaseException, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with_secret(monkeypatch)
    with pytest.raises(DownloadError) as info:
        download_fer2013("data", api=FakeApi(error=error))
    msg = str(info.value)
    assert "no connection to kaggle.com" in msg.lower()
    assert "MISSING_DATA_HELP" in msg
    shown = "".join(traceback.format_exception(info.type, info.value, info.tb))
    out = capsys.readouterr()
    for text in (msg, shown, out.out, out.err):
        assert SECRET not in text
        assert USER not in text
    assert info.value.__cause__ is not None  # chained, to a scrubbed stand-in
    assert not Path("data/.fer2013_download").exists()


def test_error_without_secret_chains_the_original(monkeypatch: pytest.MonkeyPatch) -> None:
    with_secret(monkeypatch)
    error = TimeoutError("read timed out")
    with pytest.raises(DownloadError) as info:
        download_fer2013("data", api=FakeApi(error=error))
    assert info.value.__cause__ is error


@pytest.mark.parametrize("error", [
    Forbidden("(403) Reason: Forbidden"),
    HttpError(403, "403 Client Error: Forbidden for url: https://www.kaggle.com/api/v1/..."),
])
def test_forbidden_says_accept_the_rules(
    error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_secret(monkeypatch)
    with pytest.raises(DownloadError) as info:
        download_fer2013("data", api=FakeApi(error=error))
    msg = str(info.value)
    assert "403" in msg and "rules" in msg.lower() and "Accept" in msg
    assert RULES_URL in msg


def test_unauthorized_says_renew_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with_secret(monkeypatch)
    with pytest.raises(DownloadError, match="401") as info:
        download_fer2013("data", api=FakeApi(error=HttpError(401, "Unauthorized")))
    assert "kaggle.json" in str(info.value)


def test_authenticate_exit_becomes_download_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with_secret(monkeypatch)
    api = FakeApi(auth_error=SystemExit(1))
    with pytest.raises(DownloadError, match="KAGGLE_KEY"):
        download_fer2013("data", api=api)
    assert api.calls == [("authenticate",)]


# --------------------------------------------------------------------------- download success


def test_competition_download_extracts_fer2013_csv(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tar = tar_gz_bytes({"fer2013/fer2013.csv": CSV, "fer2013/README": b"readme"})
    api = FakeApi(payload=competition_zip(tar))
    dest = sandbox / "data"
    path = download_fer2013(dest, api=api)
    assert path == dest / "fer2013.csv"
    assert path.read_bytes() == CSV
    assert api.calls == [("authenticate",), ("competition", COMPETITION, False)]
    assert sorted(p.name for p in dest.iterdir()) == ["fer2013.csv"]  # staging cleaned up
    assert "ready" in capsys.readouterr().out


def test_competition_without_tar_keeps_icml_csv(sandbox: Path) -> None:
    path = download_fer2013(sandbox / "data", api=FakeApi(payload=competition_zip(None)))
    assert path == sandbox / "data" / "icml_face_data.csv"


def test_tar_path_traversal_is_refused(sandbox: Path) -> None:
    tar = tar_gz_bytes({"fer2013/fer2013.csv": CSV, "../../evil.csv": b"pwned"})
    dest = sandbox / "data"
    with pytest.raises(DownloadError, match="unsafe"):
        download_fer2013(dest, api=FakeApi(payload=competition_zip(tar)))
    assert not list(sandbox.rglob("evil.csv"))
    assert not (dest / "fer2013.csv").exists()


def test_tar_link_is_refused(sandbox: Path) -> None:
    tar = tar_gz_bytes({"fer2013/fer2013.csv": CSV}, symlink="fer2013/passwd")
    with pytest.raises(DownloadError, match="not a plain file"):
        download_fer2013(sandbox / "data", api=FakeApi(payload=competition_zip(tar)))


def test_zip_path_traversal_is_refused(sandbox: Path) -> None:
    payload = zip_bytes({"../evil.csv": b"pwned", "icml_face_data.csv": CSV})
    with pytest.raises(DownloadError, match="unsafe"):
        download_fer2013(sandbox / "data", api=FakeApi(payload=payload))
    assert not list(sandbox.rglob("evil.csv"))


def test_msambare_download_gives_image_folders(sandbox: Path) -> None:
    payload = zip_bytes({"train/Angry/im0.png": b"png", "test/Happy/im1.png": b"png"})
    api = FakeApi(payload=payload)
    path = download_fer2013(sandbox / "data", source="msambare", api=api)
    assert path == sandbox / "data" / "fer2013"
    assert (path / "train" / "Angry" / "im0.png").is_file()
    assert (path / "test" / "Happy" / "im1.png").is_file()
    assert api.calls[1] == ("dataset", DATASET, False, False)


def test_existing_target_needs_no_network(sandbox: Path) -> None:
    dest = sandbox / "data"
    dest.mkdir()
    (dest / "fer2013.csv").write_bytes(CSV)
    api = FakeApi(error=AssertionError("must not be called"), auth_error=AssertionError("no"))
    assert download_fer2013(dest, api=api) == dest / "fer2013.csv"
    assert api.calls == []
    tar = tar_gz_bytes({"fer2013/fer2013.csv": CSV + CSV})
    fresh = FakeApi(payload=competition_zip(tar))
    assert download_fer2013(dest, api=fresh, force=True).read_bytes() == CSV + CSV
    assert len(fresh.calls) == 2


def test_unknown_source() -> None:
    with pytest.raises(ValueError, match="msambare"):
        download_fer2013("data", source="somewhere")


# --------------------------------------------------------------------------- the kaggle import


def _forget_kaggle(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "kaggle" or n.startswith("kaggle.")]:
        monkeypatch.delitem(sys.modules, name)


@pytest.mark.parametrize("body, needle", [
    ("raise SystemExit(1)", "KAGGLE_KEY"),
    ("raise OSError('Could not find kaggle.json')", "KAGGLE_KEY"),
    ("raise ImportError('broken install')", "pip install kaggle"),
])
def test_kaggle_import_failures_become_download_errors(
    body: str, needle: str, sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = sandbox / "fakepkgs" / "kaggle"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(body + "\n")
    _forget_kaggle(monkeypatch)
    monkeypatch.syspath_prepend(str(sandbox / "fakepkgs"))
    monkeypatch.setattr(dl, "kaggle_credentials_available", lambda: True)
    with pytest.raises(DownloadError, match=needle):
        download_fer2013(sandbox / "data")


@pytest.mark.skipif(importlib.util.find_spec("kaggle") is None, reason="kaggle not installed")
def test_real_kaggle_without_credentials_gives_download_error(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = sandbox / "kaggle_config"
    config.mkdir()
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config))
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")  # any stray request fails at once
    monkeypatch.setattr(sys, "argv", ["pytest"])
    _forget_kaggle(monkeypatch)  # re-import so that kaggle reads the sandboxed HOME
    monkeypatch.setattr(dl, "kaggle_credentials_available", lambda: True)  # get past the check
    with pytest.raises(DownloadError, match="KAGGLE_KEY"):
        download_fer2013(sandbox / "data")
