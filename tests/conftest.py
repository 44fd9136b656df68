"""Shared fixtures of the unit tests (the profile is set in the root ``conftest.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def real_data_path() -> Path:
    """The real FER-2013 named by ``$FER2013_PATH``; the test is skipped without it."""
    value = os.environ.get("FER2013_PATH", "")
    if not value or not Path(value).exists():
        pytest.skip("real FER-2013 not available (set FER2013_PATH)")
    return Path(value)


@pytest.fixture(scope="session")
def small_synthetic():
    """A small synthetic data set, the same in every test."""
    from fer_course.data.synthetic import make_synthetic_fer

    return make_synthetic_fer(140, 35, 35, seed=1)
