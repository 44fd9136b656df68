"""Score committed runs over test-time view sets (``fer_course.models.view_averaging``).

For each run with weights: its PublicTest accuracy under every view set of ``VIEW_SETS``,
added to ``results/<profile>/view_sets.csv`` (one row per run and set, the CPU named);
with ``--write SET``, also its PublicTest and PrivateTest probabilities under ``SET``,
saved as ``predictions.SET.npz`` beside its own predictions (probabilities and csv rows:
no image or label). PrivateTest is computed only for the set written, so choosing a set
on the table never looks at the test faces.

    python tools/view_predictions.py --data data/fer2013.npz \\
        --runs best-distilled-vote3-views8-e44,best                  # compare on PublicTest
    python tools/view_predictions.py --data data/fer2013.npz \\
        --runs best,best-seed1 --sets scale3 --write scale3            # and keep one set
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fer_course.analysis.view_report import COLUMNS, TABLE, predictions_over, public_scores
from fer_course.atomic import atomic_open
from fer_course.data import load_fer2013
from fer_course.engine.inference import load_run_model
from fer_course.models.view_averaging import VIEW_SETS
from fer_course.runs import RunFolder, RunStore

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loaded by path in the tests, too
import results_manifest  # noqa: E402


def merge_rows(path: Path, rows: list[dict]) -> pd.DataFrame:
    """The table at ``path`` with ``rows`` in place of those of the same run and set."""
    new = pd.DataFrame(rows, columns=COLUMNS)
    if path.is_file():
        old = pd.read_csv(path)
        keep = ~old.set_index(["run", "views"]).index.isin(new.set_index(["run", "views"]).index)
        new = pd.concat([old[keep], new], ignore_index=True)
    with atomic_open(path, "w") as f:
        new.to_csv(f, index=False, float_format="%.6f")
    return new


def score_run(run: RunFolder, data, sets: list[str], write: str | None) -> list[dict]:
    """PublicTest accuracy of ``run`` under each of ``sets``; writes ``write``'s predictions."""
    start = time.perf_counter()
    loaded = load_run_model(run, "cpu")
    rows, public = public_scores(run.name, loaded, data, sets)
    for row in rows:
        print(f"{run.name} {row['views']}: PublicTest {row['public_accuracy']:.4f}", flush=True)
    if write is not None:
        target = run.file(RunFolder.predictions_name(write))
        with atomic_open(target, "wb") as f:
            np.savez_compressed(f, **predictions_over(loaded, data, write, public))
        print(f"{run.name}: wrote {target.name}", flush=True)
    print(f"{run.name}: {time.perf_counter() - start:.0f} s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="fer2013.npz or .csv")
    parser.add_argument("--runs", required=True, help="comma-separated run names")
    parser.add_argument("--sets", default=",".join(VIEW_SETS), help="view sets to score")
    parser.add_argument("--write", help="a view set whose predictions to keep")
    parser.add_argument("--profile", default="best")
    args = parser.parse_args(argv)
    sets = [s for s in args.sets.split(",") if s]
    unknown = [s for s in [*sets, args.write] if s is not None and s not in VIEW_SETS]
    if unknown:
        parser.error(f"unknown view sets {unknown}; choose from {', '.join(VIEW_SETS)}")
    if args.write and args.write not in sets:
        sets.append(args.write)
    data = load_fer2013(args.data)
    store = RunStore(args.profile)
    for name in [r for r in args.runs.split(",") if r]:
        run = store.stored(name)
        if not run.has_weights():
            print(f"{name}: no weights in {run.path}; skipped", flush=True)
            continue
        merge_rows(store.results_dir / TABLE, score_run(run, data, sets, args.write))
    results_manifest.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
