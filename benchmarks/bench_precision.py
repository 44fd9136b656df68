"""fp32 against the precision ``"auto"`` picks, one training step at a time, on this machine.

For the five models of the CPU-path measurement (ResNet18, ResNet50, DenseNet121, VGG11
at 48 px, and the paper's autoencoder, latent 686): images per second of the real
training step (``engine.step.optimizer_step`` of a backbone or autoencoder task) on a
ready batch of random images, fp32 against ``auto`` (bf16 autocast on CPUs with
AVX512-BF16 or AMX, fp32 elsewhere; channels-last memory in both). Writes its section (one
per CPU model) of ``results/precision-<machine>.md``.

    python benchmarks/bench_precision.py --batch-size 128 --batches 8
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import torch

from fer_course.devices import cpu_model, describe_device, machine_tag, pick_device
from fer_course.engine.autoencoder_task import AutoencoderTask
from fer_course.engine.backbone_task import BackboneTask
from fer_course.engine.step import optimizer_step
from fer_course.precision import resolve_precision
from fer_course.profiles import get_profile
from fer_course.runs.cards import library_versions
from fer_course.runs.recipes import AutoencoderRecipe, backbone_recipe

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loaded by path in the tests, too
from by_machine import write_section  # noqa: E402

RESULTS = Path(__file__).parent / "results"
MODELS = ("resnet18", "resnet50", "densenet121", "vgg11", "autoencoder")


def make_task(model: str, precision: str, batch_size: int, device: torch.device):
    if model == "autoencoder":
        recipe = AutoencoderRecipe("multitask", latent_dim=686, batch_size=batch_size,
                                   precision=precision)
        return AutoencoderTask(recipe, device)
    profile = get_profile("cpu", batch_size=batch_size, precision=precision)
    return BackboneTask(backbone_recipe(model, profile), device=device)


def step_rate(task, batch_size: int, warmup: int, batches: int) -> float:
    images = torch.randint(0, 256, (batch_size, 48, 48), dtype=torch.uint8, device=task.device)
    x = task.train_batch(images, torch.Generator(task.device).manual_seed(0))
    y = torch.randint(0, 7, (batch_size,), device=task.device)
    task.train_mode()
    for _ in range(warmup):
        optimizer_step(task, x, y)
    start = time.perf_counter()
    for _ in range(batches):
        optimizer_step(task, x, y)
    return batches * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args()
    device = pick_device("cpu")
    chosen = resolve_precision("auto", device)
    rows = []
    for model in args.models.split(","):
        rates = {p: step_rate(make_task(model, p, args.batch_size, device), args.batch_size,
                              args.warmup, args.batches) for p in ("fp32", "auto")}
        rows.append(f"| {model} | {rates['fp32']:,.0f} | {rates['auto']:,.0f} | "
                    f"{rates['auto'] / rates['fp32']:.2f}x |")
        print(rows[-1], flush=True)
    body = "\n".join([
        f"- device: {describe_device(device)}; auto picks {chosen}",
        f"- date: {date.today()}; 48 px, batch {args.batch_size}, {args.warmup} warm-up then "
        f"{args.batches} timed steps on a ready batch; {torch.get_num_threads()} threads",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in library_versions().items()), "",
        f"| model | fp32 images/s | auto ({chosen}) images/s | speed-up |", "|---|---|---|---|",
        *rows, "",
    ])
    out = write_section(RESULTS / f"precision-{machine_tag()}.md",
                        "# Training step, fp32 against auto, by CPU", cpu_model(), body)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
