"""Test-time views for loaded networks (``with_views``; ``view_logits`` computes each
view once for several sets) and chapter 7's measurements of them: each view set's
PublicTest accuracy for a few networks, the set chosen there, and that set's predictions,
read from the stored files (``tools/view_predictions.py``) where they exist, else computed
from the weights.

The choice looks only at PublicTest: the set with the highest mean accuracy over the
networks scored (a tie goes to fewer forward passes). PrivateTest is computed for the
chosen set alone.

>>> table = pd.DataFrame({"run": ["a", "a", "b", "b"], "views": ["mirror", "scale3"] * 2,
...                       "forward_passes": [2, 6] * 2,
...                       "public_accuracy": [0.60, 0.62, 0.70, 0.69]})
>>> chosen_views(table)
'scale3'
>>> list(views_table(table).columns)
['forward passes per face', 'a', 'b', 'mean']
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from fer_course.analysis.best_report import accuracy_interval, scores, signed_points
from fer_course.analysis.significance import paired_bootstrap
from fer_course.devices import cpu_model
from fer_course.engine.inference import LoadedModel, load_run_model
from fer_course.models.view_averaging import VIEW_SETS, View, ViewAveraged, forward_passes
from fer_course.runs.folder import RunFolder

__all__ = ["COLUMNS", "TABLE", "chosen_views", "gain_sentence", "passes_of", "predictions_over",
           "public_scores", "scores_of", "set_probabilities", "stored_predictions", "view_logits",
           "views_table", "with_views"]

COLUMNS = ["run", "views", "forward_passes", "public_accuracy", "cpu"]
"""The columns of the stored table, one row per network and view set."""

TABLE = "view_sets.csv"
"""The stored table's file name, in ``results/<profile>/`` (``tools/view_predictions.py``)."""


def with_views(loaded: LoadedModel, views: str) -> LoadedModel:
    """``loaded`` scoring each face over the view set ``views`` (a name of ``VIEW_SETS``);
    for the recipe's gray-input networks only.

    >>> from fer_course.models.small_cnn import SmallFaceNet
    >>> from fer_course.runs.kinds import MODEL_KINDS
    >>> net = LoadedModel(SmallFaceNet(widths=(4, 4, 4, 4)).eval(), 48, MODEL_KINDS["best"])
    >>> type(with_views(net, "scale3").model).__name__
    'ViewAveraged'
    >>> with_views(net, "scale9")
    Traceback (most recent call last):
    ...
    ValueError: unknown view set 'scale9'; choose one of mirror, shift1px, shift2px, scale3, rotate3
    """
    if views not in VIEW_SETS:
        raise ValueError(f"unknown view set {views!r}; choose one of {', '.join(VIEW_SETS)}")
    if not loaded.gray_input:
        raise ValueError(f"test-time views are for the recipe's networks, not a "
                         f"{loaded.kind.name} network")
    return loaded._replace(model=ViewAveraged(loaded.model, VIEW_SETS[views]).eval())


@torch.no_grad()
def view_logits(loaded: LoadedModel, faces: torch.Tensor, views: Sequence[View],
                batch_size: int = 256) -> dict[View, torch.Tensor]:
    """The logits ``[N, C]`` of ``loaded`` on each of ``views`` of uint8 ``faces [N, H, W]``,
    each view computed once: several view sets that share views share the work.

    >>> from fer_course.models.small_cnn import SmallFaceNet
    >>> from fer_course.runs.kinds import MODEL_KINDS
    >>> net = LoadedModel(SmallFaceNet(widths=(4, 4, 4, 4)).eval(), 48, MODEL_KINDS["best"])
    >>> faces = torch.randint(0, 256, (3, 48, 48), dtype=torch.uint8)
    >>> per_view = view_logits(net, faces, VIEW_SETS["scale3"])
    >>> averaged = with_views(net, "scale3").model(net.kind.prepare(faces, 48))
    >>> torch.allclose(set_probabilities(per_view, "scale3"), torch.softmax(averaged, 1), atol=1e-5)
    True
    """
    out: dict[View, list[torch.Tensor]] = {view: [] for view in dict.fromkeys(views)}
    for start in range(0, len(faces), batch_size):
        x = loaded.kind.prepare(faces[start:start + batch_size], loaded.image_size)
        for view, chunks in out.items():
            chunks.append(loaded.model(view.applied_to(x)).float())
    return {view: torch.cat(chunks) for view, chunks in out.items()}


def set_probabilities(per_view: dict[View, torch.Tensor], views: str) -> torch.Tensor:
    """The class probabilities of the view set ``views`` from ``view_logits``'s answers:
    the softmax of the mean of its views' logits (as ``ViewAveraged`` scores)."""
    chosen = VIEW_SETS[views]
    return torch.softmax(sum(per_view[view] for view in chosen) / len(chosen), 1)


def public_scores(name: str, loaded: LoadedModel, data: Any, sets: Sequence[str],
                  ) -> tuple[list[dict[str, Any]], dict[View, torch.Tensor]]:
    """Rows (``COLUMNS``) of ``loaded``'s PublicTest accuracy under each of ``sets``, and
    its logits on each view (to reuse for the chosen set's predictions)."""
    wanted = list(dict.fromkeys(view for views in sets for view in VIEW_SETS[views]))
    public = view_logits(loaded, data.val.images, wanted)
    labels = np.asarray(data.val.labels)
    rows = [{"run": name, "views": views, "forward_passes": forward_passes(loaded.model, views),
             "public_accuracy": float(
                 (set_probabilities(public, views).numpy().argmax(1) == labels).mean()),
             "cpu": cpu_model()} for views in sets]
    return rows, public


def predictions_over(loaded: LoadedModel, data: Any, views: str,
                     public: Mapping[View, torch.Tensor] | None = None,
                     ) -> dict[str, np.ndarray]:
    """PublicTest and PrivateTest probabilities of ``loaded`` under ``views`` with their
    csv rows, in the layout of a run's ``predictions.npz`` (``public``: its logits on
    PublicTest's views, where already computed)."""
    if public is None or any(view not in public for view in VIEW_SETS[views]):
        public = view_logits(loaded, data.val.images, VIEW_SETS[views])
    test = view_logits(loaded, data.test.images, VIEW_SETS[views])
    return {"val_probs": set_probabilities(public, views).numpy(),
            "val_rows": np.asarray(data.val.rows, np.int64),
            "test_probs": set_probabilities(test, views).numpy(),
            "test_rows": np.asarray(data.test.rows, np.int64)}


def scores_of(runs: Mapping[str, RunFolder], data: Any, table: str | os.PathLike,
              ) -> pd.DataFrame:
    """Every view set's PublicTest accuracy for each of ``runs``: the stored ``table``'s
    rows where it holds all sets of that run, else computed from the run's weights."""
    stored = pd.read_csv(table) if Path(table).is_file() else pd.DataFrame(columns=COLUMNS)
    parts = []
    for name, run in runs.items():
        rows = stored[stored["run"] == name]
        if set(rows["views"]) >= set(VIEW_SETS):
            parts.append(rows[rows["views"].isin(list(VIEW_SETS))])
        else:
            computed, _ = public_scores(name, load_run_model(run, "cpu"), data, list(VIEW_SETS))
            parts.append(pd.DataFrame(computed, columns=COLUMNS))
    return pd.concat(parts, ignore_index=True)


def stored_predictions(run: RunFolder, data: Any, views: str) -> dict[str, np.ndarray]:
    """``run``'s predictions under ``views`` with labels: its stored file where there is
    one, else computed from its weights."""
    if run.file(RunFolder.predictions_name(views)).is_file():
        return run.read_predictions(data, views=views)
    out = predictions_over(load_run_model(run, "cpu"), data, views)
    out["val_labels"], out["test_labels"] = np.asarray(data.val.labels), np.asarray(
        data.test.labels)
    return out


def chosen_views(table: pd.DataFrame) -> str:
    """The view set with the highest mean PublicTest accuracy over the networks of
    ``table`` (``COLUMNS``); a tie goes to the set with fewer forward passes."""
    means = table.groupby("views").agg(accuracy=("public_accuracy", "mean"),
                                       passes=("forward_passes", "first"))
    return str(means.sort_values(["accuracy", "passes"], ascending=[False, True]).index[0])


def passes_of(table: pd.DataFrame, views: str) -> int:
    """The forward passes per face of the view set ``views`` in ``table`` (``COLUMNS``).

    >>> passes_of(pd.DataFrame({"views": ["mirror", "scale3"], "forward_passes": [2, 6]}),
    ...           "scale3")
    6
    """
    return int(table.loc[table["views"] == views, "forward_passes"].iloc[0])


def views_table(table: pd.DataFrame) -> pd.DataFrame:
    """PublicTest accuracy by view set (rows, in ``VIEW_SETS`` order where known) and
    network (columns), with the forward passes per face and the mean over networks."""
    wide = table.pivot_table(index="views", columns="run", values="public_accuracy",
                             sort=False)
    wide = wide[list(dict.fromkeys(table["run"]))]
    order = [v for v in VIEW_SETS if v in wide.index] + [v for v in wide.index
                                                        if v not in VIEW_SETS]
    wide = wide.loc[order]
    wide.insert(0, "forward passes per face",
                table.groupby("views")["forward_passes"].first().loc[order])
    wide["mean"] = wide.drop(columns="forward passes per face").mean(axis=1)
    wide.columns.name = None
    return wide


def gain_sentence(name: str, views: str, viewed: np.ndarray, plain: np.ndarray,
                  labels: np.ndarray, classes: Sequence[str], paper_single: float,
                  n_boot: int = 10_000) -> tuple[str, dict[str, float]]:
    """One sentence on network ``name`` scored over the view set ``views`` (test
    probabilities ``viewed``) against its mirror alone (``plain``): accuracy with its
    interval, the paired difference, the difference with the paper's single network
    ``paper_single``, macro-F1 and Disgust recall; and those numbers by name.

    >>> labels = np.arange(7).repeat(20)
    >>> plain = np.eye(7)[labels]
    >>> from fer_course.data.types import CLASSES
    >>> text, numbers = gain_sentence("s", "scale3", plain, plain, labels, CLASSES, 0.708,
    ...                               n_boot=200)
    >>> text[:40], numbers["accuracy"], numbers["versus_low"]
    ('`s` over the `scale3` views: test accura', 1.0, 0.0)
    """
    right, own = viewed.argmax(1) == labels, plain.argmax(1) == labels
    acc, low, high = accuracy_interval(right, n_boot=n_boot)
    versus = paired_bootstrap(right, own, n_boot=n_boot)
    test = scores(viewed, labels, classes)
    numbers = {"accuracy": acc, "low": low, "high": high, "versus": versus.difference,
               "versus_low": versus.low, "versus_high": versus.high,
               "macro_f1": test["macro_f1"], "disgust": test["recall"]["Disgust"]}
    text = (f"`{name}` over the `{views}` views: test accuracy **{acc:.3f}** ({low:.3f} to "
            f"{high:.3f}), {signed_points(versus.difference)} points against its mirror "
            f"alone ({signed_points(versus.low)} to {signed_points(versus.high)}), "
            f"{signed_points(acc - paper_single)} against the paper's {paper_single:.3f}; "
            f"macro-F1 {test['macro_f1']:.3f}, Disgust recall {test['recall']['Disgust']:.2f}.")
    return text, numbers
