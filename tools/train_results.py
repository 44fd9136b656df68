"""Train the registry's runs one after another and store each summary in results/.

Resumable: a finished run is loaded, an interrupted one continues. Run it in the
background on the real FER-2013, e.g.

    nohup python tools/train_results.py --data data/fer2013.npz --runs all &
    python tools/train_results.py --data data/fer2013.npz --chapter 4
    python tools/train_results.py --data data/fer2013.npz --runs resnet18,multitask-lam1

Each run lands in ``runs/<profile>/<name>/`` and its summary (with half-precision weights
for the runs the registry ships) in ``results/<profile>/<name>/`` as soon as it finishes;
``results/manifest.json`` (``tools/results_manifest.py``) is written again after each.
A failed run is reported and the queue goes on; the exit status says whether any failed.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from fer_course.data import load_fer2013
from fer_course.engine.named_runs import fit_named_run
from fer_course.profiles import get_profile
from fer_course.runs import REGISTRY, RunStore, run_spec

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loaded by path in the tests, too
import results_manifest  # noqa: E402


def chosen_runs(runs: str | None, chapter: int | None) -> list[str]:
    """Run names from ``--runs`` (a comma list, or ``all``: the registry's order) and/or
    ``--chapter``."""
    if chapter is not None:
        return [name for name, spec in REGISTRY.items() if chapter in spec.chapters]
    if runs in (None, "all"):
        return list(REGISTRY)
    return [name.strip() for name in runs.split(",") if name.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FER-2013: csv, npz or image folders")
    parser.add_argument("--ferplus", default=None,
                        help="FER+ votes csv (fer2013new.csv), for the -ferplus runs")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--runs", default=None, help="comma list of run names, or all")
    parser.add_argument("--chapter", type=int, default=None, help="the runs of one chapter")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    store = RunStore(profile.name)
    data: dict[str, object] = {}
    failed = []
    for name in chosen_runs(args.runs, args.chapter):
        spec = run_spec(name)
        t0 = time.time()
        try:
            if spec.labels not in data:
                data[spec.labels] = load_fer2013(args.data, labels=spec.labels,
                                                 ferplus_path=args.ferplus)
            run_profile = spec.profile_under(profile)  # the best recipe's runs: 'best'
            run_store = store if run_profile is profile else RunStore(run_profile.name)
            result = fit_named_run(data[spec.labels], name, run_profile, train_missing=True,
                                   store=run_store, progress=False)
            if result.run.path == run_store.local(name).path:
                run_store.export(name, ship_weights=spec.keeps_weights)
                results_manifest.main([])
        except Exception:  # one failed run must not stop the queue
            traceback.print_exc()
            failed.append(name)
            continue
        print(f"{name}: test {result.metrics['test']['accuracy']:.4f} "
              f"({'loaded' if result.loaded else f'{time.time() - t0:.0f} s'})", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
