"""The λ ablation helpers of chapter 5: gradients per part, the table, pairing, the reading."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fer_course.analysis.ablation import (
    KEY_COLUMNS,
    ablation_finding,
    ablation_summary,
    ablation_table,
    evaluation_subset,
    paired_correctness,
    part_gradients,
    read_ablation,
)
from fer_course.analysis.significance import BootstrapResult
from fer_course.data import make_synthetic_fer
from fer_course.engine.autoencoder_task import AutoencoderTask
from fer_course.runs.recipes import AutoencoderRecipe

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def gradients(lam: float, mode: str = "train") -> dict[str, torch.Tensor]:
    task = AutoencoderTask(AutoencoderRecipe("multitask", latent_dim=8, lam=lam,
                                             precision="fp32"), device="cpu")
    getattr(task.model, mode)()
    images = torch.randint(0, 256, (6, 48, 48), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    return part_gradients(task, images, torch.arange(6) % 7, seed=0)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradients_follow_eqs_4_to_6(mode: str) -> None:
    zero, one, two = gradients(0.0, mode), gradients(1.0, mode), gradients(2.0, mode)
    assert set(one) == {"encoder", "decoder", "classifier"}
    assert one["decoder"].norm() > 0 and zero["decoder"].norm() == 0  # Eq. 5, λ = 0
    assert torch.allclose(two["decoder"], 2 * one["decoder"], rtol=1e-4, atol=1e-7)
    assert torch.equal(zero["classifier"], two["classifier"])  # Eq. 4: no λ
    # Eq. 6: the encoder's gradient is the CE part plus λ times the MSE part
    step_up, step_down = two["encoder"] - one["encoder"], one["encoder"] - zero["encoder"]
    assert (step_up - step_down).norm() <= 1e-4 * step_down.norm() + 1e-6 * zero["encoder"].norm()
    if mode == "train":  # the decoder's pull on the encoder is there
        assert (one["encoder"] - zero["encoder"]).norm() > 1e-3 * zero["encoder"].norm()


def test_part_gradients_clears_old_gradients() -> None:
    task = AutoencoderTask(AutoencoderRecipe("multitask", latent_dim=8, precision="fp32"),
                           device="cpu")
    task.model.eval()
    images, labels = torch.zeros(2, 48, 48, dtype=torch.uint8), torch.tensor([0, 1])
    first = part_gradients(task, images, labels)
    second = part_gradients(task, images, labels)
    assert torch.equal(first["decoder"], second["decoder"])


def run(train: float, val: float, test: float, mse: float = 0.02) -> SimpleNamespace:
    def split(acc: float, n: int) -> dict:
        right = round(acc * n)
        return {"accuracy": acc, "confusion_matrix": [[right, 0], [n - right, 0]]}

    return SimpleNamespace(metrics={"train": split(train, 1000), "val": split(val, 500),
                                    "test": {**split(test, 500), "mse_pixels": mse},
                                    "wall_time_s": 120.0},
                           run=SimpleNamespace(training_seconds=lambda: 120.0))


def test_ablation_table_rows_and_gap() -> None:
    table = ablation_table({1.0: run(0.8, 0.6, 0.62), 0: run(0.9, 0.58, 0.6)})
    assert list(table.index) == [1.0, 0.0]
    assert set(KEY_COLUMNS) <= set(table.columns)
    assert table.loc[0.0, "gap"] == pytest.approx(0.32)
    assert table.loc[1.0, "minutes"] == 2.0
    assert list(table.loc[1.0, ["n_train", "n_val"]]) == [1000, 500]
    expected = np.hypot(np.sqrt(0.8 * 0.2 / 1000), np.sqrt(0.6 * 0.4 / 500))
    assert table.loc[1.0, "gap_se"] == pytest.approx(expected)


class FakeRun:
    def __init__(self, rows, predicted, labels):
        self.p = {"test_rows": np.array(rows), "test_labels": np.array(labels),
                  "test_probs": np.eye(3)[predicted]}

    def read_predictions(self, data=None):
        return self.p


def test_paired_correctness_joins_by_row() -> None:
    a = FakeRun([10, 11, 12], [0, 1, 2], [0, 1, 0])  # right, right, wrong
    b = FakeRun([12, 10, 11], [0, 2, 1], [0, 0, 1])  # rows 12, 10, 11: right, wrong, right
    correct_a, correct_b = paired_correctness(a, b, data=None)
    assert correct_a.tolist() == [True, True, False]  # rows 10, 11, 12
    assert correct_b.tolist() == [False, True, True]


def test_paired_correctness_refuses_other_images() -> None:
    with pytest.raises(ValueError, match="different test images"):
        paired_correctness(FakeRun([1, 2], [0, 0], [0, 0]), FakeRun([1, 3], [0, 0], [0, 0]),
                           None)


def boot(low: float, high: float) -> BootstrapResult:
    return BootstrapResult((low + high) / 2, low, high, 0.5, 0.95, 100)


@pytest.mark.parametrize(("control", "treated", "test", "expected"), [
    ((0.60, 0.60), (0.60, 0.60), boot(-0.01, 0.01), "does not overfit"),
    ((0.95, 0.60), (0.80, 0.62), boot(0.01, 0.03), "useful sense"),
    ((0.95, 0.60), (0.80, 0.62), boot(-0.01, 0.03), "no better"),
    ((0.95, 0.60), (0.80, 0.55), boot(-0.06, -0.03), "at a cost"),
    ((0.80, 0.60), (0.95, 0.60), boot(-0.01, 0.01), "opposite"),
    ((0.90, 0.60), (0.905, 0.60), boot(-0.01, 0.01), "no evidence"),
])
def test_read_ablation_verdicts(control, treated, test, expected) -> None:
    table = ablation_table({0.0: run(*control, 0.6), 1.0: run(*treated, 0.6)})
    text = read_ablation(table, test)
    assert expected in text.splitlines()[-1]
    assert text.startswith("λ = 0: train")


def test_ablation_finding_states_the_numbers() -> None:
    table = ablation_table({0.0: run(0.9, 0.58, 0.6), 1.0: run(0.8, 0.6, 0.62)})
    text = ablation_finding(table, boot(0.01, 0.03))
    assert "\n" not in text  # one paragraph, not output lines
    # by hand: gaps 0.90 - 0.58 and 0.80 - 0.60; binomial errors on 1000 and 500 images
    se_c = math.hypot(math.sqrt(0.9 * 0.1 / 1000), math.sqrt(0.58 * 0.42 / 500))
    se_t = math.hypot(math.sqrt(0.8 * 0.2 / 1000), math.sqrt(0.6 * 0.4 / 500))
    assert "90.0 % on the faces it was trained on and 58.0 % on the validation" in text
    assert f"a gap of +32.0 points (± {200 * se_c:.1f}, two standard errors)" in text
    assert f"a gap of +20.0 points (± {200 * se_t:.1f}" in text
    assert f"changes the gap by -12.0 points, against a noise of ± " \
           f"{200 * math.hypot(se_c, se_t):.1f}" in text
    assert "test accuracy changes by +2.0 points (95% interval +1.0 to +3.0, p = 0.5)" in text
    assert text.endswith("regularisation in the useful sense.")


def test_ablation_finding_says_what_test_accuracy_adds() -> None:
    # the gaps agree (within the noise) but test accuracy rises, training accuracy too
    table = ablation_table({0.0: run(0.644, 0.581, 0.57), 1.0: run(0.659, 0.591, 0.59)})
    text = ablation_finding(table, boot(0.01, 0.036))
    assert "no evidence either way" in text
    assert "nevertheless rises beyond the noise, and training accuracy with it (+1.5 points)" \
        in text
    assert ablation_finding(table, boot(-0.03, -0.01)).endswith("decoder's loss costs.")
    assert ablation_finding(table, boot(-0.01, 0.01)).endswith("beyond the noise either.")


def test_ablation_summary_with_and_without_a_third_lambda() -> None:
    table = ablation_table({1.0: run(0.66, 0.59, 0.592), 0.0: run(0.64, 0.58, 0.569),
                            0.1: run(0.65, 0.585, 0.58)})
    paper = {"val": 0.674, "test": 0.659, "train": 0.80}
    two = ablation_summary(table, {1.0: boot(0.01, 0.036)}, paper,
                           missing={0.1: "train multitask-lam0.1"})
    items = two.split("\n")
    assert all(item.startswith("- **") for item in items) and len(items) == 4
    assert items[0] == ("- **Accuracy.** The λ = 1 network reaches 59.2 % test accuracy, "
                        "6.7 points below the paper's 65.9 %, and 59.0 % on the validation "
                        "faces (paper: 67.4 %); it scores 66.0 % on the faces it was trained "
                        "on (paper: about 80 %), a train–val gap of +7.0 points.")
    assert items[1].startswith("- **λ = 1 against λ = 0.** Test accuracy changes by +2.3 "
                               "points")
    assert "the gap by +1.0 points" in items[1]  # (0.66 - 0.59) - (0.64 - 0.58)
    assert items[2] == "- **λ = 0.1** is not stored yet: train multitask-lam0.1."
    assert "does not show it: no λ narrows the train–val gap" in items[3]
    three = ablation_summary(table, {1.0: boot(0.01, 0.036), 0.1: boot(-0.01, 0.03)}, paper)
    assert "not stored" not in three
    assert three.index("λ = 1 against") < three.index("λ = 0.1 against")
    assert "λ = 0.1 against λ = 0.** Test accuracy changes by +1.0 points" in three
    # a λ that narrows a real gap beyond the noise at no cost supports the paper
    table = ablation_table({0.0: run(0.95, 0.60, 0.6), 1.0: run(0.80, 0.62, 0.62)})
    assert ablation_summary(table, {1.0: boot(0.01, 0.03)}, paper).endswith(
        "the ablation here supports that at λ = 1.")


def test_evaluation_subset_keeps_training_and_rows() -> None:
    data = make_synthetic_fer(14, 7, 7, seed=1)
    small = evaluation_subset(data, 4)
    assert small.train is data.train
    assert small.counts() == {"train": 14, "val": 4, "test": 4}
    assert list(small.test.rows) == list(data.test.rows[:4])
    assert torch.equal(small.val.labels, data.val.labels[:4])
    assert small.source != data.source
