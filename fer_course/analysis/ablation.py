"""The λ ablation of chapter 5: does the decoder's loss keep the classifier from overfitting?

- ``part_gradients``: the gradient of a task's loss on one batch, per part of the model
  (encoder, decoder, classifier), to watch the paper's Eqs. 4-6 at work;
- ``ablation_table``: accuracies, train-val gap and reconstruction error of finished
  multitask runs, one row per λ;
- ``paired_correctness``: per-image correctness of two runs on one split, joined by csv
  row, for the paired tests of ``fer_course.analysis.significance``;
- ``read_ablation``: the table and a paired test put into words, with the sampling noise;
- ``evaluation_subset``: the data with fewer validation and test images, for quick trials.

The gap is the accuracy of the final weights on the images they were trained on minus
their validation accuracy. Its noise here is the binomial sampling noise of the evaluated
images only; how much another seed moves it is not included (run another seed to see).

>>> accuracy_standard_error(0.5, 100)
0.05
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from fer_course.analysis.significance import BootstrapResult
from fer_course.data.types import FERData, Split

PARTS = ("encoder", "decoder", "classifier")
"""The parts of a ``MultitaskAutoencoder`` whose gradients ``part_gradients`` returns."""

KEY_COLUMNS = ("train", "val", "test", "gap", "test_mse_pixels")
"""The columns of ``ablation_table`` a chapter records as its key numbers."""


def part_gradients(task: Any, images: torch.Tensor, labels: torch.Tensor,
                   seed: int | None = None) -> dict[str, torch.Tensor]:
    """The gradient of ``task``'s loss on one batch, flattened, per part of its model.

    ``task`` is an ``AutoencoderTask``; ``images`` uint8 ``[B, 48, 48]``, ``labels``
    ``[B]``. The model stays in its current mode: in train mode pass ``seed`` so that
    dropout draws the same mask in every call (batch norm then uses the batch's own
    statistics, as in training); eval mode needs none. Old gradients are cleared first; a
    parameter the loss does not reach counts as a zero gradient.
    """
    model = task.model
    model.zero_grad(set_to_none=True)
    if seed is not None:
        torch.manual_seed(seed)
    x = task.eval_batch(images.to(task.device))
    task.losses(x, labels.to(task.device))["loss"].backward()
    return {part: torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                             for p in getattr(model, part).parameters()]).detach().cpu()
            for part in PARTS}


def accuracy_standard_error(accuracy: float, n: int) -> float:
    """Binomial standard error of an accuracy measured on ``n`` images (``nan`` if none)."""
    return math.sqrt(accuracy * (1 - accuracy) / n) if n > 0 else float("nan")


def ablation_table(results: Mapping[float, Any]) -> pd.DataFrame:
    """One row per λ (the index) of finished multitask runs (``{λ: RunResult}``).

    Columns: ``train``, ``val``, ``test`` accuracy (train: the final weights on the images
    trained on), ``gap`` (train - val), ``test_mse_pixels`` (reconstruction MSE on the 0-1
    pixel scale), ``minutes`` (wall time), ``n_train`` and ``n_val`` (images evaluated)
    and ``gap_se`` (the gap's binomial standard error).
    """
    rows = {}
    for lam, result in results.items():
        m = result.metrics
        n = {s: int(np.sum(m[s]["confusion_matrix"])) for s in ("train", "val")}
        train, val = m["train"]["accuracy"], m["val"]["accuracy"]
        rows[float(lam)] = {
            "train": train, "val": val, "test": m["test"]["accuracy"], "gap": train - val,
            "test_mse_pixels": m["test"]["mse_pixels"], "minutes": m["wall_time_s"] / 60,
            "n_train": n["train"], "n_val": n["val"],
            "gap_se": math.hypot(accuracy_standard_error(train, n["train"]),
                                 accuracy_standard_error(val, n["val"])),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "λ"
    return table


def paired_correctness(run_a: Any, run_b: Any, data: Any, split: str = "test",
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Whether each of two runs (run folders or stored summaries) got each image of
    ``split`` right, as two boolean arrays over the same images, joined by csv row."""
    found = []
    for run in (run_a, run_b):
        p = run.read_predictions(data)
        rows = np.asarray(p[f"{split}_rows"])
        found.append((rows, p[f"{split}_probs"].argmax(1) == p[f"{split}_labels"]))
    (rows_a, correct_a), (rows_b, correct_b) = found
    common, ia, ib = np.intersect1d(rows_a, rows_b, assume_unique=True, return_indices=True)
    if len(common) != len(rows_a) or len(common) != len(rows_b):
        raise ValueError(f"{run_a} and {run_b} predicted different {split} images "
                         f"({len(rows_a)} and {len(rows_b)} rows, {len(common)} shared)")
    return correct_a[ia], correct_b[ib]


def _points(x: float) -> str:
    return f"{100 * x:+.1f}"


def read_ablation(table: pd.DataFrame, test: BootstrapResult, control: float = 0.0,
                  treated: float = 1.0) -> str:
    """What ``table`` (from ``ablation_table``) says about λ = ``treated`` against the
    control λ = ``control``, given ``test``: a paired bootstrap of their test correctness
    (treated first). A difference counts as real when it exceeds twice its standard error
    (the gap) or when the bootstrap interval excludes 0 (test accuracy)."""
    c, t = table.loc[control], table.loc[treated]
    lines = [f"λ = {lam:g}: train {r.train:.1%}, val {r.val:.1%}, gap {_points(r.gap)} points "
             f"(± {200 * r.gap_se:.1f}, two standard errors)"
             for lam, r in ((control, c), (treated, t))]
    change, noise = t.gap - c.gap, 2 * math.hypot(c.gap_se, t.gap_se)
    lines.append(f"gap change with the decoder: {_points(change)} points (noise ± "
                 f"{100 * noise:.1f})")
    better = test.low > 0
    worse = test.high < 0
    lines.append(f"test accuracy, λ = {treated:g} minus λ = {control:g}: "
                 f"{_points(test.difference)} points, {test.confidence:.0%} interval "
                 f"[{_points(test.low)}, {_points(test.high)}], p = {test.p_value:.3f}")
    if c.gap <= 2 * c.gap_se:
        verdict = ("the control does not overfit beyond the noise, so there is nothing for a "
                   "regulariser to prevent: this run can neither confirm nor refute the claim")
    elif change < -noise:
        verdict = "the decoder shrinks the gap by more than the noise, "
        if better:
            verdict += "and test accuracy rises: regularisation in the useful sense"
        elif worse:
            verdict += "but test accuracy falls: it fits the training faces less, at a cost"
        else:
            verdict += ("but test accuracy does not change beyond the noise: the training "
                        "faces are fitted less, the test faces no better")
    elif change > noise:
        verdict = "the decoder widens the gap: the opposite of the paper's claim"
    else:
        verdict = "the gaps differ by less than the noise: no evidence either way"
    lines.append(f"reading (one seed): {verdict}")
    return "\n".join(lines)


def evaluation_subset(data: FERData, n: int) -> FERData:
    """``data`` with only its first ``n`` validation and test images (training unchanged),
    for quick trial runs; its ``source`` says so, so a run on it is a run of its own.

    >>> from fer_course.data import make_synthetic_fer
    >>> evaluation_subset(make_synthetic_fer(14, 7, 7), 3).counts()
    {'train': 14, 'val': 3, 'test': 3}
    """
    def first(split: Split) -> Split:
        return Split(split.images[:n], split.labels[:n], np.asarray(split.rows)[:n])

    return FERData(data.train, first(data.val), first(data.test), data.classes,
                   f"{data.source} (first {n} val/test)", list(data.notes), list(data.skipped))
