"""Channels-last against the default memory layout, one training step at a time, in fp32.

For the course's recipe (``BestTask``: augmentation, forward, backward, step) and three
models of the CPU path (ResNet18 and DenseNet121 at 48 px, the paper's autoencoder):
images per second with the tensors in PyTorch's default layout and in channels-last,
alternated over ``--rounds`` rounds so that a busy machine slows both alike. The engine
uses channels-last wherever ``fer_course.precision.uses_channels_last`` says so; this
measures whether that pays on this machine. Writes this CPU's section of
``results/channels-last-<machine>.md``.

    python benchmarks/bench_channels_last.py --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import torch

import fer_course.engine.mixed_precision as mixed_precision
from fer_course.devices import cpu_model, describe_device, machine_tag
from fer_course.runs.cards import library_versions

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loaded by path in the tests, too
import bench_best  # noqa: E402
import bench_precision  # noqa: E402
from by_machine import write_section  # noqa: E402

RESULTS = Path(__file__).parent / "results"
LAYOUTS = ("default", "channels-last")
MODELS = ("recipe", "resnet18", "densenet121", "autoencoder")


def rate_in_layout(layout: str, measure: Callable[[], float]) -> float:
    """``measure()`` with the engine's memory layout forced to ``layout``."""
    chosen = mixed_precision.uses_channels_last
    mixed_precision.uses_channels_last = lambda device: layout == "channels-last"
    try:
        return measure()
    finally:
        mixed_precision.uses_channels_last = chosen


def measure_for(model: str, batch_size: int, steps: int) -> Callable[[], float]:
    """Training images per second of ``model`` in fp32 on the CPU (a fresh task each call)."""
    cpu = torch.device("cpu")
    if model == "recipe":
        return lambda: bench_best.training_rate("fp32", steps, cpu)
    return lambda: bench_precision.step_rate(
        bench_precision.make_task(model, "fp32", batch_size, cpu), batch_size, 2, steps)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    rows = []
    for model in args.models.split(","):
        rates: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
        for _ in range(args.rounds):
            for layout in LAYOUTS:
                rates[layout].append(rate_in_layout(
                    layout, measure_for(model, args.batch_size, args.steps)))
        default, last = (statistics.median(rates[layout]) for layout in LAYOUTS)
        rows.append(f"| {model} | {default:,.0f} | {last:,.0f} | {last / default:.2f}x |")
        print(rows[-1], flush=True)
    body = "\n".join([
        f"- device: {describe_device('cpu')}; fp32",
        f"- date: {date.today()}; 48 px, batch {args.batch_size}; the median of "
        f"{args.rounds} alternated rounds of {args.steps} timed steps; "
        f"{torch.get_num_threads()} threads",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in library_versions().items()), "",
        "| model | default layout images/s | channels-last images/s | speed-up |",
        "|---|---|---|---|", *rows,
    ])
    out = write_section(RESULTS / f"channels-last-{machine_tag()}.md",
                        "# Channels-last memory in fp32 training, by CPU", cpu_model(), body)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
