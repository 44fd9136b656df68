"""Test the face detector on faces whose position is known: FER-2013 faces pasted into
larger, photo-sized gray images.

``paste_faces`` builds one "group photo" of several faces; ``detection_check`` pastes each
face alone into its own photo and counts how often the detector finds it (a box whose
intersection over union with the pasted square is above ``min_iou``) and how many boxes
land elsewhere.

>>> faces = np.zeros((2, 48, 48), dtype=np.uint8)
>>> photo, boxes = paste_faces(faces, photo_size=(400, 300), side=96)
>>> photo.shape, len(boxes)
((300, 400), 2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["DetectionCheck", "detection_check", "iou", "paste_faces"]

Box = tuple[float, float, float, float]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes.

    >>> iou((0, 0, 10, 10), (5, 0, 10, 10))
    0.3333333333333333
    """
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def _background(rng: np.random.Generator, photo_size: tuple[int, int]) -> np.ndarray:
    width, height = photo_size
    level = rng.uniform(60, 200)
    return rng.normal(level, 12, (height, width)).clip(0, 255).astype(np.uint8)


def _enlarged(face: np.ndarray, side: int) -> np.ndarray:
    return np.asarray(Image.fromarray(np.asarray(face, dtype=np.uint8)).resize(
        (side, side), Image.Resampling.BICUBIC))


def paste_faces(faces: np.ndarray, photo_size: tuple[int, int] = (1024, 768), side: int = 192,
                seed: int = 0, gap: int | None = None) -> tuple[np.ndarray, list[Box]]:
    """One gray photo ``[height, width]`` with every face of ``faces`` (uint8
    ``[n, 48, 48]``) enlarged to ``side`` px and pasted at a random place of its own cell
    of a grid, on a noisy background; and the pasted boxes. Cells are ``side + gap`` px
    (``gap`` default ``side // 4``), so faces never overlap and rarely touch.
    """
    faces = np.asarray(faces)
    width, height = photo_size
    gap = side // 4 if gap is None else gap
    columns, rows = width // (side + gap), height // (side + gap)
    if len(faces) > columns * rows:
        raise ValueError(f"{len(faces)} faces of {side} px do not fit in a {width} x {height} "
                         f"photo (at most {columns * rows})")
    rng = np.random.default_rng(seed)
    photo = _background(rng, photo_size)
    cells = rng.permutation(columns * rows)[:len(faces)]
    cell_w, cell_h = width // columns, height // rows
    boxes: list[Box] = []
    for face, cell in zip(faces, cells):
        left = (cell % columns) * cell_w + int(rng.integers(0, cell_w - side + 1))
        top = (cell // columns) * cell_h + int(rng.integers(0, cell_h - side + 1))
        photo[top:top + side, left:left + side] = _enlarged(face, side)
        boxes.append((float(left), float(top), float(side), float(side)))
    return photo, boxes


@dataclass(frozen=True)
class DetectionCheck:
    """How the detector did on ``faces`` pasted faces, one per photo."""

    found_mask: np.ndarray  # [faces] bool: was face i found
    boxes_elsewhere: int
    crops: np.ndarray | None = None  # uint8 [found, 48, 48]: the found faces cut from the photo

    @property
    def faces(self) -> int:
        return len(self.found_mask)

    @property
    def found(self) -> int:
        return int(self.found_mask.sum())

    @property
    def rate(self) -> float:
        return self.found / self.faces if self.faces else float("nan")


def detection_check(faces: np.ndarray, detect: Callable[[np.ndarray], list] | None = None, *,
                    photo_size: tuple[int, int] = (1024, 768), side: int = 192,
                    min_iou: float = 0.3, seed: int = 0,
                    crop_margin: float | None = None) -> DetectionCheck:
    """Paste each face alone into its own photo and run ``detect`` (default
    ``fer_course.faces.detect.detect_faces``) on it. With ``crop_margin``, each found face is also
    cut out of its photo (``crop_faces`` of the best-overlapping box with that margin), as a
    photo's face would be, into ``.crops``.

    >>> check = detection_check(np.zeros((2, 48, 48), np.uint8), lambda photo: [])
    >>> check.found, check.rate
    (0, 0.0)
    """
    if detect is None:
        from fer_course.faces.detect import detect_faces as detect
    found, crops = [], []
    elsewhere = 0
    for i, face in enumerate(np.asarray(faces)):
        photo, (box,) = paste_faces(face[None], photo_size, side, seed=seed + i)
        boxes = list(detect(photo))
        overlaps = [iou(found_box, box) for found_box in boxes]
        hits = [overlap > min_iou for overlap in overlaps]
        found.append(any(hits))
        elsewhere += hits.count(False)
        if crop_margin is not None and any(hits):
            from fer_course.faces.detect import crop_faces

            best = boxes[int(np.argmax(overlaps))]
            crops.append(crop_faces(photo, [best], crop_margin)[0])
    mask = np.array(found, dtype=bool)
    stacked = None
    if crop_margin is not None:
        stacked = np.stack(crops) if crops else np.empty((0, 48, 48), np.uint8)
    return DetectionCheck(mask, elsewhere, stacked)
