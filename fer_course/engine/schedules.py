"""The autoencoder chapter's learning-rate schedule: cut by 25% after two rising epochs.

Sections 4.2.1 and 4.2.2 of the seed paper: "We decrease the learning rate by 25%, if the
validation loss increases for 2 consecutive epochs." ``CutOnRisingLoss`` implements it
with this exact rule, called once per epoch with that epoch's validation loss:

- the loss *rose* when it is strictly greater than the previous epoch's (an equal loss is
  not a rise, and the first epoch has nothing to rise from);
- a loss that did not rise sets the count of consecutive rises back to 0;
- when the count reaches ``patience`` (2), every parameter group's learning rate is
  multiplied by ``factor`` (0.75) and the count restarts at 0. A third rise in a row
  therefore counts as the first of a new run: the next cut needs ``patience`` more rises.

It differs from ``ReduceLROnPlateau``, which compares each loss with the best one so far
and cuts after losses that merely fail to improve on it.

>>> optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)
>>> schedule = CutOnRisingLoss(optimizer)
>>> [schedule.step(loss) for loss in [1.0, 0.9, 0.95, 0.97]]
[False, False, False, True]
>>> schedule.last_lr
[0.00075]
"""

from __future__ import annotations

import math
from typing import Any

import torch


class CutOnRisingLoss:
    """Multiply every learning rate of ``optimizer`` by ``factor`` after ``patience``
    consecutive epochs of rising validation loss (rule in the module docstring).

    ``state_dict`` holds plain numbers and lists only, so a checkpoint containing it loads
    with ``torch.load(weights_only=True)``.

    >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> schedule = CutOnRisingLoss(optimizer, factor=0.5, patience=1)
    >>> schedule.step(1.0), schedule.step(1.0), schedule.step(2.0)
    (False, False, True)
    >>> schedule.last_lr, schedule.cuts
    ([0.05], 1)
    """

    def __init__(self, optimizer: torch.optim.Optimizer, factor: float = 0.75,
                 patience: int = 2) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must lie strictly between 0 and 1, got {factor}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be an integer of at least 1, got {patience!r}")
        self.optimizer = optimizer
        self.factor = float(factor)
        self.patience = patience
        self.losses: list[float] = []
        self.consecutive_rises = 0
        self.cuts = 0

    @property
    def last_lr(self) -> list[float]:
        """The current learning rate of each parameter group."""
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def step(self, val_loss: float) -> bool:
        """Record one epoch's validation loss; cut the learning rates if the rule says so.

        Returns whether this call cut them.
        """
        loss = float(val_loss)
        if math.isnan(loss):
            raise ValueError("the validation loss is NaN; the training has diverged")
        rose = bool(self.losses) and loss > self.losses[-1]
        self.consecutive_rises = self.consecutive_rises + 1 if rose else 0
        self.losses.append(loss)
        if self.consecutive_rises < self.patience:
            return False
        for group in self.optimizer.param_groups:
            group["lr"] = group["lr"] * self.factor
        self.consecutive_rises = 0
        self.cuts += 1
        return True

    def state_dict(self) -> dict[str, Any]:
        """The schedule's state (not the optimizer's, which holds the learning rates)."""
        return {"factor": self.factor, "patience": self.patience, "losses": list(self.losses),
                "consecutive_rises": self.consecutive_rises, "cuts": self.cuts}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict``; load the optimizer's own state dict for its rates."""
        self.factor = float(state["factor"])
        self.patience = int(state["patience"])
        self.losses = [float(loss) for loss in state["losses"]]
        self.consecutive_rises = int(state["consecutive_rises"])
        self.cuts = int(state["cuts"])
