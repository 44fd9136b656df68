"""Your own photo: find the faces, crop them the FER-2013 way and ask a trained model.

``detect_faces(image)`` finds frontal faces with OpenCV's Haar cascade (Viola and Jones,
2001) and returns ``(x, y, w, h)`` boxes in the photo's pixels; ``crop_faces(image, boxes)``
turns them into uint8 ``[n, 48, 48]`` faces like FER-2013's; ``predict_faces(image,
run_or_model)`` does both and returns one row of class probabilities per face, and
``show_faces`` draws the photo with its boxes and probabilities.

``image`` is a file path, a PIL image or a numpy array: gray ``[H, W]``, RGB ``[H, W, 3]`` or
RGBA ``[H, W, 4]`` (RGB order; ``cv2.imread`` gives BGR, convert it first), uint8, or uint16
scaled down by 257, or float in [0, 1]. A file's EXIF orientation is honoured
(``PIL.ImageOps.exif_transpose``), so boxes are in the upright photo's coordinates;
transparent pixels are shown on white.

How FER-2013 was made, as far as the paper that released it says (Goodfellow et al.,
"Challenges in representation learning", 2013): images found by Google image search
for emotion keywords, faces registered with OpenCV's face detection, cropped, converted
to grayscale and resized to 48 x 48. The filter and the margin are not published. The
Haar box of the same cascade, run on FER-2013 test faces pasted into larger images, is
about as large as the 48 px image itself (the image is 1.04 times the box's side, median
of 429 faces), so FER-2013's crops are close to the raw Haar box. ``margin=0.2`` adds a
little context, which keeps chin and brow in the crop when the box is slightly off. On
those pasted faces a partly trained autoencoder was as accurate on the crops as on the
original faces at margins 0 to 0.2 (55.9 %, 55.9 %, 55.0 % against 55.7 %; within the
noise of 429 faces) and lost accuracy at larger ones (53.8 % at 0.3, 48.0 % at 0.5).

>>> detect_faces(np.full((120, 160), 128, dtype=np.uint8))
[]
>>> crop_faces(np.zeros((100, 100), dtype=np.uint8), [(10, 10, 50, 50)]).shape
(1, 48, 48)
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from fer_course.data.types import CLASSES
from fer_course.faces.photos import ImageInput, ImageReadError, load_gray, load_photo

__all__ = ["ImageInput", "ImageReadError", "load_gray", "load_photo", "detect_faces",
           "crop_faces", "load_model", "classify_faces", "predict_faces", "show_faces"]

if TYPE_CHECKING:  # imported lazily at run time: importing fer_course stays fast
    import pandas as pd
    import torch
    from matplotlib.figure import Figure

    from fer_course.engine.inference import LoadedModel

Box = tuple[int, int, int, int]
"""``(x, y, w, h)``: left, top, width and height in pixels of the upright photo."""

CASCADE_FILE = "haarcascade_frontalface_default.xml"
"""OpenCV's frontal-face Haar cascade (24 x 24 px window), shipped in ``cv2.data``."""

SCALE_FACTOR = 1.1
"""Each level of the detector's image pyramid is 1/1.1 the size of the previous one: faces
are searched in sizes 10 % apart. Smaller steps (1.05) find a few more faces at about twice
the time; larger ones (1.3) are faster and miss faces between two sizes."""

MIN_NEIGHBORS = 5
"""A face needs at least 5 overlapping raw detections to be kept. OpenCV's default of 3 finds
slightly more faces (80 % instead of 76 % of pasted FER-2013 test faces) but also more false
boxes on textured backgrounds (fabric, foliage); 5 is the usual choice for photos."""

MIN_SIZE = 30
"""Smallest face side searched, in pixels of the image the detector sees (after the
downscale to ``MAX_SIDE``); faces this small carry less detail than FER-2013's 48 px."""

MAX_SIDE = 1600
"""Photos whose longer side exceeds this are downscaled (area averaging) before detection and
the boxes mapped back: on a 6000 x 4000 test image, 0.25 s instead of 1.4 s (one core),
and faces smaller than ``MIN_SIZE * 6000 / 1600 = 112`` px in it are not searched."""

FACE_SIZE = 48
"""Side of FER-2013's faces, and of the crops ``crop_faces`` returns."""

RESAMPLE = Image.Resampling.LANCZOS
"""The filter of ``crop_faces``: PIL's Lanczos (a=3). PIL widens the kernel by the shrink
factor, so a 300 px face shrunk to 48 px is low-pass filtered first (no aliasing), and it
stays sharp when a small face is enlarged. FER-2013's own filter is not published."""



@functools.lru_cache(maxsize=1)
def _cascade() -> Any:
    """The frontal-face cascade, loaded once."""
    try:
        import cv2
    except ImportError as error:  # pragma: no cover - a dependency of the library
        raise ImportError("face detection needs OpenCV 4: "
                          "pip install 'opencv-python-headless>=4.8,<5'") from error
    if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
        raise RuntimeError(f"OpenCV {cv2.__version__} has no Haar cascades (OpenCV 5 dropped "
                           "them): pip install 'opencv-python-headless>=4.8,<5'")
    path = os.path.join(cv2.data.haarcascades, CASCADE_FILE)
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"could not load the Haar cascade {path}")
    return cascade


def detect_faces(image: ImageInput, *, scale_factor: float = SCALE_FACTOR,
                 min_neighbors: int = MIN_NEIGHBORS, min_size: int = MIN_SIZE,
                 max_side: int = MAX_SIDE) -> list[Box]:
    """Frontal faces in ``image`` as ``(x, y, w, h)`` int boxes, left to right; ``[]`` if none.

    The Haar cascade runs on the gray photo, downscaled so that its longer side is at most
    ``max_side``; the boxes are mapped back to the full-size upright photo. The parameters
    are ``cv2.CascadeClassifier.detectMultiScale``'s (see ``SCALE_FACTOR``,
    ``MIN_NEIGHBORS``, ``MIN_SIZE``, ``MAX_SIDE`` for the choices). The cascade finds
    upright frontal faces: turned heads (profiles) and faces tilted by more than about
    20 degrees are missed.

    >>> detect_faces(np.zeros((50, 50, 3), dtype=np.uint8))
    []
    """
    import cv2

    if scale_factor <= 1:
        raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
    if max_side < 24:
        raise ValueError(f"max_side must be at least the cascade's 24 px window, got {max_side}")
    gray = load_gray(image)
    height, width = gray.shape
    longest = max(height, width)
    if longest > max_side:
        scale = max_side / longest
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    else:
        small = gray
    found = _cascade().detectMultiScale(small, scaleFactor=scale_factor,
                                        minNeighbors=min_neighbors,
                                        minSize=(min_size, min_size))
    sx, sy = width / small.shape[1], height / small.shape[0]
    boxes = []
    for x, y, w, h in np.asarray(found, dtype=np.float64).reshape(-1, 4):
        left, top = max(0, round(x * sx)), max(0, round(y * sy))
        right, bottom = min(width, round((x + w) * sx)), min(height, round((y + h) * sy))
        if right > left and bottom > top:
            boxes.append((int(left), int(top), int(right - left), int(bottom - top)))
    return sorted(boxes)


# --------------------------------------------------------------------------- cropping


def _as_boxes(boxes: Any) -> list[tuple[float, float, float, float]]:
    """Boxes from a list of 4-tuples, an ``[n, 4]`` array or a DataFrame with x, y, w, h."""
    if hasattr(boxes, "columns"):  # a DataFrame from predict_faces
        boxes = boxes[["x", "y", "w", "h"]].to_numpy()
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return []
    if array.ndim == 1 and array.shape[0] == 4:
        raise ValueError("boxes must be a list of (x, y, w, h) boxes; wrap a single box: [box]")
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes must be (x, y, w, h) rows, got shape {list(array.shape)}")
    if not np.isfinite(array).all() or (array[:, 2:] <= 0).any():
        raise ValueError("boxes need finite values and a positive width and height")
    return [tuple(row) for row in array.tolist()]


def crop_faces(image: ImageInput, boxes: Sequence[Box] | np.ndarray, margin: float = 0.2,
               size: int = FACE_SIZE) -> np.ndarray:
    """uint8 ``[n, size, size]`` gray faces, one per box, ready for the models.

    Each box grows by ``margin`` times its width and height, half on each side (0.2: a box
    1.2 times as large, same centre), is clipped to the photo, converted to gray (ITU-R 601
    luma, as PIL's "L") and resized to ``size`` x ``size`` with ``RESAMPLE`` (Lanczos,
    antialiased). A box clipped at the photo's edge is stretched to the square.

    >>> photo = np.full((200, 300, 3), (255, 0, 0), dtype=np.uint8)
    >>> faces = crop_faces(photo, [(0, 0, 100, 100), (150, 50, 60, 60)])
    >>> faces.shape, faces.dtype, int(faces.max())
    ((2, 48, 48), dtype('uint8'), 76)
    """
    if not math.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    rows = _as_boxes(boxes)
    faces = np.empty((len(rows), size, size), dtype=np.uint8)
    if not rows:
        return faces
    gray = Image.fromarray(load_gray(image))
    width, height = gray.size
    for i, (x, y, w, h) in enumerate(rows):
        dx, dy = margin * w / 2, margin * h / 2
        region = (max(0.0, x - dx), max(0.0, y - dy),
                  min(float(width), x + w + dx), min(float(height), y + h + dy))
        if region[2] <= region[0] or region[3] <= region[1]:
            raise ValueError(f"box {i} {(x, y, w, h)} lies outside the {width} x {height} photo")
        faces[i] = np.asarray(gray.resize((size, size), RESAMPLE, box=region))
    return faces


# --------------------------------------------------------------------------- prediction


def load_model(run_or_model: Any, image_size: int | None = None,
               device: str | torch.device | None = None) -> LoadedModel:
    """``LoadedModel(model, input size in px, kind)`` of a module or a trained run folder
    (see ``predict_faces``; ``fer_course.engine.inference``); a bare module's kind comes
    from the table of model kinds (``fer_course.runs.kinds``). Every function taking
    ``run_or_model`` also takes this tuple, so a run is loaded once.

    >>> from fer_course.models import build_backbone
    >>> load_model(build_backbone("resnet18"), 48)[1:]
    (48, ModelKind('backbone'))
    """
    import torch

    from fer_course.engine.inference import LoadedModel, load_run_model
    from fer_course.runs.kinds import kind_of_module

    if isinstance(run_or_model, tuple):  # already loaded: load a run's weights once
        loaded = LoadedModel(*run_or_model)
    elif isinstance(run_or_model, torch.nn.Module):
        kind = kind_of_module(run_or_model)
        return LoadedModel(run_or_model,
                           kind.default_size if image_size is None else image_size, kind)
    else:
        loaded = load_run_model(run_or_model, device)
    if image_size is not None and image_size != loaded.image_size:
        raise ValueError(f"the model takes {loaded.image_size} px faces, not {image_size}")
    return loaded


def classify_faces(faces: Any, run_or_model: Any, *, image_size: int | None = None,
                   device: str | torch.device | None = None, batch_size: int = 64) -> np.ndarray:
    """Class probabilities ``[n, 7]`` (float64, the softmax of the scores) of uint8 gray
    faces ``[n, 48, 48]``, fed like the test faces (``eval_transform``).

    ``run_or_model`` as in ``predict_faces`` (or ``load_model``'s result). The model's
    train/eval mode is left as found.

    >>> from fer_course.models import build_backbone
    >>> p = classify_faces(np.zeros((2, 48, 48), np.uint8), build_backbone("resnet18"),
    ...                    image_size=48)
    >>> p.shape, bool(np.allclose(p.sum(1), 1))
    ((2, 7), True)
    """
    probabilities = load_model(run_or_model, image_size, device).predict_proba(faces, batch_size)
    if probabilities.shape[1] != len(CLASSES):
        raise ValueError(f"the model gives {probabilities.shape[1]} scores per face, "
                         f"not one per class of {CLASSES}")
    return probabilities


def predict_faces(image: ImageInput, run_or_model: Any, *, boxes: Any = None,
                  image_size: int | None = None, margin: float = 0.2,
                  device: str | torch.device | None = None,
                  batch_size: int = 64) -> pd.DataFrame:
    """One row per face of ``image``: its box ``x, y, w, h`` and the 7 class probabilities.

    ``run_or_model`` is a course backbone (``nn.Module`` taking ``[B, 3, S, S]``
    normalised input, ``S = image_size``, 224 if not given), a ``MultitaskAutoencoder``
    (48 px, logits ``model(x)[0]``), or a finished run folder of either kind (its
    checkpoint tells the architecture and image size; loaded on ``device``, default the
    GPU if there is one). ``boxes`` default to ``detect_faces(image)``; the faces are cut
    with ``crop_faces(image, boxes, margin)`` and fed like the test faces
    (``fer_course.augment.eval_transform``). The probabilities are the softmax of the
    logits, as in the course's evaluation; the predicted class of each row is
    ``df[list(CLASSES)].idxmax(axis=1)``. The model's train/eval mode is left as found.
    """
    import pandas as pd

    gray = load_gray(image)  # decode once
    rows = _as_boxes(detect_faces(gray) if boxes is None else boxes)
    loaded = load_model(run_or_model, image_size, device)
    columns = ["x", "y", "w", "h", *CLASSES]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="int64" if i < 4 else "float64")
                             for i, c in enumerate(columns)})
    probabilities = classify_faces(crop_faces(gray, rows, margin), loaded, batch_size=batch_size)
    box_values = np.rint(np.asarray(rows)).astype(np.int64)
    data = {name: box_values[:, i] for i, name in enumerate(columns[:4])}
    data.update({name: probabilities[:, i] for i, name in enumerate(CLASSES)})
    return pd.DataFrame(data, columns=columns)


# --------------------------------------------------------------------------- figure


def show_faces(image: ImageInput, boxes: Any = None, probabilities: Any = None, *,
               classes: Sequence[str] = CLASSES, width: float = 7.0,
               max_charts: int = 6) -> Figure:
    """The photo with numbered boxes and, given ``probabilities`` ``[n, 7]``, a bar chart
    per face (the first ``max_charts``, three to a row) below it.

    ``probabilities`` may be ``predict_faces``'s DataFrame; its boxes are used when
    ``boxes`` is None. Large photos are shown downscaled (boxes follow). At most ``width``
    inches wide (the book's column is 7).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if width > 7.0:
        raise ValueError(f"width is at most 7 inches (the book's column), got {width}")
    if hasattr(probabilities, "columns"):
        if boxes is None:
            boxes = probabilities
        probabilities = probabilities[list(classes)].to_numpy()
    rows = _as_boxes([] if boxes is None else boxes)
    probs = None if probabilities is None else np.asarray(probabilities, dtype=np.float64)
    if probs is not None and probs.shape != (len(rows), len(classes)):
        raise ValueError(f"probabilities must be [{len(rows)}, {len(classes)}] "
                         f"(one row per box), got {list(probs.shape)}")
    photo = load_photo(image)
    full_width = photo.size[0]
    if max(photo.size) > 1200:  # display size: no need to draw 24 Mpixels
        photo = photo.copy()
        photo.thumbnail((1200, 1200), Image.Resampling.LANCZOS)
    shrink = photo.size[0] / full_width

    charts = 0 if probs is None else min(len(rows), max_charts)
    per_row = min(charts, 3)  # three charts to a row stay legible on a phone
    chart_rows = -(-charts // per_row) if charts else 0
    aspect = photo.size[1] / photo.size[0]
    photo_height = min(width * aspect, 6.0)
    chart_height = 2.3 * chart_rows
    fig = plt.figure(figsize=(width, photo_height + chart_height), layout="constrained")
    grid = fig.add_gridspec(1 + chart_rows, max(per_row, 1),
                            height_ratios=[photo_height] + [2.3] * chart_rows)
    ax = fig.add_subplot(grid[0, :])
    ax.imshow(np.asarray(photo), cmap="gray" if photo.mode == "L" else None, vmin=0, vmax=255)
    ax.set_axis_off()
    for i, (x, y, w, h) in enumerate(rows):
        ax.add_patch(Rectangle((x * shrink, y * shrink), w * shrink, h * shrink, fill=False,
                               edgecolor="#ffd700", linewidth=2))
        label = f"{i + 1}" if probs is None else f"{i + 1}: {classes[int(probs[i].argmax())]}"
        ax.text(x * shrink, y * shrink, label, color="black", fontsize=12, va="bottom",
                bbox={"facecolor": "#ffd700", "edgecolor": "none", "pad": 1.5})
    ax.set_title(f"{len(rows)} face{'s' if len(rows) != 1 else ''} found", fontsize=13)
    for i in range(charts):
        row, column = divmod(i, per_row)
        bar_ax = fig.add_subplot(grid[1 + row, column])
        colors = ["#4c72b0"] * len(classes)
        colors[int(probs[i].argmax())] = "#dd8452"
        bar_ax.barh(range(len(classes)), probs[i], color=colors)
        bar_ax.set_yticks(range(len(classes)),
                          labels=list(classes) if column == 0 else [""] * len(classes),
                          fontsize=12)
        bar_ax.invert_yaxis()
        bar_ax.set_xlim(0, 1)
        bar_ax.set_xticks([0, 0.5, 1], labels=["0", "0.5", "1"])
        bar_ax.tick_params(axis="x", labelsize=12)
        bar_ax.set_title(f"face {i + 1}", fontsize=13)
    return fig
