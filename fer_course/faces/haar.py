"""The two ideas that make Viola–Jones face detection fast, in numpy.

An **integral image** ``ii`` holds at ``[y, x]`` the sum of all pixels above and to the
left of ``(x, y)``; with it the sum over any rectangle costs four look-ups, whatever its
size. A **Haar-like feature** is the difference between the sums of adjacent rectangles,
for example a dark band of eyes above brighter cheeks. OpenCV's trained cascade
(``cascade_summary``) is a chain of boosted stages of such features on a 24 × 24 window.

>>> gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
>>> ii = integral_image(gray)
>>> int(box_sum(ii, 1, 1, 2, 2)), int(gray[1:3, 1:3].sum())
(30, 30)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CascadeSummary", "FEATURE_SHAPES", "box_sum", "cascade_summary",
           "count_haar_features", "eyes_feature", "integral_image"]

FEATURE_SHAPES: dict[str, tuple[int, int]] = {
    "two side by side": (2, 1), "two stacked": (1, 2),
    "three side by side": (3, 1), "three stacked": (1, 3), "four (checker)": (2, 2),
}
"""Viola and Jones's five feature types as (columns, rows) of equal rectangles."""


def integral_image(gray: np.ndarray) -> np.ndarray:
    """``ii`` of shape ``[H + 1, W + 1]`` (int64) with ``ii[y, x] = gray[:y, :x].sum()``.

    The zero first row and column make ``box_sum`` need no special case at the edges.

    >>> integral_image(np.ones((2, 3), dtype=np.uint8))[-1, -1]
    np.int64(6)
    """
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise ValueError("integral_image needs one gray image [H, W], "
                         f"got {list(gray.shape)}")
    ii = np.zeros((gray.shape[0] + 1, gray.shape[1] + 1), dtype=np.int64)
    ii[1:, 1:] = gray.astype(np.int64).cumsum(axis=0).cumsum(axis=1)
    return ii


def box_sum(ii: np.ndarray, x: int, y: int, w: int, h: int) -> np.int64:
    """Sum of the pixels of the ``w`` × ``h`` box at ``(x, y)``: four look-ups in ``ii``.

    >>> box_sum(integral_image(np.ones((4, 4), dtype=np.uint8)), 1, 1, 3, 2)
    np.int64(6)
    """
    height, width = ii.shape[0] - 1, ii.shape[1] - 1
    if min(w, h) <= 0 or min(x, y) < 0 or y + h > height or x + w > width:
        raise ValueError(f"box {(x, y, w, h)} is not inside the "
                         f"{width} x {height} image")
    return ii[y + h, x + w] - ii[y, x + w] - ii[y + h, x] + ii[y, x]


def eyes_feature(ii: np.ndarray, x: int, y: int, w: int, h: int) -> np.int64:
    """A two-stacked-rectangles feature: the lower half's sum minus the upper half's.

    Placed on the eyes (upper half) and cheeks (lower half) of a face it is large, since
    the eyes are darker; ``h`` must be even.

    >>> face = np.vstack([np.zeros((2, 4)), np.full((2, 4), 10)]).astype(np.uint8)
    >>> eyes_feature(integral_image(face), 0, 0, 4, 4)
    np.int64(80)
    """
    if h % 2:
        raise ValueError(f"eyes_feature needs an even height, got {h}")
    return box_sum(ii, x, y + h // 2, w, h // 2) - box_sum(ii, x, y, w, h // 2)


def count_haar_features(window: int = 24) -> dict[str, int]:
    """How many features of each type fit in a ``window`` × ``window`` detection window.

    A type of ``(a, b)`` rectangles, scaled to ``a·i`` × ``b·j`` pixels, fits at
    ``(window - a·i + 1)(window - b·j + 1)`` positions; summed over all scales.

    >>> sum(count_haar_features(24).values())
    162336
    """
    return {name: sum((window - a * i + 1) * (window - b * j + 1)
                      for i in range(1, window // a + 1) for j in range(1, window // b + 1))
            for name, (a, b) in FEATURE_SHAPES.items()}


@dataclass(frozen=True)
class CascadeSummary:
    """What an OpenCV Haar cascade file holds: its window and its boosted stages."""

    window: tuple[int, int]
    weak_per_stage: tuple[int, ...]
    features: int

    @property
    def stages(self) -> int:
        return len(self.weak_per_stage)


def cascade_summary(path: str | Path | None = None) -> CascadeSummary:
    """Read a cascade XML (default: OpenCV's ``haarcascade_frontalface_default.xml``).

    >>> s = cascade_summary()                                   # doctest: +SKIP
    >>> s.window, s.stages                                      # doctest: +SKIP
    ((24, 24), 25)
    """
    if path is None:
        import cv2

        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    try:
        cascade = ET.parse(path).getroot().find("cascade")
    except (OSError, ET.ParseError) as error:
        raise ValueError(f"{path}: not a readable cascade XML ({error})") from error
    if cascade is None or cascade.find("stages") is None:
        raise ValueError(f"{path}: no <cascade> with <stages> in it")
    weak = tuple(int(stage.findtext("maxWeakCount")) for stage in cascade.find("stages"))
    return CascadeSummary(window=(int(cascade.findtext("width")),
                                  int(cascade.findtext("height"))),
                          weak_per_stage=weak, features=len(cascade.find("features")))
