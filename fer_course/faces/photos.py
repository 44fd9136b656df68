"""A photo as the face functions take it: a file path, a PIL image or a numpy array, read
into an upright RGB or gray image with a clear error naming what could not be read.

``image`` is a file path, a PIL image or a numpy array: gray ``[H, W]``, RGB ``[H, W, 3]`` or
RGBA ``[H, W, 4]`` (RGB order; ``cv2.imread`` gives BGR, convert it first), uint8 or float
in [0, 1] (``fer_course.pixels``), or uint16 scaled down by 257. A file's EXIF orientation
is honoured (``PIL.ImageOps.exif_transpose``); transparent pixels are shown on white.

>>> load_gray(np.zeros((3, 5, 3), dtype=np.uint8)).shape
(3, 5)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from fer_course.pixels import as_uint8

ImageInput = str | os.PathLike | Image.Image | np.ndarray
"""What the functions here accept as a photo."""


class ImageReadError(ValueError):
    """A file that is not a readable image (not an image, empty, truncated)."""


# --------------------------------------------------------------------------- loading


def _describe(image: Any) -> str:
    """How error messages name the input: the file name, or the kind of object."""
    if isinstance(image, (str, os.PathLike)):
        return str(image)
    if isinstance(image, np.ndarray):
        return f"array {list(image.shape)} {image.dtype}"
    return type(image).__name__


def _array_to_uint8(array: np.ndarray) -> np.ndarray:
    """An image array as uint8 ``[H, W]`` or ``[H, W, C]``: uint8, floats in [0, 1], or
    uint16 (a 16-bit image's pixels, scaled down); anything else is refused."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(f"expected a gray [H, W], RGB [H, W, 3] or RGBA [H, W, 4] image, "
                         f"got shape {list(array.shape)}")
    if min(array.shape[:2]) < 1:
        raise ValueError(f"the image is empty: shape {list(array.shape)}")
    if array.dtype == np.uint16:  # a 16-bit image file's pixels
        return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    return as_uint8(array, "image pixels")


def _normalise_mode(image: Image.Image) -> Image.Image:
    """An 8-bit "L" or "RGB" PIL image; transparency is composited on white."""
    if image.mode in ("L", "RGB"):
        return image
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        array = np.asarray(image)
        if image.mode == "F":
            array = array / 255.0 if array.max() > 1 else array  # 0-255 floats, or 0-1
            return Image.fromarray(_array_to_uint8(np.clip(array, 0, 1)))
        return Image.fromarray(_array_to_uint8(np.clip(array, 0, 65535).astype(np.uint16)))
    if image.mode == "1":
        return image.convert("L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV


def load_photo(image: ImageInput) -> Image.Image:
    """The photo as an upright 8-bit PIL image, mode "L" (gray) or "RGB".

    A path is opened and decoded completely here, so a file that is not an image, an empty
    file or a truncated JPEG raises ``ImageReadError`` naming the file; a missing file
    raises ``FileNotFoundError``. EXIF orientation is applied to files and PIL images.

    >>> load_photo(np.zeros((4, 6, 4), dtype=np.uint8)).mode  # RGBA on white
    'RGB'
    >>> load_photo(np.full((2, 2), 65535, dtype=np.uint16)).getpixel((0, 0))
    255
    """
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such image file")
        try:
            with Image.open(path) as opened:
                opened.load()  # decode now: a truncated file fails here, with its name
                upright = ImageOps.exif_transpose(opened)
                return _normalise_mode(upright)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise ImageReadError(f"cannot read {path} as an image "
                                 f"({type(error).__name__}: {error})") from error
    if isinstance(image, Image.Image):
        return _normalise_mode(ImageOps.exif_transpose(image))
    if isinstance(image, np.ndarray):
        return _normalise_mode(Image.fromarray(_array_to_uint8(image)))
    raise TypeError(f"expected a path, a PIL image or a numpy array, got {_describe(image)}")


def load_gray(image: ImageInput) -> np.ndarray:
    """The upright photo as uint8 ``[H, W]``, ITU-R 601 luma (PIL's "L":
    ``0.299 R + 0.587 G + 0.114 B``).

    >>> red = np.zeros((1, 1, 3), dtype=np.uint8); red[..., 0] = 255
    >>> int(load_gray(red)[0, 0])
    76
    """
    if isinstance(image, np.ndarray) and image.ndim == 2 and image.dtype == np.uint8:
        return image  # already what is needed: no copy of a large photo
    return np.asarray(load_photo(image).convert("L"))


# --------------------------------------------------------------------------- detection
