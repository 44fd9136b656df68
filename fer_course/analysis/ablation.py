"""The λ ablation of chapter 5: does the decoder's loss keep the classifier from overfitting?

- ``part_gradients``: the gradient of a task's loss on one batch, per part of the model
  (encoder, decoder, classifier), to watch the paper's Eqs. 4-6 at work;
- ``ablation_table``: accuracies, train-val gap and reconstruction error of finished
  multitask runs, one row per λ;
- ``paired_correctness``: per-image correctness of two runs on one split, joined by csv
  row, for the paired tests of ``fer_course.analysis.significance``;
- ``read_ablation``: the table and a paired test put into words, with the sampling noise;
- ``ablation_finding`` and ``ablation_summary``: the same reading as a paragraph for the
  page, and the chapter's findings beside the paper's numbers;
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
    with task.amp.autocast():
        loss = task.losses(x, labels.to(task.device))["loss"]
    loss.backward()
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
    pixel scale), ``minutes`` (training minutes, ``RunFolder.training_seconds``: the one
    measure of time everywhere), ``n_train`` and ``n_val`` (images evaluated)
    and ``gap_se`` (the gap's binomial standard error).
    """
    rows = {}
    for lam, result in results.items():
        m = result.metrics
        n = {s: int(np.sum(m[s]["confusion_matrix"])) for s in ("train", "val")}
        train, val = m["train"]["accuracy"], m["val"]["accuracy"]
        rows[float(lam)] = {
            "train": train, "val": val, "test": m["test"]["accuracy"], "gap": train - val,
            "test_mse_pixels": m["test"]["mse_pixels"],
            "minutes": result.run.training_seconds() / 60,
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
    lines.append(f"test accuracy, λ = {treated:g} minus λ = {control:g}: "
                 f"{_points(test.difference)} points, {test.confidence:.0%} interval "
                 f"[{_points(test.low)}, {_points(test.high)}], p = {test.p_value:.3f}")
    lines.append(f"reading (one seed): {_verdict(c, t, test)}")
    return "\n".join(lines)


def _verdict(c: pd.Series, t: pd.Series, test: BootstrapResult) -> str:
    """The reading of the control row ``c`` against the treated row ``t``."""
    change, noise = t.gap - c.gap, 2 * math.hypot(c.gap_se, t.gap_se)
    better, worse = test.low > 0, test.high < 0
    if c.gap <= 2 * c.gap_se:
        return ("the control does not overfit beyond the noise, so there is nothing for a "
                "regulariser to prevent: this run can neither confirm nor refute the claim")
    if change < -noise:
        verdict = "the decoder shrinks the gap by more than the noise, "
        if better:
            return verdict + "and test accuracy rises: regularisation in the useful sense"
        if worse:
            return verdict + "but test accuracy falls: it fits the training faces less, at a cost"
        return verdict + ("but test accuracy does not change beyond the noise: the training "
                          "faces are fitted less, the test faces no better")
    if change > noise:
        return "the decoder widens the gap: the opposite of the paper's claim"
    return "the gaps differ by less than the noise: no evidence either way"


def _percent(x: float) -> str:
    return f"{100 * x:.1f} %"


def _test_change(test: BootstrapResult) -> str:
    return (f"{_points(test.difference)} points ({test.confidence:.0%} interval "
            f"{_points(test.low)} to {_points(test.high)}, {test.p_text})")


def ablation_finding(table: pd.DataFrame, test: BootstrapResult, control: float = 0.0,
                     treated: float = 1.0) -> str:
    """``read_ablation``'s reading as one Markdown paragraph: the two runs' accuracies and
    gaps with their noise, the test-accuracy change, the verdict and what the test
    accuracy adds to it when the gap alone decides nothing.

    >>> from types import SimpleNamespace as N
    >>> row = lambda tr, va: N(train=tr, val=va, gap=tr - va, gap_se=0.01)
    >>> table = pd.DataFrame({0.0: vars(row(0.9, 0.6)), 1.0: vars(row(0.9, 0.62))}).T
    >>> text = ablation_finding(table, BootstrapResult(0.02, 0.01, 0.03, 0.004, 0.95, 100))
    >>> "test accuracy changes by +2.0 points" in text
    True
    """
    c, t = table.loc[control], table.loc[treated]
    change, noise = t.gap - c.gap, 2 * math.hypot(c.gap_se, t.gap_se)

    def run(lam: float, r: pd.Series) -> str:
        return (f"{_percent(r.train)} on the faces it was trained on and {_percent(r.val)} "
                f"on the validation faces, a gap of {_points(r.gap)} points "
                f"(± {200 * r.gap_se:.1f}, two standard errors)")

    return (f"**λ = {treated:g} against the control λ = {control:g} (one seed each).** "
            f"Without the decoder's loss the network reaches {run(control, c)}; "
            f"with λ = {treated:g}, {run(treated, t)}. The decoder changes the gap by "
            f"{_points(change)} points, against a noise of ± {100 * noise:.1f}; "
            f"test accuracy changes by {_test_change(test)}. "
            f"Reading: {_reading(c, t, test)}")


def _reading(c: pd.Series, t: pd.Series, test: BootstrapResult) -> str:
    """The verdict, and what test accuracy adds to it when the gap alone decides nothing."""
    text = _verdict(c, t, test) + "."
    change, noise = t.gap - c.gap, 2 * math.hypot(c.gap_se, t.gap_se)
    if abs(change) <= noise or c.gap <= 2 * c.gap_se:
        trained = t.train - c.train
        if test.low > 0:
            text += (" Test accuracy nevertheless rises beyond the noise"
                     + (f", and training accuracy with it ({_points(trained)} points)"
                        if trained > 0 else "")
                     + ": the decoder's loss helped the classifier, but not by narrowing "
                     "the gap, which is what a regulariser would do.")
        elif test.high < 0:
            text += " Test accuracy falls beyond the noise: here the decoder's loss costs."
        else:
            text += " Test accuracy does not change beyond the noise either."
    return text


def _regularises(c: pd.Series, t: pd.Series, test: BootstrapResult) -> bool:
    """Whether the treated run narrows the gap beyond the noise at no test-accuracy cost."""
    return (c.gap > 2 * c.gap_se and t.gap - c.gap < -2 * math.hypot(c.gap_se, t.gap_se)
            and test.high >= 0)


def ablation_summary(table: pd.DataFrame, tests: Mapping[float, BootstrapResult],
                     paper: Mapping[str, float], shown: float = 1.0, control: float = 0.0,
                     missing: Mapping[float, str] | None = None) -> str:
    """What the chapter's runs found, as a Markdown list, beside the paper's multitask numbers
    (``paper``: its ``val`` and ``test`` accuracy, ``train`` if given): the run
    ``shown``'s accuracies, then each λ of ``tests`` against the ``control``, then each λ
    in ``missing`` (λ → what to run to get it).

    >>> row = {"train": 0.7, "val": 0.6, "test": 0.59, "gap": 0.1, "gap_se": 0.01}
    >>> table = pd.DataFrame({1.0: row, 0.0: row}).T
    >>> test = BootstrapResult(0.0, -0.01, 0.01, 0.9, 0.95, 100)
    >>> summary = ablation_summary(table, {1.0: test}, {"val": 0.674, "test": 0.659})
    >>> "6.9 points below the paper's 65.9 %" in summary
    True
    """
    r = table.loc[shown]
    below = paper["test"] - r.test
    where = "below" if below > 0 else "above"
    parts = [f"**Accuracy.** The λ = {shown:g} network reaches {_percent(r.test)} test "
             f"accuracy, {100 * abs(below):.1f} points {where} the paper's "
             f"{_percent(paper['test'])}, and {_percent(r.val)} on the validation faces "
             f"(paper: {_percent(paper['val'])}); it scores {_percent(r.train)} on the "
             f"faces it was trained on" + (f" (paper: about {100 * paper['train']:.0f} %)"
                                           if "train" in paper else "")
             + f", a train–val gap of {_points(r.gap)} points."]
    c = table.loc[control]
    for lam, test in tests.items():
        t = table.loc[lam]
        noise = 2 * math.hypot(c.gap_se, t.gap_se)
        parts.append(f"**λ = {lam:g} against λ = {control:g}.** Test accuracy changes by "
                     f"{_test_change(test)}, the gap by {_points(t.gap - c.gap)} points "
                     f"(noise ± {100 * noise:.1f}): {_reading(c, t, test)}")
    for lam, how in (missing or {}).items():
        parts.append(f"**λ = {lam:g}** is not stored yet: {how}.")
    if tests:
        support = [f"{lam:g}" for lam, test in tests.items()
                   if _regularises(c, table.loc[lam], test)]
        parts.append("**The paper's claim.** The paper concludes from one run, without a "
                     "control, that the decoder regularises the classifier; "
                     + (f"the ablation here supports that at λ = {', '.join(support)}."
                        if support else
                        "the ablation here does not show it: no λ narrows the train–val "
                        "gap beyond the noise."))
    return "\n".join(f"- {part}" for part in parts)


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
