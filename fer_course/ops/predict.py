"""The front door: emotions of the faces in a photo, in one call.

``predict(photo)`` finds the faces (OpenCV's Haar cascade, chapter 6), crops each the
FER-2013 way and classifies it with a shipped network (``best`` by default, loaded once and
kept). One row per face: its box in the photo's pixels, its label and the 7 probabilities
in FER-2013's class order. ``photo`` is a path, a PIL image or an array (uint8 or floats in
[0, 1]; anything else is refused with an error that says what it got).

>>> import numpy as np
>>> predict(np.full((120, 160), 128, np.uint8)).empty  # a flat gray image: no face
True
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from fer_course.data.types import CLASSES
from fer_course.faces.detect import predict_faces
from fer_course.faces.photos import ImageInput
from fer_course.pretrained import load_pretrained, shipped_runs
from fer_course.runs import RunStore
from fer_course.runs.registry import DEFAULT_NETWORK

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CLASSES", "is_classifier", "predict"]

COLUMNS = ("face", "x", "y", "w", "h", "label", *CLASSES)
"""The columns of ``predict``'s table: face number (from 1), box, label, probabilities."""


def is_classifier(name: str) -> bool:
    """Whether the shipped run ``name`` classifies faces (an autoencoder trained only to
    reconstruct them does not).

    >>> is_classifier("best"), is_classifier("autoencoder-200")
    (True, False)
    """
    profile = shipped_runs().get(name)
    if profile is None:
        return False
    return RunStore(profile).stored(name).read_settings().get("task") != "reconstruct"


@functools.lru_cache(maxsize=4)
def _shipped_model(name: str, device: str | None, views: str | None = None) -> Any:
    """A shipped classifier, loaded once per name and device (the sha256 check paid once)."""
    if name in shipped_runs() and not is_classifier(name):
        usable = ", ".join(n for n in sorted(shipped_runs()) if is_classifier(n))
        raise ValueError(f"{name!r} reconstructs faces and classifies none; "
                         f"the shipped classifiers are {usable}")
    return load_pretrained(name, device=device, views=views)


def predict(photo: ImageInput, model: Any = None, *, margin: float = 0.2,
            device: str | None = None, views: str | None = None) -> pd.DataFrame:
    """One row per face of ``photo``: ``face``, its box ``x, y, w, h``, its ``label`` and
    the probabilities of the 7 classes (``CLASSES``), in reading order of the detector.

    ``model`` is the name of a shipped network (``fer_course.pretrained.shipped_runs()``;
    ``None``: the course's default, ``runs.registry.DEFAULT_NETWORK``),
    or anything ``fer_course.faces.detect.predict_faces`` takes (a loaded model, a run
    folder, a module). ``margin`` widens each box before the crop (0.2: a fifth of its
    side). ``views`` (a shipped network only; ``models.view_averaging.VIEW_SETS``) scores
    each face over more test-time views. A photo with no face gives an empty table with the
    same columns.
    """
    model = DEFAULT_NETWORK if model is None else model
    if views is not None and not isinstance(model, str):
        raise ValueError("views= applies to a shipped network named by a string; wrap a "
                         "loaded one with fer_course.analysis.view_report.with_views")
    loaded = _shipped_model(model, device, views) if isinstance(model, str) else model
    table = predict_faces(photo, loaded, margin=margin, device=device)
    probabilities = table[list(CLASSES)]
    labels = probabilities.idxmax(axis=1) if len(table) else table["x"].astype("object")
    table.insert(4, "label", labels)
    table.insert(0, "face", range(1, len(table) + 1))
    return table[list(COLUMNS)]
