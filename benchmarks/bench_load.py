"""How long loading FER-2013 takes: first parse of each format, then the cached load.

Run by hand (needs the real data, or pass --synthetic N for a stand-in of N images):

    python benchmarks/bench_load.py --data ../shared/data/fer2013.npz

The contract measured: the first parse of a csv writes a cache, so that the next load of
the same file takes under 2 s. Results go to ``benchmarks/results/load-<machine>.md``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from fer_course.atomic import atomic_write_text
from fer_course.data import load_fer2013, make_synthetic_fer, write_image_folders, write_kaggle_csv
from fer_course.devices import describe_device, machine_tag
from fer_course.runs.cards import library_versions

RESULTS = Path(__file__).parent / "results"


def timed(action, repeats: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``action``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="FER-2013 source to load (csv, npz or folder)")
    parser.add_argument("--synthetic", type=int, default=0, help="use N synthetic images instead")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)

    if args.synthetic:
        n = args.synthetic
        data, label = make_synthetic_fer(n * 8 // 10, n // 10, n // 10), f"synthetic {n}"
    else:
        data, label = load_fer2013(args.data), f"real FER-2013 ({Path(args.data).name})"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = write_kaggle_csv(data, Path(tmp) / "fer2013.csv")
        folder = write_image_folders(data, Path(tmp) / "faces")
        for name, source in (("kaggle csv", csv_path), ("png folders", folder)):
            (first,) = timed(lambda s=source: load_fer2013(s))
            cached = timed(lambda s=source: load_fer2013(s), args.repeats)
            rows.append((name, first, statistics.median(cached), max(cached)))
        if args.data and Path(args.data).suffix == ".npz":
            npz = timed(lambda: load_fer2013(args.data), args.repeats)
            rows.append(("npz (no cache needed)", statistics.median(npz), statistics.median(npz),
                         max(npz)))

    machine = describe_device("cpu")
    lines = [
        f"# Loading FER-2013: {machine}", "",
        f"- date: {date.today()}; data: {label}, {sum(data.counts().values()):,} images",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in library_versions().items()),
        f"- cached load: median and worst of {args.repeats} loads", "",
        "| source | first load (parse + write cache), s | cached load median, s | worst, s |",
        "|---|---|---|---|",
        *[f"| {n} | {a:.2f} | {b:.2f} | {c:.2f} |" for n, a, b, c in rows],
    ]
    out = atomic_write_text(RESULTS / f"load-{machine_tag()}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
