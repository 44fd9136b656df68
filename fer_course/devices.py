"""Which device a run uses, and how to name it on a run card."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch


def pick_device(preferred: str | None = None) -> torch.device:
    """``preferred`` if given, else the first CUDA GPU, else the CPU.

    >>> pick_device("cpu")
    device(type='cpu')
    """
    if preferred:
        return torch.device(preferred)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_model(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str:
    """The processor's model name where the OS tells it, else the architecture. A name
    without a model number (a virtual machine may show only "AMD EPYC") gets the CPU's
    family and model numbers, which tell its generations apart.

    >>> cpu_model("/nonexistent") == (platform.processor() or platform.machine())
    True
    """
    path = Path(cpuinfo)
    if path.exists():
        fields: dict[str, str] = {}
        for line in path.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        name = fields.get("model name")
        if name:
            if not re.search(r"\d", name) and "cpu family" in fields and "model" in fields:
                name += f" (family {fields['cpu family']}, model {fields['model']})"
            return name
    return platform.processor() or platform.machine()


def describe_device(device: torch.device | str) -> str:
    """A human-readable name, e.g. ``cuda:0 (NVIDIA H200)`` or ``cpu (2 cores, ...)``.

    >>> describe_device("cpu").startswith("cpu (")
    True
    """
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"{device.type} ({os.cpu_count()} cores, {cpu_model()})"


def machine_tag(with_gpu: bool = False) -> str:
    """A file-name-safe machine name for benchmark results (no hostname).

    >>> machine_tag().startswith("cpu-")
    True
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    name = f"cpu-{cores}core-{platform.machine()}"
    if with_gpu and torch.cuda.is_available():
        name += "-" + torch.cuda.get_device_name(0)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-").lower()


GPU_PROFILES = ("paper", "colab")
"""Profiles whose runs fine-tune ImageNet backbones at large inputs: a GPU's work."""


def runtime_note(profile_name: str, device: torch.device | str,
                 cpu_bf16: bool | None = None) -> str:
    """What running profile ``profile_name`` on ``device`` means, in the same words in every
    chapter; empty on a GPU. The stored runs' times hold for a CPU with bf16 instructions;
    on one without (``cpu_bf16`` False; default: this CPU's), training computes in fp32.

    >>> runtime_note("cpu", "cuda:0")
    ''
    >>> runtime_note("cpu", "cpu").split(":")[0]
    'no GPU here'
    >>> runtime_note("cpu", "cpu", cpu_bf16=False)[-57:]
    'this CPU has none, so expect about 3 times as long (fp32)'
    """
    if torch.device(device).type == "cuda":
        return ""
    if profile_name in GPU_PROFILES:
        return (f"no GPU here: the '{profile_name}' profile's stored runs load, but a run it "
                "has to train (ImageNet backbones at large inputs) takes many hours on a CPU; "
                "in Colab choose Runtime > Change runtime type > T4 GPU and run the "
                "notebook again")
    from fer_course.precision import FP32_SLOWDOWN, cpu_has_bf16

    note = (f"no GPU here: the '{profile_name}' profile needs none; its stored runs load in "
            "seconds, and a run it has to train takes minutes to about an hour on 2 CPU cores")
    if not (cpu_has_bf16() if cpu_bf16 is None else cpu_bf16):
        note += (f" with bf16 instructions; this CPU has none, so expect about "
                 f"{FP32_SLOWDOWN:g} times as long (fp32)")
    return note
