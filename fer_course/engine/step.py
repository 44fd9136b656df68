"""The engine's training step, the same for every task: a task gives its loss, the engine
does the rest.

``optimizer_step(task, x, y)``: the task's forward pass and loss (``task.loss``) under
autocast, the old gradients cleared, backward through the fp16 loss scaler (gradients
clipped where the task sets ``max_grad_norm``), the update, then, only if the update was
taken (float16 skips a step whose gradients overflowed), the per-batch schedule (tasks with
``schedule_per_batch``) and the moving average of the weights (tasks with an ``ema``).
``evaluation_step`` is the task's ``eval_loss`` under autocast without gradients; the
engine evaluates with the averaged weights where there are some (``averaged_weights``).

>>> from fer_course.engine.mixed_precision import MixedPrecision
>>> class Tiny:  # the least a task is: a model, an optimiser, amp and its loss
...     def __init__(self):
...         self.model = torch.nn.Linear(3, 2)
...         self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
...         self.amp, self.ema = MixedPrecision("cpu", "fp32"), None
...     def loss(self, x, y):
...         logits = self.model(x)
...         return {"loss": torch.nn.functional.cross_entropy(logits, y), "logits": logits}
>>> parts = optimizer_step(Tiny(), torch.ones(4, 3), torch.zeros(4, dtype=torch.long))
>>> sorted(parts), parts["loss"].requires_grad
(['logits', 'loss'], False)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

__all__ = ["WeightAverage", "averaged_weights", "evaluation_step", "optimizer_step"]


class WeightAverage:
    """An exponential moving average of a model's weights (and buffers): after each taken
    step, ``average = decay * average + (1 - decay) * weights``. Evaluated in place of the
    weights (``averaged_weights``), it smooths the noise of the last steps.

    >>> model = nn.Linear(1, 1, bias=False)
    >>> average = WeightAverage(model, decay=0.5)
    >>> with torch.no_grad():
    ...     _ = model.weight.fill_(2.0)
    >>> start = float(average.state["weight"])
    >>> average.update(model)
    >>> abs(float(average.state["weight"]) - (0.5 * start + 0.5 * 2.0)) < 1e-6
    True
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the average's decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for key, value in model.state_dict().items():
            kept = self.state[key]
            if kept.is_floating_point():
                kept.mul_(self.decay).add_(value.detach(), alpha=1.0 - self.decay)
            else:  # counters such as batch norm's num_batches_tracked
                kept.copy_(value)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "state": self.state}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.decay = saved["decay"]
        self.state = {k: v.clone() for k, v in saved["state"].items()}


@contextlib.contextmanager
def averaged_weights(task: Any) -> Iterator[None]:
    """Within it, ``task.model`` holds the averaged weights where the task keeps an
    average (``task.ema``); its own weights come back afterwards."""
    average = getattr(task, "ema", None)
    if average is None:
        yield
        return
    own = {k: v.detach().clone() for k, v in task.model.state_dict().items()}
    task.model.load_state_dict(average.state)
    try:
        yield
    finally:
        task.model.load_state_dict(own)


def optimizer_step(task: Any, x: torch.Tensor, y: torch.Tensor,
                   **per_image: torch.Tensor) -> dict[str, torch.Tensor]:
    """One optimiser step of ``task`` on a prepared batch; returns the detached parts of
    its loss (``loss``, ``logits`` and any others). ``per_image`` (a teacher's targets of
    the batch's faces, …) is passed on to ``task.loss``."""
    with task.amp.autocast():
        parts = task.loss(x, y, **per_image)
    task.optimizer.zero_grad(set_to_none=True)
    taken = task.amp.backward_step(parts["loss"], task.optimizer,
                                   getattr(task, "max_grad_norm", None))
    if taken:
        if getattr(task, "schedule_per_batch", False):
            task.scheduler.step()
        if getattr(task, "ema", None) is not None:
            task.ema.update(task.model)
    return {k: v.detach() for k, v in parts.items()}


@torch.no_grad()
def evaluation_step(task: Any, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """``task.eval_loss`` of a clean batch under autocast, without gradients."""
    with task.amp.autocast():
        return task.eval_loss(x, y)
