"""tools/rebuild_weights.py: a committed run without weights is retrained, and its weights
are kept only where the retrain gives the committed predictions back to the bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tool_scripts import load_tool  # tests/tool_scripts.py (pytest puts tests/ on the path)

from fer_course.data import make_synthetic_fer
from fer_course.data.formats.writers import write_npz
from fer_course.runs import RunFolder

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def committed_without_weights(tmp_path: Path, monkeypatch) -> tuple[Path, RunFolder]:
    """A smoke run of the best recipe trained and committed, then its weights deleted."""
    data_path = write_npz(make_synthetic_fer(70, 14, 14, seed=3), tmp_path / "faces.npz")
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("FER_COURSE_RUNS_DIR", str(tmp_path / "runs"))
    assert load_tool("train_results").main(["--data", str(data_path), "--profile", "smoke",
                                            "--runs", "best-seed1"]) == 0
    run = RunFolder(tmp_path / "results" / "smoke" / "best-seed1")
    for name in (RunFolder.WEIGHTS, RunFolder.WEIGHTS_INFO):
        run.file(name).unlink()
    assert run.is_finished() and not run.has_weights()
    return data_path, run


def test_an_exact_retrain_gives_the_committed_run_its_weights(committed_without_weights,
                                                              tmp_path: Path) -> None:
    data_path, run = committed_without_weights
    before = {name: run.file(name).read_bytes()
              for name in (RunFolder.METRICS, RunFolder.HISTORY, RunFolder.PREDICTIONS)}
    tool = load_tool("rebuild_weights")
    assert tool.main(["--data", str(data_path), "--profile", "smoke",
                      "--runs", "best-seed1"]) == 0
    assert run.has_weights() and (tmp_path / "runs" / "rebuild" / "smoke" / "best-seed1").is_dir()
    assert {name: run.file(name).read_bytes() for name in before} == before  # untouched
    run.load_weights()  # its sha256 checks out
    manifest = json.loads((tmp_path / "results" / "manifest.json").read_text())
    assert "smoke/best-seed1/weights.pt" in manifest
    assert tool.main(["--data", str(data_path), "--profile", "smoke",
                      "--runs", "best-seed1"]) == 0  # nothing left to do


def test_a_retrain_that_differs_keeps_no_weights(committed_without_weights, capsys) -> None:
    data_path, run = committed_without_weights
    stored = dict(np.load(run.file(RunFolder.PREDICTIONS)))
    stored["test_probs"] = stored["test_probs"][:, ::-1].copy()  # another network's answers
    np.savez_compressed(run.file(RunFolder.PREDICTIONS), **stored)
    tool = load_tool("rebuild_weights")
    assert tool.main(["--data", str(data_path), "--profile", "smoke",
                      "--runs", "best-seed1"]) == 1
    assert not run.has_weights()
    said = capsys.readouterr().err
    assert "best-seed1: the retrain differs" in said and "faces change class" in said


def test_runs_it_cannot_rebuild_are_named(committed_without_weights, capsys) -> None:
    data_path, _ = committed_without_weights
    tool = load_tool("rebuild_weights")
    assert tool.main(["--data", str(data_path), "--profile", "smoke",
                      "--runs", "resnet18,best-seed2"]) == 1
    said = capsys.readouterr().err
    assert "resnet18: the registry keeps no weights for it" in said
    assert "best-seed2: no committed summary" in said
