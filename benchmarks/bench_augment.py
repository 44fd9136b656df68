"""Images per second: batched tensor augmentation versus the seed's per-sample PIL pipeline.

Run by hand from the repository root (about a minute on 2 CPU cores)::

    python benchmarks/bench_augment.py            # CPU, and CUDA too when present
    python benchmarks/bench_augment.py --batches 50 --device cpu

Synthetic uint8 data stands in for FER-2013: the speed does not depend on the pixels.
Writes ``benchmarks/results/augment-<machine>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from fer_course.atomic import atomic_write_text
from fer_course.augment import IMAGENET_MEAN, IMAGENET_STD, AugmentConfig, eval_transform
from fer_course.augment import train_transform as batched_train_transform
from fer_course.devices import cpu_model, machine_tag

RESULTS_DIR = Path(__file__).resolve().parent / "results"


class PILFaces(Dataset):
    """The seed's way: one ``PIL.Image`` per sample, transformed in a DataLoader worker."""

    def __init__(self, images: np.ndarray, transform: Callable[[Image.Image], torch.Tensor]):
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        face = Image.fromarray(self.images[index])  # a 2-D uint8 array becomes mode "L"
        return self.transform(face), 0


def seed_transform(image_size: int) -> transforms.Compose:
    """The paper's Table 1 pipeline, torchvision defaults kept (rotation is nearest-neighbour)."""
    return transforms.Compose([
        transforms.Resize(image_size),
        transforms.RandomRotation(45),
        transforms.RandomHorizontalFlip(),
        transforms.Grayscale(num_output_channels=3),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def images_per_second(next_batch: Callable[[], torch.Tensor], warmup: int, batches: int,
                      repeats: int, sync: Callable[[], None]) -> list[float]:
    """Time ``repeats`` rounds of ``batches`` calls of ``next_batch`` after ``warmup`` untimed."""
    for _ in range(warmup):
        next_batch()
    rounds = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        count = sum(next_batch().shape[0] for _ in range(batches))
        sync()
        rounds.append(count / (time.perf_counter() - start))
    return rounds


def bench_batched(data: torch.Tensor, transform: Callable[..., torch.Tensor], config: AugmentConfig,
                  batch_size: int, warmup: int, batches: int, repeats: int) -> list[float]:
    """Index a random batch from the on-device data tensor, then augment it."""
    device = data.device
    generator = torch.Generator(device=device).manual_seed(0)

    def next_batch() -> torch.Tensor:
        index = torch.randint(len(data), (batch_size,), generator=generator, device=device)
        if transform is eval_transform:
            return transform(data[index], config)
        return transform(data[index], config, generator)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    return images_per_second(next_batch, warmup, batches, repeats, sync)


def bench_pil(images: np.ndarray, image_size: int, batch_size: int, workers: int,
              warmup: int, batches: int, repeats: int) -> list[float]:
    """The seed's DataLoader; loops over epochs if more batches are asked than one holds."""
    loader = DataLoader(PILFaces(images, seed_transform(image_size)), batch_size=batch_size,
                        num_workers=workers, shuffle=True, drop_last=True,
                        persistent_workers=workers > 0)

    def endless() -> Iterator[torch.Tensor]:
        while True:
            for batch, _ in loader:
                yield batch

    stream = endless()
    return images_per_second(lambda: next(stream), warmup, batches, repeats, lambda: None)


def to_markdown(report: dict) -> str:
    lines = [
        f"# Augmentation throughput on {report['machine']}",
        "",
        f"- date: {report['date']}",
        f"- torch {report['torch']}, torchvision {report['torchvision']}",
        f"- CPU: {report['cpu']} ({report['cpu_count']} cores, "
        f"{report['torch_threads']} torch threads)",
        f"- synthetic uint8 data {report['data_shape']}; {report['warmup']} warm-up batches, "
        f"then {report['repeats']} rounds of {report['batches']} timed batches per row; "
        "images/s is the best round (other processes share the CPU), all rounds are in the .json",
        "",
        "| pipeline | device | image size | batch | images/s (best round) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['pipeline']} | {r['device']} | {r['image_size']} | {r['batch_size']} "
        f"| {r['images_per_s']:,.0f} |"
        for r in report["rows"]
    ]
    return "\n".join(lines) + "\n"


def result_row(pipeline: str, device: str, sizes: dict, rounds: list[float]) -> dict:
    """One table row, printed as it is measured."""
    best = max(rounds)
    print(f"{pipeline:<40} {device:<24} {best:>10,.0f} images/s", flush=True)
    return {"pipeline": pipeline, "device": device, **sizes, "images_per_s": best,
            "rounds_images_per_s": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="timed batches per row")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches first")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds; the best is kept")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--num-images", type=int, default=4096)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (PIL)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto: CPU, plus CUDA when available")
    parser.add_argument("--skip-pil", action="store_true", help="only the batched pipeline")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch.cuda.is_available() is False")
    devices = {"auto": ["cpu"] + (["cuda"] if torch.cuda.is_available() else []),
               "cpu": ["cpu"], "cuda": ["cuda"]}[args.device]
    config = AugmentConfig(image_size=args.image_size)
    images = np.random.default_rng(0).integers(0, 256, (args.num_images, 48, 48), dtype=np.uint8)
    row = {"image_size": args.image_size, "batch_size": args.batch_size}
    rows = []
    for device in devices:
        data = torch.from_numpy(images).to(device)
        label = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
        for name, transform in [("batched train (fer_course.augment)", batched_train_transform),
                                ("batched eval (fer_course.augment)", eval_transform)]:
            rounds = bench_batched(data, transform, config, args.batch_size, args.warmup,
                                   args.batches, args.repeats)
            rows.append(result_row(name, label, row, rounds))
    if not args.skip_pil:
        rounds = bench_pil(images, args.image_size, args.batch_size, args.workers, args.warmup,
                           args.batches, args.repeats)
        name, label = "seed PIL per sample, DataLoader", f"cpu ({args.workers} workers)"
        rows.append(result_row(name, label, row, rounds))

    report = {
        "machine": machine_tag(with_gpu="cuda" in devices),
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cpu": cpu_model(),
        "cpu_count": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "data_shape": [args.num_images, 48, 48],
        "warmup": args.warmup,
        "batches": args.batches,
        "repeats": args.repeats,
        "rows": rows,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"augment-{report['machine']}"
    atomic_write_text(args.out_dir / f"{stem}.md", to_markdown(report))
    atomic_write_text(args.out_dir / f"{stem}.json", json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out_dir / stem}.md and .json")


if __name__ == "__main__":
    main()
