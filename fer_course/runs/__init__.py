"""Runs as the unit: recipes (a run's identity), the registry of named runs, run folders
and cards, the store (local runs and committed results). Nothing here trains.

>>> from fer_course.runs import RunStore, run_spec
>>> run_spec("multitask-lam1").ships_weights
True
"""

from fer_course.runs.cards import RunCard
from fer_course.runs.chapter import Chapter, start_chapter
from fer_course.runs.folder import RunFolder, WeightsError, default_runs_dir, find_runs
from fer_course.runs.registry import REGISTRY, RunSpec, registry_mismatch, run_spec
from fer_course.runs.store import (
    RunStore,
    export_run,
    resolve_train_missing,
    results_root,
    stored_summary,
    write_key_numbers,
)

__all__ = ["REGISTRY", "Chapter", "RunCard", "RunFolder", "RunSpec", "RunStore", "WeightsError",
           "default_runs_dir", "export_run", "find_runs", "registry_mismatch",
           "resolve_train_missing", "results_root", "run_spec", "start_chapter",
           "stored_summary", "write_key_numbers"]
