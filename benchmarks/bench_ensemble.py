"""How long the ensemble analysis takes: every top-k curve for 17 models x 3,589 images.

Covers both member orders (validation and test accuracy), every rule of
``fer_course.analysis.ensemble.RULES`` and the tie rate, on random predictions of the real sizes;
the target is under 1 s for the curves of both orders on one split (what
``EnsembleMembers.curves`` computes for the chapter's figure 3).
Run by hand: ``python benchmarks/bench_ensemble.py``; results in ``benchmarks/results/``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

from fer_course.analysis.ensemble import greedy_selection, order_by, top_k_curve
from fer_course.atomic import atomic_write_text
from fer_course.devices import cpu_model, machine_tag
from fer_course.runs.cards import library_versions

N_MODELS, N_SAMPLES, N_CLASSES = 17, 3589, 7
TARGET_S = 1.0


def timed(action: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and worst wall time of ``repeats`` runs, in seconds."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), max(runs)


def main(repeats: int = 5) -> None:
    rng = np.random.default_rng(0)
    val_probs = rng.dirichlet(np.ones(N_CLASSES), size=(N_MODELS, N_SAMPLES)).astype(np.float32)
    test_probs = rng.dirichlet(np.ones(N_CLASSES), size=(N_MODELS, N_SAMPLES)).astype(np.float32)
    val_y, test_y = rng.integers(0, N_CLASSES, (2, N_SAMPLES))
    val_acc = (val_probs.argmax(-1) == val_y).mean(1)
    test_acc = (test_probs.argmax(-1) == test_y).mean(1)
    orders = (order_by(val_acc), order_by(test_acc))

    def both_orders_on_test() -> None:
        for order in orders:
            top_k_curve(test_probs, test_y, order, weights=val_acc)

    def both_orders_on_val_and_test() -> None:
        for order in orders:
            top_k_curve(test_probs, test_y, order, weights=val_acc)
            top_k_curve(val_probs, val_y, order, weights=val_acc)

    actions = {
        "top-k curves, both orders, test split (4 rules + tie rate)": both_orders_on_test,
        "all top-k curves (2 orders x val/test x 4 rules + tie rate)":
            both_orders_on_val_and_test,
        "greedy forward selection on val (soft vote)":
            lambda: greedy_selection(val_probs, val_y),
        "greedy forward selection on val (majority, random ties)":
            lambda: greedy_selection(val_probs, val_y, rule="majority (random ties)"),
    }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    timings = {name: timed(action, repeats) for name, action in actions.items()}
    first = next(iter(timings.values()))[0]
    text = "\n".join([
        f"# Ensemble analysis speed on {machine_tag()}", "",
        f"- date: {date.today()}; {N_MODELS} models x {N_SAMPLES} images x {N_CLASSES} classes, "
        f"median and worst of {repeats}",
        f"- CPU: {cpu_model()} ({os.cpu_count()} cores; load average {load:.2f} at the start, "
        "other processes share the CPU)",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in library_versions().items()),
        f"- target: both orders on one split under {TARGET_S:.0f} s: "
        f"{'met' if first < TARGET_S else 'MISSED'} ({first:.3f} s median)", "",
        "| what | median, s | worst, s |", "|---|---|---|",
        *[f"| {k} | {a:.3f} | {b:.3f} |" for k, (a, b) in timings.items()], "",
    ])
    out = atomic_write_text(Path(__file__).parent / "results" / f"ensemble-{machine_tag()}.md",
                            text)
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
