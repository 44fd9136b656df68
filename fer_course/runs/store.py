"""The run store: local run folders and the committed summaries behind one interface.

A run is looked up by name: the local folder (``runs/<profile>/<name>/``) when it holds a
finished run, else the summary committed in ``results/<profile>/<name>/``. A summary holds
what a chapter shows of a finished run and nothing of FER-2013 itself: ``metrics.json``,
``history.csv``, ``run_card.json``, ``predictions.npz`` (val/test probabilities and csv
rows, never images or labels; labels are joined back from the data the reader loaded), and
for the runs a chapter draws from, half-precision ``weights.pt`` with its sha256.

>>> import tempfile
>>> store = RunStore("cpu", runs_dir=tempfile.mkdtemp(), results_dir=tempfile.mkdtemp())
>>> store.find("resnet18") is None, store.all()
(True, [])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from fer_course.atomic import atomic_open, atomic_write_json
from fer_course.home import RESULTS_ENV, results_root
from fer_course.runs.folder import RunFolder, default_runs_dir, labels_by_row
from fer_course.runs.registry import is_ablation

__all__ = ["RESULTS_ENV", "RunStore", "export_run", "labels_by_row", "resolve_train_missing",
           "results_root", "shipped_weights", "stored_summary", "write_key_numbers"]

ABLATION_SUFFIX = "-ablation"  # results/best-ablation/: runs that measure the best recipe
SUMMARY_FILES = (RunFolder.METRICS, RunFolder.HISTORY, RunFolder.CARD)


def stored_summary(profile_name: str, run_name: str) -> Path:
    """Where the summary of run ``run_name`` of profile ``profile_name`` is kept.

    >>> stored_summary("cpu", "resnet18").parts[-2:]
    ('cpu', 'resnet18')
    """
    return results_root() / profile_name / run_name


class RunStore:
    """The runs of one profile, by name: local folders first, then committed summaries.

    ``runs_dir`` defaults to ``runs/<profile>`` under the course's home (or
    ``$FER_COURSE_RUNS_DIR/<profile>``), ``results_dir`` to ``<results root>/<profile>``
    (``fer_course.home``: the checkout's ``results/`` or those shipped in the package).
    """

    def __init__(self, profile_name: str, runs_dir: str | os.PathLike | None = None,
                 results_dir: str | os.PathLike | None = None) -> None:
        self.profile_name = profile_name
        self.runs_dir = Path(runs_dir) if runs_dir else default_runs_dir(profile_name)
        self.results_dir = Path(results_dir) if results_dir else results_root() / profile_name

    def __repr__(self) -> str:
        return f"RunStore({self.profile_name!r}, runs_dir={str(self.runs_dir)!r})"

    def local(self, name: str) -> RunFolder:
        """The local folder of run ``name`` (where it trains), finished or not."""
        return RunFolder(self.runs_dir / name)

    @property
    def ablation_dir(self) -> Path:
        """Where the committed ablation runs of the ``best`` recipe live (``is_ablation``)."""
        return self.results_dir.with_name(self.results_dir.name + ABLATION_SUFFIX)

    def stored(self, name: str) -> RunFolder:
        """The committed summary of run ``name``, present or not (an ablation run's in
        ``ablation_dir``)."""
        return RunFolder((self.ablation_dir if is_ablation(name) else self.results_dir) / name)

    def find(self, name: str) -> RunFolder | None:
        """The finished run ``name``: local if finished there, else the committed summary,
        else ``None``."""
        for run in (self.local(name), self.stored(name)):
            if run.is_finished():
                return run
        return None

    def with_weights(self, name: str) -> RunFolder | None:
        """A finished run ``name`` whose weights are here (a local checkpoint or shipped
        weights), else ``None``."""
        for run in (self.local(name), self.stored(name)):
            if run.is_finished() and run.has_weights():
                return run
        return None

    def all(self, setting: str | None = None) -> list[RunFolder]:
        """Every finished run, one per name (a local run wins), sorted by name; with
        ``setting``, only those whose settings have that key (``"arch"``: backbones)."""
        found: dict[str, RunFolder] = {}
        for root in (self.results_dir, self.runs_dir):  # local last: it replaces the summary
            if root.is_dir():
                found.update({p.name: RunFolder(p) for p in root.iterdir()
                              if RunFolder(p).is_finished()})
        runs = [found[name] for name in sorted(found)]
        if setting is not None:
            runs = [r for r in runs if setting in r.read_settings()]
        return runs

    def committed(self, prefix: str = "", ablations: bool = True) -> list[RunFolder]:
        """Every committed summary of a finished run whose name starts with ``prefix``,
        the ablation runs (``ablation_dir``) included unless ``ablations=False``; sorted
        by folder, then name."""
        roots = [self.results_dir, *([self.ablation_dir] if ablations else [])]
        return [RunFolder(p) for root in roots if root.is_dir()
                for p in sorted(root.glob(f"{prefix}*")) if RunFolder(p).is_finished()]

    def export(self, name: str, ship_weights: bool = False) -> Path:
        """Commit-ready summary of the finished local run ``name`` into ``results_dir``."""
        return export_run(self.local(name), self.stored(name).path, ship_weights)


def shipped_weights() -> dict[str, str]:
    """``{run name: profile}`` of every committed run whose weights ship, across the
    profiles of the results root (the first profile in name order wins a name); the
    ablation runs' folders (``<profile>-ablation``) are not profiles and ship nothing.

    >>> shipped_weights().get("multitask-lam1")
    'cpu'
    """
    root, found = results_root(), {}
    # an ablation folder is no profile: its runs keep weights for a teacher, none ships
    folders = root.iterdir() if root.is_dir() else ()
    profiles = sorted(p.name for p in folders
                      if p.is_dir() and not p.name.endswith(ABLATION_SUFFIX))
    for profile in profiles:
        for run in RunStore(profile).committed(ablations=False):
            if run.has_weights():
                found.setdefault(run.name, profile)
    return found


def export_run(run: RunFolder, dest: str | os.PathLike, ship_weights: bool = False) -> Path:
    """Write the summary of the finished ``run`` into ``dest``: its metrics, history and
    card, its val/test probabilities with csv rows (labels dropped), and with
    ``ship_weights`` its model in half precision with a sha256."""
    if not run.is_finished():
        raise ValueError(f"{run.path} is not a finished run (no {RunFolder.METRICS})")
    target = RunFolder(dest)
    target.path.mkdir(parents=True, exist_ok=True)
    predictions = run.read_predictions()
    kept = {k: predictions[k] for k in ("val_probs", "test_probs", "val_rows", "test_rows")}
    with atomic_open(target.file(RunFolder.PREDICTIONS), "wb") as f:
        np.savez_compressed(f, **kept)
    if ship_weights:
        target.save_half_weights(run.load_weights())
    for name in (RunFolder.HISTORY, RunFolder.CARD, RunFolder.METRICS):  # metrics last
        with atomic_open(target.file(name), "wb") as f:
            f.write(run.file(name).read_bytes())
    return target.path


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
