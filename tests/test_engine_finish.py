"""A kill at any step of a run's finish leaves a run that loads or resumes to the same end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fer_course.data import make_synthetic_fer
from fer_course.engine.backbone_task import fit
from fer_course.profiles import get_profile
from fer_course.runs.cards import RunCard
from fer_course.runs.folder import RunFolder

PROFILE = get_profile("smoke", image_size=32, epochs=2, batch_size=32)

pytestmark = pytest.mark.usefixtures("one_thread_module")  # tests/conftest.py


class Killed(Exception):
    """Stands for the process dying at this point."""


@pytest.fixture(scope="module")
def data():
    return make_synthetic_fer(96, 32, 32, seed=5)


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    return fit(data, "resnet18", PROFILE, tmp_path_factory.mktemp("whole") / "r", progress=False)


def kill_at(monkeypatch, target, name: str, call: int = 1) -> None:
    """Make ``target.name`` raise ``Killed`` on its ``call``-th call (1 = the first)."""
    original, calls = getattr(target, name), []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise Killed(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, dying)


# The finish, in order: predictions, run card, metrics, then the checkpoint stripped of its
# optimiser (the third checkpoint write of a 2-epoch run).
STEPS = [(RunFolder, "write_predictions", 1), (RunCard, "save", 1),
         (RunFolder, "write_metrics", 1), (RunFolder, "save_checkpoint", 3)]


@pytest.mark.parametrize("target,name,call", STEPS, ids=[s[1] for s in STEPS])
def test_a_kill_during_the_finish_loses_nothing(data, uninterrupted, tmp_path: Path,
                                                monkeypatch, target, name, call) -> None:
    run_dir = tmp_path / "r"
    with monkeypatch.context() as patch:
        kill_at(patch, target, name, call)
        with pytest.raises(Killed):
            fit(data, "resnet18", PROFILE, run_dir, progress=False)
    again = fit(data, "resnet18", PROFILE, run_dir, progress=False)
    assert again.metrics["test"] == uninterrupted.metrics["test"]
    assert len(again.history) == PROFILE.epochs
    ours, theirs = again.run.read_predictions(), uninterrupted.run.read_predictions()
    np.testing.assert_array_equal(ours["test_probs"], theirs["test_probs"])
    assert RunFolder(run_dir).is_finished()


def test_a_stripped_checkpoint_without_metrics_still_finishes(data, uninterrupted,
                                                              tmp_path: Path) -> None:
    """What older code left after a kill between stripping and metrics: weights only."""
    run_dir = tmp_path / "r"
    fit(data, "resnet18", PROFILE, run_dir, progress=False)
    run = RunFolder(run_dir)
    run.file(RunFolder.METRICS).unlink()
    assert "optimizer" not in run.load_checkpoint()
    again = fit(data, "resnet18", PROFILE, run_dir, progress=False)
    assert again.metrics["test"] == uninterrupted.metrics["test"]


def test_a_stripped_checkpoint_before_the_last_epoch_is_refused(data, tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    fit(data, "resnet18", PROFILE.overridden(epochs=1), run_dir, progress=False)
    run = RunFolder(run_dir)
    state = run.load_checkpoint()
    run.file(RunFolder.METRICS).unlink()
    state["settings"]["epochs"] = PROFILE.epochs  # pretend: a 2-epoch run stopped after 1
    run.save_checkpoint(state)
    with pytest.raises(ValueError, match="no optimiser state to resume from"):
        fit(data, "resnet18", PROFILE, run_dir, progress=False)
    assert torch.is_tensor(run.load_checkpoint()["model"]["fc.weight"])
