"""Does a bf16 run learn as well as an fp32 one? The same short run both ways, two seeds.

ResNet18 at 48 px (the ``cpu`` profile's recipe) on a seeded subset of the real FER-2013
training set, evaluated on the full validation and test sets, trained with
``precision="fp32"`` and with ``precision="bf16"`` for seeds 0 and 1. The seed-to-seed
spread of fp32 is the noise the bf16 difference is read against. Writes
``results/precision-accuracy-<machine>.md``.

    python benchmarks/bench_precision_accuracy.py --data ../shared/data/fer2013.npz
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from fer_course.atomic import atomic_write_text
from fer_course.data import load_fer2013
from fer_course.devices import describe_device, machine_tag
from fer_course.engine.backbone_task import fit
from fer_course.profiles import get_profile
from fer_course.runs.cards import library_versions

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--train-limit", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args()
    data = load_fer2013(args.data)
    profile = get_profile("cpu", epochs=args.epochs, train_limit=args.train_limit)
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for seed in [int(s) for s in args.seeds.split(",")]:
            for precision in ("fp32", "bf16"):
                t0 = time.perf_counter()
                result = fit(data, args.arch, profile, Path(runs) / f"{precision}-{seed}",
                             device="cpu", progress=False, seed=seed, precision=precision)
                m = result.metrics
                rows.append(f"| {seed} | {precision} | {m['val']['accuracy']:.4f} | "
                            f"{m['test']['accuracy']:.4f} | {m['test']['loss']:.4f} | "
                            f"{time.perf_counter() - t0:.0f} |")
                print(rows[-1], flush=True)
    text = "\n".join([
        f"# bf16 against fp32, same run: {describe_device('cpu')}", "",
        f"- date: {date.today()}; {args.arch}, cpu profile recipe, {args.epochs} epochs on "
        f"{args.train_limit} training faces (seeded subset), full val and test; real FER-2013",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in library_versions().items()), "",
        "| seed | precision | val accuracy | test accuracy | test loss | seconds |",
        "|---|---|---|---|---|---|", *rows, "",
    ])
    out = atomic_write_text(RESULTS / f"precision-accuracy-{machine_tag()}.md", text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
