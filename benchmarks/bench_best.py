"""Speed of the ``best`` recipe (chapter 7): training images/s in fp32 and bf16, and
inference milliseconds per face at batch 1 and batch 64, the CPU named.

Run by hand from the repository root (about two minutes on 2 CPU cores)::

    python benchmarks/bench_best.py
    python benchmarks/bench_best.py --steps 20 --device cuda

Synthetic uint8 faces stand in for FER-2013 (speed does not depend on the pixels).
Writes ``benchmarks/results/best-<machine>.md`` and ``.json``, one column per CPU model:
a run on another CPU adds its column, a run on the same one replaces its own.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import torch

from fer_course.atomic import atomic_write_text
from fer_course.data import make_synthetic_fer
from fer_course.devices import cpu_model, machine_tag, pick_device
from fer_course.engine.best_task import BestTask
from fer_course.engine.inference import LoadedModel
from fer_course.engine.step import optimizer_step
from fer_course.models.small_cnn import FlipAveraged
from fer_course.precision import cpu_has_bf16
from fer_course.runs.kinds import MODEL_KINDS
from fer_course.runs.recipes import BestRecipe

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def training_rate(precision: str, steps: int, device: torch.device) -> float:
    """Training images per second of the recipe (augmentation, forward, backward, step)."""
    recipe = BestRecipe(precision=precision)
    data = make_synthetic_fer(recipe.batch_size * 4, 16, 16)
    task = BestTask(recipe, data, device)
    images = data.train.images.to(device)
    labels = data.train.labels.to(device)
    generator = torch.Generator(device).manual_seed(0)
    task.train_mode()

    def one(i: int) -> None:
        idx = slice((i % 4) * recipe.batch_size, (i % 4 + 1) * recipe.batch_size)
        optimizer_step(task, task.train_batch(images[idx], generator), labels[idx])

    for i in range(3):  # warm-up
        one(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(steps):
        one(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * recipe.batch_size / (time.perf_counter() - t0)


def inference_ms(batch: int, device: torch.device, repeats: int) -> float:
    """Milliseconds per face of ``LoadedModel.predict_proba`` (mirror-averaged, fp32)."""
    recipe = BestRecipe()
    task = BestTask(recipe, make_synthetic_fer(64, 8, 8), device)
    loaded = LoadedModel(FlipAveraged(task.model).eval(), 48, MODEL_KINDS["best"])
    faces = torch.randint(0, 256, (batch, 48, 48), dtype=torch.uint8).numpy()
    loaded.predict_proba(faces)
    t0 = time.perf_counter()
    for _ in range(repeats):
        loaded.predict_proba(faces)
    return (time.perf_counter() - t0) / (repeats * batch) * 1000


def merged(stored: object, result: dict) -> list[dict]:
    """The results kept so far (one per machine and device; an old single result counts
    as one) with ``result`` replacing the one of its machine and device.

    >>> merged({"machine": "A", "device": "cpu", "x": 1}, {"machine": "B", "device": "cpu"})
    [{'machine': 'A', 'device': 'cpu', 'x': 1}, {'machine': 'B', 'device': 'cpu'}]
    """
    kept = stored if isinstance(stored, list) else [stored] if isinstance(stored, dict) else []
    same = (result["machine"], result["device"])
    return [r for r in kept if (r.get("machine"), r.get("device")) != same] + [result]


def markdown(results: list[dict]) -> str:
    """One column per machine, one row per measure."""
    measures = [k for k in results[-1] if k.startswith(("train ", "inference "))]
    head = [f"{r['machine']} ({r['device']}, {r['threads']} threads)" for r in results]
    lines = ["# best recipe speed, by machine", "",
             "Training images/s in fp32 and bf16 autocast, and inference milliseconds per "
             "face; `precision=\"auto\"` picks bf16 only on a CPU with bf16 instructions.", "",
             "| measure | " + " | ".join(head) + " |", "|---" * (len(results) + 1) + "|"]
    lines.append("| bf16 instructions | " + " | ".join(
        {True: "yes", False: "no"}.get(r.get("bf16_instructions"), "not recorded")
        for r in results) + " |")
    for k in measures:
        lines.append(f"| {k} | " + " | ".join(
            f"{r[k]:.1f}" if k in r else "" for r in results) + " |")
    lines.append("| date, torch | " + " | ".join(f"{r['date']}, {r['torch']}"
                                                 for r in results) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    rows = {}
    for precision in ("fp32", "bf16"):
        rows[f"train images/s, {precision}"] = training_rate(precision, args.steps, device)
    rows["inference ms/face, batch 1"] = inference_ms(1, device, 200)
    rows["inference ms/face, batch 64"] = inference_ms(64, device, 20)
    machine = cpu_model() if device.type == "cpu" else torch.cuda.get_device_name(device)
    result = {"machine": machine, "device": str(device), "threads": torch.get_num_threads(),
              "bf16_instructions": cpu_has_bf16() if device.type == "cpu" else None,
              "date": datetime.date.today().isoformat(), "torch": torch.__version__, **rows}
    RESULTS_DIR.mkdir(exist_ok=True)
    stem = RESULTS_DIR / f"best-{machine_tag()}"
    json_file = stem.with_suffix(".json")
    results = merged(json.loads(json_file.read_text()) if json_file.is_file() else None, result)
    atomic_write_text(json_file, json.dumps(results, indent=2) + "\n")
    atomic_write_text(stem.with_suffix(".md"), markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
