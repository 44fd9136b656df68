"""tools/train_results.py: each run trains under the profile it belongs to and its summary
lands in results/<that profile>/ (the best recipe's runs under 'best')."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fer_course.data import make_synthetic_fer
from fer_course.data.formats.writers import write_npz

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def load_tool():
    spec = importlib.util.spec_from_file_location("train_results",
                                                  ROOT / "tools" / "train_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_best_run_asked_under_smoke_is_trained_and_stored_under_smoke(
        tmp_path: Path, monkeypatch) -> None:
    data_path = write_npz(make_synthetic_fer(70, 14, 14, seed=3), tmp_path / "faces.npz")
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("FER_COURSE_RUNS_DIR", str(tmp_path / "runs"))
    tool = load_tool()
    assert tool.main(["--data", str(data_path), "--profile", "smoke",
                      "--runs", "best-seed1"]) == 0
    stored = sorted(p.relative_to(tmp_path / "results").as_posix()
                    for p in (tmp_path / "results").glob("*/*"))
    assert stored == ["smoke/best-seed1"]
    for run in stored:
        assert (tmp_path / "results" / run / "predictions.npz").is_file()


def test_a_best_run_asked_under_cpu_goes_to_the_best_profile(tmp_path: Path,
                                                              monkeypatch) -> None:
    """No training here: the tool's call to ``fit_named_run`` is recorded, and each run's
    profile and store are the ones it belongs to."""
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("FER_COURSE_RUNS_DIR", str(tmp_path / "runs"))
    asked = []

    def fake_fit(data, name, profile, **kwargs):
        asked.append((name, profile.name, kwargs["store"].profile_name))
        raise RuntimeError("stop here")

    tool = load_tool()
    monkeypatch.setattr(tool, "fit_named_run", fake_fit)
    monkeypatch.setattr(tool, "load_fer2013", lambda *a, **k: make_synthetic_fer(70, 14, 14))
    assert tool.main(["--data", "x.npz", "--profile", "cpu", "--runs", "best-seed2,vgg11"]) == 1
    assert asked == [("best-seed2", "best", "best"), ("vgg11", "cpu", "cpu")]
