"""Which number format a run computes in: fp32, or bf16/fp16 autocast where it is faster.

``precision="auto"`` picks, per device (``choose_precision``, a pure function of the
device's type, its CUDA compute capability and its CPU flags):

- a CUDA GPU of compute capability 8.0 or newer (A100, H100, ...): bf16 autocast;
- an older CUDA GPU (T4, V100, P100, ...): fp16 autocast with loss scaling. Recent torch
  reports bf16 as "supported" on a T4, where it is only emulated (slow), so the choice
  follows the compute capability, not ``torch.cuda.is_bf16_supported()``;
- a CPU with bf16 instructions (``avx512_bf16`` or ``amx_bf16`` in ``/proc/cpuinfo``):
  bf16 autocast, measured about 1.9x (ResNet18) to 2.4x (the paper's autoencoder)
  faster than fp32 on 2 cores (``benchmarks/results/``);
- any other CPU, and any other device (``mps``, ...): fp32, never slower than before.

Whatever the precision, CPUs and GPUs compute in channels-last memory
(``uses_channels_last``).

``"fp32"`` turns autocast off everywhere; ``"bf16"`` and ``"fp16"`` ask for one explicitly.
A task applies the choice through ``fer_course.engine.mixed_precision.MixedPrecision``.

>>> resolve_precision("fp32", "cpu")
'fp32'
>>> resolve_precision("auto", "cpu") in ("fp32", "bf16")
True
>>> choose_precision("cuda", (7, 5)), choose_precision("cuda", (8, 0))  # T4, A100
('fp16', 'bf16')
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
"""``/proc/cpuinfo`` flags of a CPU that executes bf16 matrix products natively."""

FP32_SLOWDOWN = 3.0
"""How much longer the best recipe trains in fp32 than in bf16 on 2 CPU cores, rounded:
``benchmarks/results/best-cpu-2core-x86_64.md`` measured 386 training images/s in bf16 on
the AMD EPYC of the stored runs, against 149 in fp32 there and 115 in fp32 on an AMD EPYC
without bf16 instructions (2.6 and 3.4 times as long)."""


def choose_precision(device_type: str, capability: tuple[int, int] | None = None,
                     cpu_flags: Iterable[str] = ()) -> str:
    """The precision ``"auto"`` means on a device: ``"bf16"``, ``"fp16"`` or ``"fp32"``.

    ``device_type`` is ``torch.device(...).type``; ``capability`` the CUDA compute
    capability (``torch.cuda.get_device_capability``); ``cpu_flags`` the CPU's flags.
    A CUDA GPU of capability (8, 0) or newer gets bf16, an older one fp16 (with loss
    scaling); an unknown capability (``None``) gets fp16 too, the safe choice, since every
    CUDA GPU runs fp16 natively. A CPU gets bf16 only with ``avx512_bf16`` or ``amx_bf16``.

    >>> choose_precision("cuda", (7, 5)), choose_precision("cuda", (9, 0))  # T4, H100
    ('fp16', 'bf16')
    >>> choose_precision("cpu", cpu_flags=["avx2", "amx_bf16"]), choose_precision("mps")
    ('bf16', 'fp32')
    """
    if device_type == "cuda":
        return "bf16" if capability is not None and tuple(capability) >= (8, 0) else "fp16"
    if device_type == "cpu":
        return "bf16" if BF16_CPU_FLAGS & set(cpu_flags) else "fp32"
    return "fp32"


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """This CPU's flags (the ``flags`` line of ``/proc/cpuinfo``; empty where there is none).

    >>> isinstance(cpu_flags(), frozenset)
    True
    """
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return frozenset()
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_bf16() -> bool:
    """Whether this CPU executes bf16 matrix products natively (AVX512-BF16 or AMX).

    >>> isinstance(cpu_has_bf16(), bool)
    True
    """
    return bool(BF16_CPU_FLAGS & cpu_flags())


def resolve_precision(requested: str, device: torch.device | str) -> str:
    """The precision a run on ``device`` uses when ``requested`` (one of ``PRECISIONS``);
    ``"auto"`` is ``choose_precision`` for this device."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; choose one of {PRECISIONS}")
    device = torch.device(device)
    if requested != "auto":
        return requested
    if device.type == "cuda":
        return choose_precision("cuda", capability=torch.cuda.get_device_capability(device))
    if device.type == "cpu":
        return choose_precision("cpu", cpu_flags=cpu_flags())
    return choose_precision(device.type)


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for a resolved ``precision`` (a no-op context for ``fp32``).

    >>> with autocast("cpu", "bf16"):
    ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    torch.bfloat16
    """
    device = torch.device(device)
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def uses_channels_last(device: torch.device | str) -> bool:
    """Channels-last memory on GPUs and on CPUs, in every precision: oneDNN's CPU
    convolutions are faster on it in fp32 too (``benchmarks/bench_channels_last.py``);
    other devices (``mps``, ...) keep PyTorch's default layout.

    >>> uses_channels_last("cpu"), uses_channels_last("mps")
    (True, False)
    """
    return torch.device(device).type in ("cuda", "cpu")
