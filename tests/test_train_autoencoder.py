"""Autoencoder training: the three tasks, their run folders, and resuming."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fer_course.data import make_synthetic_fer
from fer_course.train_autoencoder import AutoencoderRecipe, fit_autoencoder


@pytest.fixture(scope="module")
def data():
    return make_synthetic_fer(140, 35, 35, seed=6)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_reconstruct_then_frozen_classifier(data, tmp_path: Path) -> None:
    ae = fit_autoencoder(data, AutoencoderRecipe("reconstruct", latent_dim=32, epochs=2,
                                                 batch_size=32, lr=1e-3), tmp_path / "ae",
                         progress=False)
    history = ae.run.read_history()
    assert list(history["epoch"]) == [1, 2]
    assert history["train_mse"].iloc[-1] < history["train_mse"].iloc[0]  # it learns
    assert ae.metrics["test"]["mse"] > 0

    recipe = AutoencoderRecipe("classify_frozen", latent_dim=32, epochs=1, batch_size=32,
                               encoder_run=str(tmp_path / "ae"))
    clf = fit_autoencoder(data, recipe, tmp_path / "clf", progress=False)
    frozen = torch.load(ae.run.file("checkpoint.pt"), weights_only=True)["model"]
    after = torch.load(clf.run.file("checkpoint.pt"), weights_only=True)["model"]
    encoder_keys = [k for k in frozen if k.startswith("encoder.")]
    assert encoder_keys and all(torch.equal(frozen[k], after[k]) for k in encoder_keys)
    assert clf.run.read_predictions()["test_probs"].shape == (35, 7)


def test_multitask_resumes_exactly_and_loads_when_finished(data, tmp_path: Path) -> None:
    recipe = AutoencoderRecipe("multitask", latent_dim=32, epochs=2, batch_size=32, lam=0.5)

    class Stop(Exception):
        pass

    def stop_in_epoch_two(epoch: int, batch: int) -> None:
        if epoch == 1 and batch == 1:
            raise Stop

    with pytest.raises(Stop):
        fit_autoencoder(data, recipe, tmp_path / "cut", progress=False,
                        callbacks=[stop_in_epoch_two])
    resumed = fit_autoencoder(data, recipe, tmp_path / "cut", progress=False)
    assert resumed.resumed_from_epoch == 1
    straight = fit_autoencoder(data, recipe, tmp_path / "straight", progress=False)
    for split in ("val", "test"):
        assert resumed.metrics[split] == straight.metrics[split]
    assert fit_autoencoder(data, recipe, tmp_path / "straight", progress=False).loaded


def test_recipe_errors() -> None:
    with pytest.raises(ValueError, match="unknown task 'denoise'"):
        AutoencoderRecipe("denoise")
    with pytest.raises(ValueError, match="needs encoder_run"):
        AutoencoderRecipe("classify_frozen")
