"""Training throughput per backbone: the real pipeline against the ceiling.

Pipeline: what ``engine.backbone_task.fit`` does per batch — gather uint8 faces on the device,
augment them there (``BackboneTask.train_batch``), one optimiser step.
Ceiling: the same step on a ready-made float batch already on the device (no data work).
The ratio says how much the data pipeline costs; the goal on a GPU is >= 90 %.

Run by hand, e.g. on a CPU at a small size, or at 224 px on a GPU:

    python benchmarks/bench_train.py --image-size 48 --batch-size 128 --models resnet18
    python benchmarks/bench_train.py --image-size 224 --batch-size 64      # all 17, GPU

Synthetic data suffices for throughput. Results: this machine's section (one per CPU or GPU
model) of ``benchmarks/results/train-<machine>-<size>px.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import torch

from fer_course.devices import cpu_model, describe_device, machine_tag, pick_device
from fer_course.engine.backbone_task import BackboneTask
from fer_course.engine.step import optimizer_step
from fer_course.models import PAPER_BACKBONES
from fer_course.profiles import get_profile
from fer_course.runs.cards import library_versions
from fer_course.runs.recipes import backbone_recipe

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loaded by path in the tests, too
from by_machine import write_section  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def images_per_second(step, batch_size: int, device: torch.device, warmup: int,
                      batches: int) -> float:
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(batches):
        step()
    _sync(device)
    return batches * batch_size / (time.perf_counter() - start)


def measure(arch: str, image_size: int, batch_size: int, device: torch.device, warmup: int,
            batches: int, n_images: int = 4096, precision: str = "auto") -> tuple[float, float]:
    """(pipeline, ceiling) images/s of ``arch``."""
    profile = get_profile("paper", image_size=image_size, batch_size=batch_size,
                          weights="scratch", precision=precision)
    task = BackboneTask(backbone_recipe(arch, profile), num_classes=7, device=device)
    images = torch.randint(0, 256, (n_images, 48, 48), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 7, (n_images,), device=device)
    generator = torch.Generator(device).manual_seed(0)
    order = torch.randperm(n_images, device=device)
    position = [0]

    def pipeline_step() -> None:
        start = position[0] % (n_images - batch_size)
        position[0] += batch_size
        idx = order[start:start + batch_size]
        optimizer_step(task, task.train_batch(images[idx], generator), labels[idx])

    ready_x, ready_y = task.train_batch(images[order[:batch_size]], generator), labels[
        order[:batch_size]]
    task.train_mode()
    pipeline = images_per_second(pipeline_step, batch_size, device, warmup, batches)
    ceiling = images_per_second(lambda: optimizer_step(task, ready_x, ready_y), batch_size, device,
                                warmup, batches)
    return pipeline, ceiling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(PAPER_BACKBONES))
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    args = parser.parse_args()
    device = pick_device(args.device)
    rows = []
    for arch in args.models.split(","):
        pipeline, ceiling = measure(arch, args.image_size, args.batch_size, device,
                                    args.warmup, args.batches)
        rows.append(f"| {arch} | {pipeline:,.0f} | {ceiling:,.0f} | {pipeline / ceiling:.1%} |")
        print(rows[-1], flush=True)
    body = "\n".join([
        f"- device: {describe_device(device)}",
        f"- date: {date.today()}; image {args.image_size} px, batch {args.batch_size}, "
        f"{args.warmup} warm-up then {args.batches} timed batches, synthetic data",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in library_versions().items()),
        "- pipeline: uint8 gather + batched augmentation on the device + step; "
        "ceiling: the step alone on a ready batch", "",
        "| backbone | pipeline images/s | ceiling images/s | pipeline / ceiling |",
        "|---|---|---|---|", *rows, "",
    ])
    tag = machine_tag(with_gpu=device.type == "cuda")
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    out = write_section(RESULTS / f"train-{tag}-{args.image_size}px.md",
                        f"# Training throughput at {args.image_size} px, by machine", machine, body)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
