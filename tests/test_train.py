"""The training engine: run folders, resume after a kill, loading a finished run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from fer_course.data import make_synthetic_fer
from fer_course.engine.backbone_task import fit
from fer_course.engine.loop import RunMismatchError
from fer_course.models import BACKBONE_FAMILIES, PAPER_BACKBONES
from fer_course.profiles import get_profile
from fer_course.runs.folder import RunFolder

TINY = dict(image_size=32, epochs=2, batch_size=32)
pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def tiny_data():
    return make_synthetic_fer(140, 35, 35, seed=3)


def test_fit_writes_a_complete_run_folder(tiny_data, tmp_path: Path) -> None:
    outer = time.perf_counter()
    result = fit(tiny_data, "resnet18", get_profile("smoke", **TINY), tmp_path / "r18",
                 progress=False)
    outer = time.perf_counter() - outer
    run = result.run
    assert not result.loaded and result.resumed_from_epoch == 0
    history = run.read_history()
    assert list(history["epoch"]) == [1, 2]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
            "train_images_per_s"} <= set(history.columns)
    metrics = run.read_metrics()
    for split in ("train", "val", "test"):
        assert 0 <= metrics[split]["accuracy"] <= 1
        assert len(metrics[split]["per_class_recall"]) == 7
        assert "macro_f1" in metrics[split]
    preds = run.read_predictions()
    assert preds["test_probs"].shape == (35, 7) and preds["val_labels"].shape == (35,)
    assert torch.allclose(torch.from_numpy(preds["val_probs"]).sum(1), torch.ones(35), atol=1e-4)
    card = json.loads(run.file(RunFolder.CARD).read_text())
    assert card["profile"]["arch"] == "resnet18"
    # the card's wall time covers both epochs and no more than the call to fit
    assert history["seconds"].sum() - 0.1 <= card["wall_time_s"] <= outer + 0.1
    assert card["profile"]["epochs"] == 2 and card["profile"]["precision_used"] == "fp32"
    checkpoint = torch.load(run.file(RunFolder.CHECKPOINT), weights_only=True)
    assert checkpoint["epoch"] == 2
    assert "optimizer" not in checkpoint  # a finished run keeps its weights, not the optimiser
    # "train" is the images trained on, evaluated like val and test
    assert metrics["train"]["confusion_matrix"] and sum(map(sum, metrics["train"][
        "confusion_matrix"])) == 140


def test_finished_run_is_loaded_not_retrained(tiny_data, tmp_path: Path, monkeypatch) -> None:
    profile = get_profile("smoke", **{**TINY, "epochs": 1})
    first = fit(tiny_data, "resnet18", profile, tmp_path / "r18", progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was built again")

    monkeypatch.setattr("fer_course.engine.backbone_task.BackboneTask", no_training)
    again = fit(tiny_data, "resnet18", profile, tmp_path / "r18", progress=False)
    assert again.loaded and again.metrics["test"] == first.metrics["test"]
    with pytest.raises(RunMismatchError, match=rf"lr: saved {profile.lr}, asked 0.5"):
        fit(tiny_data, "resnet18", profile.overridden(lr=0.5), tmp_path / "r18", progress=False)


SCRIPT = """
import os, signal, sys
import torch
from fer_course.data import make_synthetic_fer
from fer_course.models import PAPER_BACKBONES
from fer_course.profiles import get_profile
from fer_course.engine.backbone_task import fit

torch.set_num_threads(1)  # two processes of this test never share a core
kill = sys.argv[2] == "kill"

def die_mid_epoch(epoch, batch):
    if kill and epoch == 1 and batch == 2:  # epoch 1 checkpointed, epoch 2 half done
        os.kill(os.getpid(), signal.SIGKILL)

data = make_synthetic_fer(100, 14, 14, seed=3)  # four batches an epoch: 32, 32, 32, 4
profile = get_profile("smoke", image_size=32, epochs=3, batch_size=32, lr=0.02)
fit(data, "resnet18", profile, sys.argv[1], progress=False, callbacks=[die_mid_epoch])
"""


@pytest.mark.slow
def test_killed_run_resumes_to_identical_metrics(tmp_path: Path) -> None:
    script = tmp_path / "train_once.py"
    script.write_text(textwrap.dedent(SCRIPT))

    def start(folder: Path, mode: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(script), str(folder), mode],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(process: subprocess.Popen) -> tuple[int, str]:
        _, stderr = process.communicate(timeout=600)
        return process.returncode, stderr

    # the straight run and the one to be killed at the same time, one thread each
    straight, killed = start(tmp_path / "straight", "go"), start(tmp_path / "killed", "kill")
    code, stderr = finish(straight)
    assert code == 0, stderr
    code, stderr = finish(killed)
    assert code == -9, stderr  # SIGKILL, mid-epoch 2
    folder = RunFolder(tmp_path / "killed")
    assert not folder.is_finished()
    assert torch.load(folder.file(RunFolder.CHECKPOINT), weights_only=True)["epoch"] == 1

    code, stderr = finish(start(tmp_path / "killed", "go"))  # resumed
    assert code == 0, stderr
    a, b = RunFolder(tmp_path / "straight").read_metrics(), folder.read_metrics()
    for split in ("train", "val", "test"):
        assert a[split] == b[split], split
    ha, hb = (RunFolder(tmp_path / p).read_history() for p in ("straight", "killed"))
    assert ha[["train_loss", "val_loss", "val_acc", "lr"]].equals(
        hb[["train_loss", "val_loss", "val_acc", "lr"]])


# fit() takes the same path for every member of a family (the head is replaced by family,
# tests/test_backbones.py runs every backbone forward at 32 px): the smallest of each family
# trains here; the deeper ones (VGG's 0.5 GB checkpoints among them) are the "exhaustive"
# marker's, deselected by default (pyproject.toml): pytest -m exhaustive runs them.
FIRST_OF_FAMILY = {BACKBONE_FAMILIES[a]: a for a in reversed(PAPER_BACKBONES)}.values()


@pytest.mark.slow
@pytest.mark.parametrize("arch", [
    a if a in FIRST_OF_FAMILY else pytest.param(a, marks=pytest.mark.exhaustive)
    for a in PAPER_BACKBONES])
def test_every_paper_backbone_trains_in_smoke(arch: str, tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: one thread is faster than two that wait
    try:
        data = make_synthetic_fer(14, 14, 14, seed=4)  # two faces per class: one step
        profile = get_profile("smoke", image_size=32, epochs=1, batch_size=14)
        result = fit(data, arch, profile, tmp_path / arch, progress=False)
        history = result.run.read_history()
        assert len(history) == 1 and history["train_loss"].notna().all()
        assert result.run.read_predictions()["test_probs"].shape == (14, 7)
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(tmp_path / arch, ignore_errors=True)  # VGG weights are ~0.5 GB each
