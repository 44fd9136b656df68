"""Mixed precision for a task of the engine, in one place: the resolved precision, autocast,
fp16 loss scaling and the memory format that goes with them (``fer_course.precision``).

>>> amp = MixedPrecision("cpu", "fp16")
>>> amp.precision, amp.scaler.is_enabled(), amp.memory_format
('fp16', True, torch.channels_last)
>>> model = amp.to_device(torch.nn.Linear(2, 1))
>>> _ = torch.nn.init.ones_(model.weight), torch.nn.init.zeros_(model.bias)
>>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
>>> with amp.autocast():
...     loss = model(amp.prepare(torch.ones(4, 2))).float().pow(2).mean()
>>> amp.backward_step(loss, optimizer)  # scaled by 2**16, gradients pass float16 max
False
>>> amp.scaler.get_scale()  # so the step was skipped and the scale halved
32768.0
>>> sorted(amp.state_dict())
['_growth_tracker', 'backoff_factor', 'growth_factor', 'growth_interval', 'scale']
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from fer_course.precision import autocast, resolve_precision, uses_channels_last


class MixedPrecision:
    """The precision of a run on ``device`` (``requested``: one of
    ``fer_course.precision.PRECISIONS``) and everything that follows from it.

    - ``precision``: the resolved one, ``"fp32"``, ``"bf16"`` or ``"fp16"``;
    - ``memory_format``: channels-last where ``uses_channels_last`` says it pays off;
    - ``autocast()``: the forward pass's context (a no-op for fp32);
    - ``scaler``: a ``torch.amp.GradScaler``, enabled for fp16 only (bf16 and fp32 need
      no loss scaling; disabled, it leaves backward and step exactly as without it);
    - ``backward_step(loss, optimizer, max_grad_norm)``: scale, backward, clip, step
      (skipped if the gradients overflowed), update; returns whether it stepped.
    """

    def __init__(self, device: torch.device | str, requested: str = "auto") -> None:
        self.device = torch.device(device)
        self.precision = resolve_precision(requested, self.device)
        self.memory_format = (torch.channels_last
                              if uses_channels_last(self.device)
                              else torch.contiguous_format)
        # float16 needs loss scaling against underflow; bfloat16 and float32 do not
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        if self.device.type == "cuda":  # fixed input sizes: let cuDNN pick its fastest kernels
            torch.backends.cudnn.benchmark = True

    def autocast(self) -> contextlib.AbstractContextManager:
        """``torch.autocast`` for this precision on this device (a no-op for fp32)."""
        return autocast(self.device, self.precision)

    def to_device(self, model: nn.Module) -> nn.Module:
        """``model`` moved (in place) to the device, in the memory format."""
        return model.to(self.device, memory_format=self.memory_format)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of images in the memory format (unchanged when it already is); a tensor
        that is not ``[B, C, H, W]`` has no such layout and is returned as it is."""
        return x.contiguous(memory_format=self.memory_format) if x.dim() == 4 else x

    def backward_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                      max_grad_norm: float | None = None) -> bool:
        """Backward of ``loss`` and one ``optimizer`` step, through the loss scaler (which
        does nothing unless fp16); with ``max_grad_norm``, the gradients (unscaled first)
        are clipped to that total norm. Returns whether the step was taken: in fp16 the
        scaler skips a step whose gradients overflowed, and then nothing that follows a
        step (a schedule, a moving average) should move. Clearing the old gradients is the
        caller's."""
        scale = self.scaler.get_scale() if self.scaler.is_enabled() else None
        self.scaler.scale(loss).backward()
        if max_grad_norm is not None:
            self.scaler.unscale_(optimizer)
            parameters = [p for group in optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
        self.scaler.step(optimizer)
        self.scaler.update()
        # a skipped step lowers the scale (its backoff); a taken one keeps or raises it
        return scale is None or self.scaler.get_scale() >= scale

    def state_dict(self) -> dict[str, Any]:
        """The scaler's state (empty unless fp16)."""
        return self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore the scaler's state; ``None`` or an empty one (a checkpoint without loss
        scaling: older, or saved under another precision) leaves the scaler as it starts."""
        if state:
            self.scaler.load_state_dict(state)
