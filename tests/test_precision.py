"""The precision ``auto`` picks per device, and mixed precision in the tasks (fp16 scaling)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fer_course.engine.autoencoder_task import AutoencoderTask
from fer_course.engine.mixed_precision import MixedPrecision
from fer_course.engine.step import optimizer_step
from fer_course.precision import choose_precision, cpu_flags, cpu_has_bf16, resolve_precision
from fer_course.runs.recipes import AutoencoderRecipe


@pytest.mark.parametrize(("gpu", "capability", "expected"), [
    ("P100", (6, 0), "fp16"),
    ("V100", (7, 0), "fp16"),
    ("T4", (7, 5), "fp16"),  # torch may call bf16 "supported" here: it is only emulated
    ("A100", (8, 0), "bf16"),
    ("RTX 3090", (8, 6), "bf16"),
    ("H100", (9, 0), "bf16"),
])
def test_cuda_by_compute_capability(gpu: str, capability: tuple[int, int],
                                    expected: str) -> None:
    assert choose_precision("cuda", capability) == expected, gpu


def test_cuda_of_unknown_capability_is_fp16() -> None:
    assert choose_precision("cuda") == "fp16"
    assert choose_precision("cuda", None) == "fp16"


@pytest.mark.parametrize(("flags", "expected"), [
    (["avx2", "fma", "avx512f", "avx512_bf16"], "bf16"),
    (["avx2", "fma", "amx_tile", "amx_bf16"], "bf16"),
    (("avx512_bf16",), "bf16"),
    (iter(["amx_bf16"]), "bf16"),  # any iterable
    (["avx2", "fma"], "fp32"),
    (["avx2", "fma", "avx512f", "avx512_vnni"], "fp32"),
    ([], "fp32"),
])
def test_cpu_by_flags(flags, expected: str) -> None:
    assert choose_precision("cpu", cpu_flags=flags) == expected


def test_other_devices_are_fp32() -> None:
    assert choose_precision("mps") == "fp32"
    assert choose_precision("mps", (9, 0), ["amx_bf16"]) == "fp32"  # flags of no concern
    assert choose_precision("xpu") == "fp32"


def test_auto_on_this_cpu_agrees_with_choose_precision() -> None:
    flags = cpu_flags()
    assert isinstance(flags, frozenset)
    expected = choose_precision("cpu", cpu_flags=flags)
    assert resolve_precision("auto", "cpu") == expected
    assert resolve_precision("auto", torch.device("cpu")) == expected
    assert cpu_has_bf16() == (expected == "bf16")


def test_explicit_precision_is_kept_and_unknown_refused() -> None:
    for precision in ("fp32", "bf16", "fp16"):
        assert resolve_precision(precision, "cpu") == precision
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("fp8", "cpu")


def test_mixed_precision_owns_the_scaler_and_memory_format() -> None:
    fp32, bf16, fp16 = (MixedPrecision("cpu", p) for p in ("fp32", "bf16", "fp16"))
    assert [m.precision for m in (fp32, bf16, fp16)] == ["fp32", "bf16", "fp16"]
    assert [m.scaler.is_enabled() for m in (fp32, bf16, fp16)] == [False, False, True]
    # oneDNN's faster layout on a CPU, whatever the precision (bench_channels_last.py)
    assert all(m.memory_format == torch.channels_last for m in (fp32, bf16, fp16))
    assert fp32.prepare(torch.zeros(2, 3, 4, 4)).is_contiguous(memory_format=torch.channels_last)
    assert fp32.prepare(torch.zeros(2, 5)).shape == (2, 5)  # not images: as it is
    with bf16.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with fp32.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def _batch(task: AutoencoderTask, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 48, 48), dtype=torch.uint8, generator=g)
    return task.train_batch(images, g), torch.randint(0, 7, (n,), generator=g)


def _parameters(task: AutoencoderTask) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in task.model.named_parameters()}


def _gradient(task: AutoencoderTask) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in task.model.parameters() if p.grad is not None])


def _step(task: AutoencoderTask) -> dict[str, torch.Tensor]:
    torch.manual_seed(5)  # the same dropout for every task
    return optimizer_step(task, *_batch(task))


@pytest.mark.usefixtures("one_thread")
def test_autoencoder_fp16_scales_the_loss_and_steps() -> None:
    task = AutoencoderTask(AutoencoderRecipe("multitask", latent_dim=8, precision="fp16"),
                           device="cpu")
    assert task.precision == "fp16" and task.amp.scaler.is_enabled()
    scale = task.amp.scaler.get_scale()
    before = _parameters(task)
    assert torch.isfinite(_step(task)["loss"])
    after = _parameters(task)
    assert task.amp.scaler.get_scale() == scale  # no overflow: the step was taken
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) > len(before) // 2
    assert all(torch.isfinite(v).all() for v in after.values())

    # the gradients the update used were unscaled: about those of the same step in fp32
    reference = AutoencoderTask(AutoencoderRecipe("multitask", latent_dim=8, precision="fp32"),
                                device="cpu")
    _step(reference)
    g16, g32 = _gradient(task), _gradient(reference)
    assert 0.8 < float(g16.norm() / g32.norm()) < 1.25  # scaled: 65536 times larger
    assert float(F.cosine_similarity(g16, g32, dim=0)) > 0.8

    # the scaler's state goes into the checkpoint and comes back from it
    state = task.state_dict()
    assert state["scaler"]["scale"] == scale
    assert state["scaler"]["_growth_tracker"] == 1  # updated once, after a finite step
    state["scaler"] = {**state["scaler"], "scale": 1024.0}
    fresh = AutoencoderTask(AutoencoderRecipe("multitask", latent_dim=8, precision="fp16"),
                            device="cpu")
    fresh.load_state_dict(state)
    assert fresh.amp.scaler.get_scale() == 1024.0
    # a checkpoint from before the scaler (none of the autoencoder's had one) still loads
    old = {k: v for k, v in state.items() if k != "scaler"}
    fresh = AutoencoderTask(AutoencoderRecipe("multitask", latent_dim=8, precision="fp16"),
                            device="cpu")
    fresh.load_state_dict(old)
    assert fresh.amp.scaler.get_scale() == scale
    assert all(torch.equal(v, after[k]) for k, v in _parameters(fresh).items())


@pytest.mark.usefixtures("one_thread")
def test_autoencoder_fp32_has_no_scaler_and_unchanged_numbers() -> None:
    recipe = AutoencoderRecipe("multitask", latent_dim=8, precision="fp32")
    task = AutoencoderTask(recipe, device="cpu")
    assert task.precision == "fp32" and not task.amp.scaler.is_enabled()
    assert task.state_dict()["scaler"] == {}
    _step(task)

    # the same step by hand, without any scaler (as before MixedPrecision): identical
    plain = AutoencoderTask(recipe, device="cpu")
    torch.manual_seed(5)
    parts = plain.losses(*_batch(plain))
    plain.optimizer.zero_grad(set_to_none=True)
    parts["loss"].backward()
    plain.optimizer.step()
    after, expected = _parameters(task), _parameters(plain)
    assert all(torch.equal(after[k], expected[k]) for k in expected)
