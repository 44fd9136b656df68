"""Run summaries kept in the repository (``results/<profile>/<run>/``), and reading them back.

A summary holds what a chapter shows of a finished run, and nothing of FER-2013 itself:
``metrics.json``, ``history.csv``, ``run_card.json`` and ``predictions.npz`` with the
val/test probabilities ``[n, 7]`` and the csv row of each image (``val_rows``,
``test_rows``), never images, labels or checkpoints. Labels are joined back from the data
the reader loaded (``read_predictions(data)``), so a reader without a GPU, or without
any run folder, explores every run the book shows.

>>> import tempfile
>>> find_results(tempfile.mkdtemp())
[]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_open
from .runs import RunFolder, atomic_write_json

RESULTS_ENV = "FER_COURSE_RESULTS"
SUMMARY_FILES = (RunFolder.METRICS, RunFolder.HISTORY, RunFolder.CARD)


def results_root() -> Path:
    """``$FER_COURSE_RESULTS`` if set, else the repository's ``results/`` folder."""
    env = os.environ.get(RESULTS_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1] / "results"


def stored_summary(profile_name: str, run_name: str) -> Path:
    """Where the summary of run ``run_name`` of profile ``profile_name`` is kept.

    >>> stored_summary("cpu", "resnet18").parts[-2:]
    ('cpu', 'resnet18')
    """
    return results_root() / profile_name / run_name


def export_run(run: RunFolder, dest: str | os.PathLike) -> Path:
    """Write the summary of the finished ``run`` into ``dest`` (a new or existing folder)."""
    if not run.is_finished():
        raise ValueError(f"{run.path} is not a finished run (no {RunFolder.METRICS})")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in SUMMARY_FILES:
        with atomic_open(dest / name, "wb") as f:
            f.write(run.file(name).read_bytes())
    predictions = run.read_predictions()
    kept = {k: predictions[k] for k in ("val_probs", "test_probs", "val_rows", "test_rows")}
    with atomic_open(dest / RunFolder.PREDICTIONS, "wb") as f:
        np.savez_compressed(f, **kept)
    return dest


class StoredRun:
    """A run summary: read like a ``RunFolder``, with labels joined from the loaded data."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"StoredRun({self.path.name!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def is_finished(self) -> bool:
        return all(self.file(n).is_file() for n in (*SUMMARY_FILES, RunFolder.PREDICTIONS))

    def read_metrics(self) -> dict[str, Any]:
        return json.loads(self.file(RunFolder.METRICS).read_text())

    def read_history(self):
        import pandas as pd

        return pd.read_csv(self.file(RunFolder.HISTORY))

    def read_predictions(self, data: Any = None) -> dict[str, np.ndarray]:
        """Probabilities and rows; with ``data`` (a ``FERData``) also ``val_labels`` and
        ``test_labels``, looked up by csv row."""
        with np.load(self.file(RunFolder.PREDICTIONS)) as z:
            out = {k: z[k] for k in z.files}
        if data is not None:
            for split in ("val", "test"):
                out[f"{split}_labels"] = labels_by_row(getattr(data, split), out[f"{split}_rows"],
                                                       f"{self.path} ({split})")
        return out


def labels_by_row(split: Any, rows: np.ndarray, where: str) -> np.ndarray:
    """The labels of ``split`` (a ``FERSplit``) at csv ``rows``; an unknown row is an error."""
    position = {int(r): i for i, r in enumerate(np.asarray(split.rows))}
    missing = [int(r) for r in rows if int(r) not in position]
    if missing:
        raise ValueError(f"{where}: {len(missing)} rows are not in the loaded data (first: "
                         f"{missing[0]}); load the same FER-2013 the run was made on")
    return split.labels.numpy()[[position[int(r)] for r in rows]]


def find_results(root: str | os.PathLike, setting: str | None = None) -> list[StoredRun]:
    """Every complete summary directly under ``root``, sorted by name; with ``setting``,
    only those whose settings have that key (``"arch"``: backbone runs)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [StoredRun(p) for p in sorted(root.iterdir()) if StoredRun(p).is_finished()]
    if setting is not None:
        found = [r for r in found if setting in r.read_metrics().get("settings", {})]
    return found


def runs_or_results(runs_dir: str | os.PathLike, profile_name: str,
                    setting: str | None = None) -> list[RunFolder | StoredRun]:
    """Finished local runs under ``runs_dir``, plus the stored summaries of the same
    profile for every run name not present locally (a local run wins)."""
    from .runs import find_runs

    local = find_runs(runs_dir, setting)
    names = {r.path.name for r in local}
    stored = [r for r in find_results(results_root() / profile_name, setting)
              if r.path.name not in names]
    return sorted([*local, *stored], key=lambda r: r.path.name)


def resolve_train_missing(value: Any, profile_name: str) -> bool:
    """A chapter's ``train_missing`` parameter: ``None`` means "only in ``smoke``" (where
    training takes seconds); papermill may pass ``"false"`` or ``"true"`` as text.

    >>> resolve_train_missing(None, "smoke"), resolve_train_missing("false", "smoke")
    (True, False)
    >>> resolve_train_missing(None, "cpu"), resolve_train_missing("True", "cpu")
    (False, True)
    """
    if value is None:
        return profile_name == "smoke"
    if isinstance(value, str):
        text = value.strip().lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"train_missing must be true or false, got {value!r}")
        return text in ("true", "1", "yes")
    return bool(value)


def write_key_numbers(path: str | os.PathLike, numbers: dict[str, Any]) -> Path:
    """A chapter's headline numbers as json, for tests and batch summaries."""
    return atomic_write_json(path, numbers)
