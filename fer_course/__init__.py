"""fer_course: facial emotion recognition on FER-2013, the library of the fer-course book.

The front door (imported on first use, so ``import fer_course`` stays light):

- ``predict(photo)``: one row per face of a photo (path, PIL image or array): its box,
  label and the probabilities of the 7 classes;
- ``load_pretrained("best")``: a shipped network, offline; ``.predict_proba(faces)`` takes
  gray faces ``[n, 48, 48]``, uint8 or floats in [0, 1];
- ``CLASSES``: FER-2013's seven classes in label order;
- the command line ``python -m fer_course`` (or ``fer-course``): ``predict``, ``data``,
  ``batch``.

The rest, in layers: ``profiles`` (how big a run is), ``home`` (where runs, data and results
live), ``data`` (FER-2013 readers, synthetic faces), ``augment`` (batched augmentation),
``models``, ``runs`` (named runs, the store), ``engine`` (training and inference),
``analysis`` (what the chapters compute), ``faces`` (detection, Grad-CAM), ``views``
(figures, tables and widgets of the chapters), ``ops`` (the front door: the photo call,
the command line, the Colab set-up, papermill batches).

>>> import fer_course
>>> fer_course.CLASSES[:3]
('Angry', 'Disgust', 'Fear')
"""

from __future__ import annotations

from typing import Any

from fer_course.version import __version__ as __version__

__all__ = ["CLASSES", "load_pretrained", "predict"]


def load_pretrained(name: str | None = None, device: Any = None,
                    profile: str | None = None, views: str | None = None) -> Any:
    """The shipped network ``name`` (default: the course's default network;
    ``fer_course.pretrained.load_pretrained``; ``views="scale3"`` averages three scales):
    ``predict_proba(faces)`` takes gray faces ``[n, 48, 48]`` (uint8 or floats in [0, 1])
    and returns ``[n, 7]`` probabilities in ``CLASSES`` order."""
    from fer_course.pretrained import load_pretrained as load

    return load(name, device=device, profile=profile, views=views)


def predict(photo: Any, model: Any = None, **options: Any) -> Any:
    """One row per face of ``photo``: box, label and 7 probabilities (``fer_course.ops.predict``).

    >>> import numpy as np
    >>> list(predict(np.zeros((64, 64), np.uint8)).columns[:6])
    ['face', 'x', 'y', 'w', 'h', 'label']
    """
    from fer_course.ops.predict import predict as predict_photo

    return predict_photo(photo, model, **options)


def __getattr__(name: str) -> Any:
    if name == "CLASSES":
        from fer_course.data.types import CLASSES

        return CLASSES
    raise AttributeError(f"module 'fer_course' has no attribute {name!r}")
