"""Give a committed run its weights back: retrain it, check the retrain, keep its weights.

A committed summary whose weights were not kept (an ensemble member, a teacher's vote) is
retrained from its registry entry in a folder of its own, then set against the committed
predictions. Only where every stored probability comes back to the bit are the retrain's
half-precision weights added to the committed summary; its metrics, history, card and
predictions stay the ones committed, so no number in the book moves.

    nohup python tools/rebuild_weights.py --data data/fer2013.npz \\
        --runs best-seed2,best-no-affine &

Resumable: an interrupted retrain continues from its last epoch. A retrain that differs
is reported (largest difference, faces whose class changed), keeps no weights, and makes
the exit status 1; the queue goes on. ``results/manifest.json`` is written again after
each run whose weights were added.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from fer_course.data import load_fer2013
from fer_course.engine.named_runs import fit_named_run
from fer_course.home import runs_root
from fer_course.profiles import get_profile
from fer_course.runs import RunFolder, RunStore, run_spec

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loaded by path in the tests, too
import results_manifest  # noqa: E402

COMPARED = ("val_probs", "test_probs", "val_rows", "test_rows")


def differences(rebuilt: RunFolder, committed: RunFolder) -> list[str]:
    """What differs between the stored predictions of two runs (empty: identical)."""
    ours, theirs = (np.load(run.file(RunFolder.PREDICTIONS)) for run in (rebuilt, committed))
    found = []
    for key in COMPARED:
        a, b = ours[key], theirs[key]
        if a.shape != b.shape:
            found.append(f"{key}: shape {a.shape} against {b.shape}")
        elif not np.array_equal(a, b):
            changed = "" if a.ndim == 1 else (
                f", {int((a.argmax(1) != b.argmax(1)).sum())} faces change class")
            found.append(f"{key}: largest difference {float(np.abs(a - b).max()):.3g}{changed}")
    return found


def rebuild(data, name: str, profile_name: str, runs_dir: Path) -> bool:
    """Retrain ``name`` into ``runs_dir/<profile>`` and, where its predictions equal the
    committed ones, add its half-precision weights to the committed summary."""
    spec = run_spec(name)
    if not spec.keeps_weights:
        raise ValueError(f"{name}: the registry keeps no weights for it (only the runs that "
                         "ship and those of the best recipe)")
    profile = spec.profile_under(get_profile(profile_name))
    store = RunStore(profile.name, runs_dir=runs_dir / profile.name)
    committed = store.stored(name)
    if not committed.is_finished():
        raise FileNotFoundError(f"{name}: no committed summary in {committed.path.parent}; "
                                "tools/train_results.py trains and stores new runs")
    if committed.has_weights():
        print(f"{name}: its weights are committed already", flush=True)
        return True
    fit_named_run(data, name, profile, train_missing=True, store=store, progress=False,
                  need_weights=True)
    found = differences(store.local(name), committed)
    if found:
        print(f"{name}: the retrain differs from the committed run, no weights kept: "
              + "; ".join(found), file=sys.stderr, flush=True)
        return False
    committed.save_half_weights(store.local(name).load_weights())
    results_manifest.main([])
    print(f"{name}: predictions identical, weights added to {committed.path}", flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FER-2013: csv, npz or image folders")
    parser.add_argument("--profile", default="best")
    parser.add_argument("--runs", required=True, help="comma list of committed run names")
    parser.add_argument("--runs-dir", default=None,
                        help="where the retrains run (default: rebuild/ in the local runs "
                             "folder)")
    args = parser.parse_args(argv)
    runs_dir = Path(args.runs_dir) if args.runs_dir else runs_root() / "rebuild"
    data = load_fer2013(args.data)
    failed = []
    for name in [n.strip() for n in args.runs.split(",") if n.strip()]:
        t0 = time.time()
        try:
            ok = rebuild(data, name, args.profile, runs_dir)
        except (ValueError, FileNotFoundError) as error:
            print(f"{name}: {error}", file=sys.stderr, flush=True)
            ok = False
        if not ok:
            failed.append(name)
        print(f"{name}: {time.time() - t0:.0f} s", flush=True)
    if failed:
        print(f"not rebuilt: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
