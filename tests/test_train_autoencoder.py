"""Autoencoder training: the three tasks, their run folders, and resuming."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from fer_course.augment import AugmentConfig, eval_transform
from fer_course.data import make_synthetic_fer
from fer_course.engine.autoencoder_task import (
    AutoencoderTask,
    fit_autoencoder,
    load_autoencoder,
    multitask_loss,
)
from fer_course.runs.recipes import AutoencoderRecipe


@pytest.fixture(scope="module")
def data():
    return make_synthetic_fer(140, 35, 35, seed=6)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_reconstruct_then_frozen_classifier(data, tmp_path: Path) -> None:
    ae = fit_autoencoder(data, AutoencoderRecipe("reconstruct", latent_dim=32, epochs=2,
                                                 batch_size=32, lr=1e-3), tmp_path / "ae",
                         progress=False)
    history = ae.run.read_history()
    assert list(history["epoch"]) == [1, 2]
    assert history["train_mse"].iloc[-1] < history["train_mse"].iloc[0]  # it learns
    # the reported test MSE is that of the saved weights on the test faces, recomputed here
    # in float32 (the run may have used bf16 autocast: 0.1% apart at most)
    model = load_autoencoder(ae.run.path)
    faces_48 = AugmentConfig(image_size=48)  # the autoencoder's input: 48 px, normalised
    x = eval_transform(data.test.images, faces_48)
    with torch.no_grad():
        errors = model(x)[1] - x
    std = torch.tensor(faces_48.std).view(1, 3, 1, 1)
    assert ae.metrics["test"]["mse"] == pytest.approx(float((errors ** 2).mean()), rel=1e-3)
    assert ae.metrics["test"]["mse_pixels"] == pytest.approx(
        float(((errors * std) ** 2).mean()), rel=1e-3)

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


@pytest.mark.parametrize("lam", [0.3, 2.0])
def test_multitask_loss_is_ce_plus_lambda_mse_by_hand(lam: float) -> None:
    logits = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([0, 2])
    target = torch.zeros(2, 1, 1, 2)
    reconstruction = torch.tensor([[[[1.0, 0.0]]], [[[0.0, -1.0]]]])  # squared errors 1,0,0,1
    ce_by_hand = (-math.log(math.e / (math.e + 2)) - math.log(1 / 3)) / 2
    mse_by_hand = 2 / 4
    loss, ce, mse = multitask_loss(logits, reconstruction, target, labels, lam=lam)
    assert math.isclose(float(ce), ce_by_hand, rel_tol=1e-6)
    assert math.isclose(float(mse), mse_by_hand, rel_tol=1e-6)
    assert math.isclose(float(loss), ce_by_hand + lam * mse_by_hand, rel_tol=1e-6)


@pytest.mark.parametrize(("lam", "expected"), [
    (0.0, 0.126928011),  # log(1 + e^-2): the cross-entropy alone
    (0.5, 0.126928011 + 0.5 * 0.125),  # MSE: errors 0.5 and 0 -> (0.25 + 0) / 2
    (4.0, 0.126928011 + 4.0 * 0.125),
])
def test_multitask_loss_of_one_image_by_hand(lam: float, expected: float) -> None:
    logits, labels = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    target = torch.tensor([[[[0.0, 1.0]]]])
    reconstruction = torch.tensor([[[[0.5, 1.0]]]])
    loss, ce, mse = multitask_loss(logits, reconstruction, target, labels, lam=lam)
    assert float(ce) == pytest.approx(0.126928011, abs=1e-7)
    assert float(mse) == pytest.approx(0.125, abs=1e-7)
    assert float(loss) == pytest.approx(expected, abs=1e-7)


def test_lambda_scales_the_decoders_gradient_and_zero_switches_it_off(data) -> None:
    x = torch.randint(0, 256, (8, 48, 48), dtype=torch.uint8)
    y = torch.arange(8) % 7

    def decoder_grad(lam: float) -> torch.Tensor:
        task = AutoencoderTask(AutoencoderRecipe("multitask", latent_dim=16, lam=lam,
                                                 precision="fp32"), device="cpu")
        task.model.eval()  # no dropout, fixed batch-norm statistics: the same forward
        task.losses(task.eval_batch(x), y)["loss"].backward()
        return torch.cat([p.grad.flatten() for p in task.model.decoder.parameters()
                          if p.grad is not None] or [torch.zeros(1)])

    one, two, zero = decoder_grad(1.0), decoder_grad(2.0), decoder_grad(0.0)
    assert one.abs().sum() > 0
    assert torch.allclose(two, 2 * one, rtol=1e-4, atol=1e-7)
    assert zero.abs().sum() == 0
