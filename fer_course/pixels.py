"""What a face or photo array may hold: uint8 (0-255) or floats in [0, 1], one meaning.

Every entry that takes faces (``LoadedModel.predict_proba``, ``classify_faces``,
``fer_course.predict``) or photo arrays goes through ``as_uint8``: floats in [0, 1] are
scaled to 0-255 and rounded, uint8 passes as it is, and anything else (floats outside
[0, 1], NaN, other integer types, booleans) is refused with an error that says what was
given and what is wanted, so that ``faces / 255`` and ``faces`` give the same answer and a
mistake never gives a silent wrong one.

>>> as_uint8(np.array([[0.0, 0.5, 1.0]])).tolist()
[[0, 128, 255]]
>>> as_uint8(np.array([[0, 300]]))
Traceback (most recent call last):
...
ValueError: pixels must be uint8 (0-255) or floats in [0, 1]; got int64 values in [0, 300]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PIXEL_RULE", "as_uint8", "as_uint8_faces"]

PIXEL_RULE = "uint8 (0-255) or floats in [0, 1]"


def _as_numpy(values: Any) -> np.ndarray:
    """A numpy view of an array, a torch tensor (any device) or nested lists."""
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def as_uint8(values: Any, what: str = "pixels") -> np.ndarray:
    """``values`` as uint8: uint8 unchanged, floats in [0, 1] times 255 rounded, anything
    else a ``ValueError`` naming ``what``, its dtype and its range."""
    array = _as_numpy(values)
    if array.dtype == np.uint8:
        return array
    if array.size and np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array).all()
        if finite and array.min() >= 0 and array.max() <= 1:
            return np.rint(array * 255.0).astype(np.uint8)
        got = ("NaN or infinite values" if not finite else
               f"{array.dtype} values in [{array.min():.4g}, {array.max():.4g}]")
        hint = " (divide 0-255 floats by 255)" if finite and array.max() <= 255 else ""
        raise ValueError(f"{what} must be {PIXEL_RULE}; got {got}{hint}")
    if array.size and np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what} must be {PIXEL_RULE}; got {array.dtype} values in "
                         f"[{array.min()}, {array.max()}]")
    raise ValueError(f"{what} must be {PIXEL_RULE}; got dtype {array.dtype}"
                     + (" (empty)" if not array.size else ""))


def as_uint8_faces(faces: Any) -> np.ndarray:
    """Gray faces ``[n, h, w]`` (n >= 1) as uint8, checked as in ``as_uint8``; one face
    ``[h, w]`` is refused with a hint (``faces[None]``) rather than guessed.

    >>> int(as_uint8_faces(np.ones((2, 48, 48))).max())
    255
    >>> as_uint8_faces(np.zeros((48, 48), np.uint8))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: faces must be [n, height, width] (n >= 1); got shape [48, 48] (one face? ...)
    """
    array = _as_numpy(faces)
    if array.ndim != 3 or array.shape[0] == 0 or min(array.shape[1:]) < 1:
        hint = " (one face? pass faces[None])" if array.ndim == 2 else ""
        hint = " (colour? convert to gray first)" if array.ndim == 4 else hint
        raise ValueError(f"faces must be [n, height, width] (n >= 1); got shape "
                         f"{list(array.shape)}{hint}")
    return as_uint8(array, "faces")
