"""The benchmarks of ``benchmarks/`` still run against the library: each is imported and
its measuring functions take a step or two at toy sizes (no timing is judged here, and no
result file is written)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tool_scripts import load_tool  # tests/tool_scripts.py (pytest puts tests/ on the path)

BENCHMARKS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "benchmarks")
                    .glob("bench_*.py"))
CPU = torch.device("cpu")


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_imports_and_has_a_main(name: str) -> None:
    assert callable(load_tool(name, "benchmarks").main)


def test_bench_best_measures_a_training_step_and_inference() -> None:
    bench = load_tool("bench_best", "benchmarks")
    assert bench.training_rate("fp32", 1, CPU) > 0
    assert bench.inference_ms(2, CPU, 1) > 0


def test_bench_precision_steps_a_backbone_and_the_autoencoder() -> None:
    bench = load_tool("bench_precision", "benchmarks")
    for model in ("resnet18", "autoencoder"):
        assert bench.step_rate(bench.make_task(model, "fp32", 4, CPU), 4, 1, 1) > 0


def test_bench_train_measures_the_pipeline_and_its_ceiling() -> None:
    bench = load_tool("bench_train", "benchmarks")
    pipeline, ceiling = bench.measure("resnet18", 48, 4, CPU, 1, 1, n_images=16,
                                      precision="fp32")
    assert pipeline > 0 and ceiling > 0


def test_bench_augment_times_the_batched_transform() -> None:
    bench = load_tool("bench_augment", "benchmarks")
    from fer_course.augment import AugmentConfig, train_transform

    data = torch.randint(0, 256, (16, 48, 48), dtype=torch.uint8)
    rounds = bench.bench_batched(data, train_transform, AugmentConfig(image_size=48), 4, 1, 1, 1)
    assert len(rounds) == 1 and rounds[0] > 0


def test_bench_tta_views_and_probabilities() -> None:
    bench = load_tool("bench_tta", "benchmarks")
    from fer_course.models.small_cnn import SmallFaceNet

    net = SmallFaceNet(widths=(4, 4, 4, 4)).eval()
    p = bench.probabilities(net, torch.randint(0, 256, (3, 48, 48), dtype=torch.uint8), "shift1")
    assert p.shape == (3, 7) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_precision_results_keep_one_section_per_cpu(tmp_path, monkeypatch) -> None:
    bench = load_tool("bench_precision", "benchmarks")
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    args = ["bench_precision.py", "--models", "autoencoder", "--batch-size", "2",
            "--warmup", "1", "--batches", "1"]
    monkeypatch.setattr("sys.argv", args)
    for cpu in ("CPU one", "CPU two", "CPU one"):
        monkeypatch.setattr(bench, "cpu_model", lambda cpu=cpu: cpu)
        bench.main()
    (written,) = tmp_path.glob("precision-*.md")
    found = load_tool("by_machine", "benchmarks").sections(written.read_text())
    assert list(found) == ["CPU one", "CPU two"]
    assert all("| autoencoder |" in body for body in found.values())


def test_bench_channels_last_forces_each_layout_and_restores_the_rule() -> None:
    bench = load_tool("bench_channels_last", "benchmarks")
    from fer_course.engine.mixed_precision import MixedPrecision

    seen = {layout: bench.rate_in_layout(layout, lambda: MixedPrecision("cpu", "fp32")
                                         .memory_format) for layout in bench.LAYOUTS}
    assert seen == {"default": torch.contiguous_format, "channels-last": torch.channels_last}
    assert MixedPrecision("cpu", "fp32").memory_format == torch.channels_last
    assert bench.measure_for("autoencoder", 2, 1)() > 0
