"""OpenCV's Haar cascade as compact JSON, for the detector of the book's web page.

``cascade_to_json()`` reads a cascade XML of OpenCV's current format (by default
``haarcascade_frontalface_default.xml`` from ``cv2.data``, the cascade ``detect_faces``
uses) into a dict that ``json`` writes as is, and that ``_static/demo/vision.js``
(``loadCascade``) turns back into the detector, with every number the float32 that OpenCV
itself reads from the XML; ``write_cascade_json(out_path)`` writes it.

The dict:

- ``format``: ``"opencv-haar-stumps/1"``; ``source``: the XML's file name;
- ``width``, ``height``: the detection window (24 x 24 px);
- ``stageSizes``, ``stageThresholds``: stumps per stage and the stage thresholds as in the
  XML (OpenCV subtracts 1e-5 in float32 when loading; so does ``loadCascade``);
- ``stumps``: 4 numbers per stump, stage after stage: feature index, node threshold, left
  leaf value (taken when the normalised feature value is below the threshold), right leaf;
- ``features``: per feature its rectangles, 5 numbers each: x, y, width, height, weight.

Floats are written as the shortest decimal that gives back the same float32 (numpy's
shortest repr), which JavaScript's ``Math.fround(Number(text))`` reads back exactly; the
conversion checks this for every number.

>>> data = cascade_to_json()  # doctest: +SKIP
>>> data["width"], len(data["stageSizes"]), len(data["stumps"]) // 4  # doctest: +SKIP
(24, 25, 2913)
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from fer_course.atomic import atomic_write_text

__all__ = ["FORMAT", "cascade_to_json", "write_cascade_json"]

FORMAT = "opencv-haar-stumps/1"
"""The ``format`` field: stump-based Haar cascades, upright features."""

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"
"""The cascade of ``fer_course.faces.detect`` (``CASCADE_FILE``)."""


def _default_path() -> Path:
    """``haarcascade_frontalface_default.xml`` from OpenCV's ``cv2.data``."""
    import cv2

    return Path(cv2.data.haarcascades) / DEFAULT_CASCADE


def _float32(text: str, path: Path, what: str) -> float:
    """The float32 OpenCV reads from ``text`` (decimal to double, then to float32), as the
    shortest decimal that gives it back (a Python float, which ``json`` writes so)."""
    try:
        value = np.float32(float(text))
    except ValueError as error:
        raise ValueError(f"{path}: {what} is not a number: {text!r}") from error
    if not np.isfinite(value):
        raise ValueError(f"{path}: {what} is not finite: {text!r}")
    short = float(np.format_float_positional(value, unique=True, trim="-")
                  if abs(value) >= 1e-4 or value == 0
                  else np.format_float_scientific(value, unique=True, trim="-"))
    if np.float32(short) != value:  # what JavaScript's Math.fround(Number(...)) does
        raise AssertionError(f"{path}: {what} {text!r} does not round-trip as float32")
    return int(short) if short.is_integer() and abs(short) < 2**31 else short


def _child(node: ET.Element, tag: str, path: Path) -> ET.Element:
    """The child ``tag`` of ``node``, or a ValueError naming the file."""
    child = node.find(tag)
    if child is None:
        raise ValueError(f"{path}: not an OpenCV cascade of the current format "
                         f"(no <{tag}> in <{node.tag}>)")
    return child


def _numbers(node: ET.Element, tag: str, path: Path) -> list[str]:
    """The whitespace-separated words of child ``tag``."""
    return (_child(node, tag, path).text or "").split()


def cascade_to_json(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The cascade XML at ``path`` (default OpenCV's ``haarcascade_frontalface_default.xml``)
    as a JSON-able dict (see the module's docstring).

    Only what ``vision.js`` runs is accepted: a BOOST cascade of HAAR features whose weak
    classifiers are stumps (one node) on upright features; anything else, or a file that
    is not such an XML, raises ``ValueError`` naming the file.

    >>> cascade_to_json()["stumps"][:4]  # doctest: +SKIP
    [0, -0.031512, 2.087538, -2.21721]
    """
    path = Path(_default_path() if path is None else path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such cascade file")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise ValueError(f"{path}: not a readable XML file ({error})") from error
    cascade = root.find("cascade")
    if cascade is None:
        cascade = root[0] if len(root) else root
    if cascade.findtext("stageType", "").strip() != "BOOST" \
            or cascade.findtext("featureType", "").strip() != "HAAR":
        raise ValueError(f"{path}: not a BOOST cascade of HAAR features in OpenCV's current "
                         "format (old-format cascades and LBP/HOG ones are not supported)")
    try:
        width = int(_child(cascade, "width", path).text or "")
        height = int(_child(cascade, "height", path).text or "")
    except ValueError as error:
        raise ValueError(f"{path}: the window size is not a pair of integers") from error

    stage_sizes: list[int] = []
    stage_thresholds: list[float] = []
    stumps: list[float] = []
    for si, stage in enumerate(_child(cascade, "stages", path)):
        stage_thresholds.append(_float32(_child(stage, "stageThreshold", path).text or "",
                                         path, f"stage {si}'s threshold"))
        weak = list(_child(stage, "weakClassifiers", path))
        if not weak:
            raise ValueError(f"{path}: stage {si} has no weak classifiers")
        stage_sizes.append(len(weak))
        for wi, tree in enumerate(weak):
            where = f"stage {si}, weak classifier {wi}"
            nodes = _numbers(tree, "internalNodes", path)
            leaves = _numbers(tree, "leafValues", path)
            if len(nodes) != 4 or len(leaves) != 2:
                raise ValueError(f"{path}: {where} is not a stump (one node, two leaves); "
                                 "only stump-based cascades are supported")
            try:
                feature = int(nodes[2])
            except ValueError as error:
                raise ValueError(f"{path}: {where}: bad feature index {nodes[2]!r}") from error
            stumps += [feature, _float32(nodes[3], path, f"{where}'s threshold"),
                       _float32(leaves[0], path, f"{where}'s left leaf"),
                       _float32(leaves[1], path, f"{where}'s right leaf")]
    if not stage_sizes:
        raise ValueError(f"{path}: the cascade has no stages")

    features: list[list[float]] = []
    for fi, node in enumerate(_child(cascade, "features", path)):
        if int((node.findtext("tilted") or "0").strip() or 0):
            raise ValueError(f"{path}: feature {fi} is tilted; only upright features are "
                             "supported")
        rects: list[float] = []
        for ri, rect in enumerate(_child(node, "rects", path)):
            words = (rect.text or "").split()
            if len(words) != 5 or ri >= 3:
                raise ValueError(f"{path}: feature {fi}'s rectangle {ri} is not "
                                 "'x y width height weight' (at most 3 rectangles)")
            try:
                rects += [int(w) for w in words[:4]]
            except ValueError as error:
                raise ValueError(f"{path}: feature {fi}'s rectangle {ri} has non-integer "
                                 f"coordinates: {rect.text!r}") from error
            rects.append(_float32(words[4], path, f"feature {fi}'s weight {ri}"))
        features.append(rects)
    used = {int(stumps[i]) for i in range(0, len(stumps), 4)}
    if not used <= set(range(len(features))):
        raise ValueError(f"{path}: stumps use features {sorted(used - set(range(len(features))))}"
                         f" of the {len(features)} defined")
    return {"format": FORMAT, "source": path.name, "width": width, "height": height,
            "stageSizes": stage_sizes, "stageThresholds": stage_thresholds,
            "stumps": stumps, "features": features}


def write_cascade_json(out_path: str | os.PathLike,
                       path: str | os.PathLike | None = None) -> Path:
    """Write ``cascade_to_json(path)`` to ``out_path`` as compact JSON (no spaces),
    atomically (``fer_course.atomic``: a killed write leaves no half file); returns the path.

    >>> write_cascade_json(tmp / "cascade.json").stat().st_size < 300_000  # doctest: +SKIP
    True
    """
    text = json.dumps(cascade_to_json(path), separators=(",", ":"), allow_nan=False)
    return atomic_write_text(out_path, text)
