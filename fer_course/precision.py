"""Which number format a run computes in: fp32, or bf16/fp16 autocast where it is faster.

``precision="auto"`` picks, per device:

- a CUDA GPU: bf16 autocast where the GPU supports it, else fp16 with loss scaling;
- a CPU with bf16 instructions (``avx512_bf16`` or ``amx_bf16`` in ``/proc/cpuinfo``):
  bf16 autocast with channels-last tensors, measured about 1.9x (ResNet18) to 2.4x
  (the paper's autoencoder) faster than fp32 on 2 cores (``benchmarks/results/``);
- any other CPU: fp32, never slower than before.

``"fp32"`` turns autocast off everywhere; ``"bf16"`` asks for it explicitly.

>>> resolve_precision("fp32", "cpu")
'fp32'
>>> resolve_precision("auto", "cpu") in ("fp32", "bf16")
True
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU executes bf16 matrix products natively (AVX512-BF16 or AMX).

    >>> isinstance(cpu_has_bf16(), bool)
    True
    """
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return False
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return bool({"avx512_bf16", "amx_bf16"} & flags)
    return False


def resolve_precision(requested: str, device: torch.device | str) -> str:
    """The precision a run on ``device`` uses when ``requested`` (one of ``PRECISIONS``)."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; choose one of {PRECISIONS}")
    device = torch.device(device)
    if requested != "auto":
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


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


def uses_channels_last(device: torch.device | str, precision: str) -> bool:
    """Channels-last memory pays off on GPUs and with bf16 on CPUs (oneDNN's fast path)."""
    return torch.device(device).type == "cuda" or precision == "bf16"
