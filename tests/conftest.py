"""Shared fixtures of the unit tests (the profile is set in the root ``conftest.py``)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

# OpenMP's worker threads (torch's intra-op pool, MKL, oneDNN) spin while they wait for
# work; on a 2-core machine that anything else also uses, two spinning threads slow small
# networks down several times (resnet18 at 32 px, batch 16: 1.0 s a step instead of 0.11 s
# with another process busy). Passive waiting costs little when the cores are free. Set
# before torch is imported here, and inherited by every kernel and subprocess the tests
# start (tests/test_chapters.py, tests/test_batch.py, tests/test_train.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def real_data_path() -> Path:
    """The real FER-2013 named by ``$FER2013_PATH``; the test is skipped without it."""
    value = os.environ.get("FER2013_PATH", "")
    if not value or not Path(value).exists():
        pytest.skip("real FER-2013 not available (set FER2013_PATH)")
    return Path(value)


@pytest.fixture(scope="session")
def real_ferplus_path(real_data_path: Path) -> Path:
    """The real FER+ votes named by ``$FERPLUS_PATH`` (with the real FER-2013); skipped
    without them."""
    value = os.environ.get("FERPLUS_PATH", "")
    if not value or not Path(value).exists():
        pytest.skip("real FER+ votes not available (set FERPLUS_PATH)")
    return Path(value)


@contextlib.contextmanager
def _torch_threads(count: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_thread():
    """One intra-op thread for tiny networks: as fast alone, far faster on a busy 2-core
    machine; the count is restored afterwards. Use with ``pytest.mark.usefixtures``."""
    with _torch_threads(1):
        yield


@pytest.fixture(scope="module")
def one_thread_module():
    """``one_thread`` for a whole module, module-scoped fixtures (trained runs) included:
    ``pytestmark = pytest.mark.usefixtures("one_thread_module")``."""
    with _torch_threads(1):
        yield


@pytest.fixture(scope="session")
def small_synthetic():
    """A small synthetic data set, the same in every test."""
    from fer_course.data.synthetic import make_synthetic_fer

    return make_synthetic_fer(140, 35, 35, seed=1)


KAGGLE_AND_DATA_ENV = (
    "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME",
    "FER2013_PATH", "COLAB_RELEASE_TAG",
)


@pytest.fixture
def offline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and the working directory in tmp, no Kaggle or data variables, not in Colab,
    so a developer's real token or data is never touched."""
    from fer_course.data import locate

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    for name in KAGGLE_AND_DATA_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(work)
    monkeypatch.setattr(locate, "in_colab", lambda: False)
    return tmp_path


def _is_chapter_test(item: pytest.Item) -> bool:
    return item.path.name == "test_chapters.py"


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """The chapter tests last: their notebooks run in the background meanwhile
    (tests/test_chapters.py); the order of the others is kept."""
    items[:] = [i for i in items if not _is_chapter_test(i)] + [
        i for i in items if _is_chapter_test(i)]


def pytest_collection_finish(session: pytest.Session) -> None:
    chapter_items = [i for i in session.items if _is_chapter_test(i)]
    if chapter_items and not session.config.option.collectonly:
        chapter_items[0].module.start_in_background(session.config, chapter_items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    chapter_items = [i for i in getattr(session, "items", []) if _is_chapter_test(i)]
    if chapter_items:
        chapter_items[0].module.stop_background()
