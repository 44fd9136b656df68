"""Test-time views: a network's scores averaged over a few fixed views of each face.

The recipe already averages each face with its mirror image (``FlipAveraged``). More
views (small shifts, zooms or rotations of the face, each with its mirror) cost one
forward pass each. ``VIEW_SETS`` names the sets chapter 7 compares on PublicTest;
``ViewAveraged`` scores a face by the mean of a network's logits over a set's views
(``analysis.view_report.with_views`` gives a loaded network those views).

>>> from fer_course.models.small_cnn import SmallFaceNet
>>> net = ViewAveraged(SmallFaceNet(widths=(4, 4, 4, 4)).eval(), VIEW_SETS["scale3"])
>>> net(torch.rand(2, 1, 48, 48)).shape
torch.Size([2, 7])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from fer_course.augment.small_faces import DRAWN, affine_views
from fer_course.models.small_cnn import FlipAveraged

__all__ = ["VIEW_SETS", "View", "ViewAveraged", "forward_passes", "view_table"]


@dataclass(frozen=True)
class View:
    """One fixed view of a face: rotation (degrees), zoom factor (above 1 magnifies) and
    shift (pixels of a 48 px face, so a fraction of the side at any size).

    >>> View(zoom=1.08).is_identity, View().is_identity
    (False, True)
    """

    angle: float = 0.0
    zoom: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self == View()

    def applied_to(self, faces: torch.Tensor) -> torch.Tensor:
        """Float faces ``[B, 1, S, S]`` seen this way (unchanged for the identity).

        >>> x = torch.rand(1, 1, 8, 8)
        >>> View().applied_to(x) is x, View(zoom=2.0).applied_to(x).shape
        (True, torch.Size([1, 1, 8, 8]))
        """
        return faces if self.is_identity else affine_views(faces, view_table(self, len(faces)))


VIEW_SETS: dict[str, tuple[View, ...]] = {
    "mirror": (View(),),
    "shift1px": (View(), View(shift_x=1), View(shift_x=-1), View(shift_y=1), View(shift_y=-1)),
    "shift2px": (View(), View(shift_x=2), View(shift_x=-2), View(shift_y=2), View(shift_y=-2)),
    "scale3": (View(zoom=0.92), View(), View(zoom=1.08)),
    "rotate3": (View(angle=-8.0), View(), View(angle=8.0)),
}
"""The view sets compared on PublicTest, set before any was scored. Every view is also
seen mirrored where the network is (``FlipAveraged``): ``mirror`` is the recipe's own."""


def view_table(view: View, n: int) -> torch.Tensor:
    """``draw_augment``'s table (columns ``DRAWN``) of ``n`` faces all taking ``view``.

    >>> view_table(View(zoom=1.1), 2)[:, :3].tolist()
    [[0.0, 1.100000023841858, 1.0], [0.0, 1.100000023841858, 1.0]]
    """
    row = torch.zeros(len(DRAWN))
    row[:5] = torch.tensor([view.angle, view.zoom, 1.0, view.shift_x / 24, view.shift_y / 24])
    return row.expand(n, -1)


class ViewAveraged(nn.Module):
    """``model``'s logits averaged over ``views`` of each face of a float batch
    ``[B, 1, S, S]`` (the network's prepared input)."""

    def __init__(self, model: nn.Module, views: Sequence[View]) -> None:
        super().__init__()
        if not views:
            raise ValueError("a view set needs at least one view")
        self.model, self.views = model, tuple(views)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = None
        for view in self.views:
            scores = self.model(view.applied_to(x))
            total = scores if total is None else total + scores
        return total / len(self.views)


def forward_passes(model: nn.Module, views: str) -> int:
    """The forward passes per face of ``model`` over the view set ``views``: one per view,
    two where the network already averages each view with its mirror (``FlipAveraged``).

    >>> from fer_course.models.small_cnn import SmallFaceNet
    >>> net = SmallFaceNet(widths=(4, 4, 4, 4))
    >>> forward_passes(FlipAveraged(net), "scale3"), forward_passes(net, "scale3")
    (6, 3)
    """
    return (2 if isinstance(model, FlipAveraged) else 1) * len(VIEW_SETS[views])
