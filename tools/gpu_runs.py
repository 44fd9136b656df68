"""Everything a lent GPU should do in one call, within a time budget, packed into one file.

1. Training throughput at 224 px for the paper's 17 backbones: the real pipeline (uint8
   gather, batched augmentation on the GPU, step) against the step alone on a ready batch.
2. The multitask pair of chapter 5 (λ = 1 and λ = 0) at the paper's 50 epochs.
3. As many backbones as the remaining time allows with the paper's recipe (224 px,
   30 epochs, batch 64, SGD 1e-2) from random weights (no ImageNet download there).

With ``--runs`` the named registry runs are trained instead of 2 and 3, each under its own
profile (the best recipe's under ``best``, e.g. vote members made different on purpose,
which take an hour or more each on 2 CPU cores).

Every run is resumable and stops cleanly when the budget runs out (an unfinished run
keeps its history). The run summaries (``fer_course.runs.store.export_run``), the
throughput table and a log are packed into ``<out>/gpu-results.tar.gz`` (at most 16 MiB).

    python tools/gpu_runs.py --data .gpu_data/fer2013.ferpack --out "$OUT" --budget-s 690
    python tools/gpu_runs.py --smoke --out /tmp/gpu-dry-run --budget-s 120   # CPU dry run
    python tools/gpu_runs.py --data .gpu_data/fer2013.ferpack --out "$OUT" --runs best-seed5
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_train import measure  # noqa: E402

from fer_course.data import load_fer2013, make_synthetic_fer  # noqa: E402
from fer_course.devices import describe_device, pick_device  # noqa: E402
from fer_course.engine.loop import RunResult  # noqa: E402
from fer_course.engine.named_runs import fit_named_run  # noqa: E402
from fer_course.models import PAPER_BACKBONES  # noqa: E402
from fer_course.profiles import get_profile  # noqa: E402
from fer_course.runs import RunStore, run_spec  # noqa: E402

PACK_LIMIT = 16 * 2**20
# cheapest first, so that the budget trains as many as it can
BACKBONE_ORDER = ("resnet18", "resnet34", "densenet121", "resnet50", "vgg11")


class OutOfTime(Exception):
    """The budget is spent; the run in progress stops after its current batch."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="FER-2013 in any form load_fer2013 reads")
    parser.add_argument("--out", required=True)
    parser.add_argument("--budget-s", type=float, default=690)
    parser.add_argument("--smoke", action="store_true", help="synthetic data, smoke sizes, CPU")
    parser.add_argument("--runs", default=None,
                        help="comma list of registry runs to train instead of the multitask "
                             "pair and the backbones, each under its own profile")
    args = parser.parse_args(argv)
    t0 = time.time()
    out = Path(args.out)
    runs_dir = out / "runs"
    log: list[str] = []

    def say(text: str) -> None:
        line = f"[{time.time() - t0:6.0f} s] {text}"
        print(line, flush=True)
        log.append(line)

    def left() -> float:
        return args.budget_s - (time.time() - t0)

    def stop_when_out_of_time(epoch: int, batch: int) -> None:
        if left() < 20:  # keep time to evaluate, export and pack
            raise OutOfTime

    device = pick_device("cpu" if args.smoke else None)
    profile = get_profile("smoke" if args.smoke else "paper", weights="scratch")
    data = (make_synthetic_fer(*profile.synthetic_sizes, seed=0) if args.smoke
            else load_fer2013(args.data))
    say(f"device {describe_device(device)}; data {data.source} {data.counts()}")

    size = profile.image_size
    rows = []
    for arch in (PAPER_BACKBONES[:2] if args.smoke else PAPER_BACKBONES):
        if left() < args.budget_s * 0.75:
            say("throughput: out of its share of the time")
            break
        pipeline, ceiling = measure(arch, size, profile.batch_size, device, warmup=2,
                                    batches=3 if args.smoke else 8)
        rows.append({"arch": arch, "pipeline": pipeline, "ceiling": ceiling})
        say(f"throughput {arch}: pipeline {pipeline:,.0f} / ceiling {ceiling:,.0f} img/s")
    (out / "throughput.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "throughput.json").write_text(json.dumps({"device": describe_device(device),
                                                     "image_size": size, "rows": rows}))

    def attempt(name: str) -> None:  # a registry run, under its own profile
        spec = run_spec(name)
        run_profile = spec.profile_under(profile)
        store = RunStore(run_profile.name, runs_dir=runs_dir / run_profile.name,
                         results_dir=out / "results" / run_profile.name)
        try:
            result: RunResult = fit_named_run(data, name, run_profile, train_missing=True,
                                              store=store, device=device, progress=False,
                                              callbacks=[stop_when_out_of_time])
        except OutOfTime:
            say(f"{name}: stopped by the budget (history kept in its run folder)")
            return
        store.export(name, ship_weights=spec.keeps_weights)
        say(f"{name}: test {result.metrics['test']['accuracy']:.4f}")

    if args.runs:
        for name in [n.strip() for n in args.runs.split(",") if n.strip()]:
            if left() < 30:  # too little left to train before the 20 s kept for packing
                say(f"{name}: not started, out of time")
                continue
            attempt(name)
    else:
        for name in ("multitask-lam1", "multitask-lam0"):
            attempt(name)
        for arch in BACKBONE_ORDER:
            if left() < 60:
                break
            attempt(arch)

    (out / "log.txt").write_text("\n".join(log) + "\n")
    pack = out / "gpu-results.tar.gz"
    with tarfile.open(pack, "w:gz") as tar:
        for item in ("results", "throughput.json", "log.txt"):
            if (out / item).exists():
                tar.add(out / item, arcname=item)
        for history in runs_dir.glob("*/*/history.csv"):  # unfinished runs too
            tar.add(history, arcname=f"histories/{history.parent.name}.csv")
    if pack.stat().st_size > PACK_LIMIT:
        raise SystemExit(f"{pack} is {pack.stat().st_size / 2**20:.1f} MiB, over 16 MiB")
    say(f"packed {pack.stat().st_size / 2**20:.2f} MiB into {pack.name}")
    if device.type == "cuda":
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
