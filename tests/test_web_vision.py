"""The web page's face pipeline (``fer_course/web/vision.js``) against the Python one.

The page finds and cuts faces in the reader's browser with ``vision.js``; it must give
exactly what ``fer_course.faces`` gives: PIL's gray conversion (``load_gray``), OpenCV's
INTER_AREA downscale and Haar cascade (``detect_faces``) and PIL's Lanczos crop
(``crop_faces``). Each test runs ``tests/js/vision_cli.mjs`` in Node.js once on images
made here (random ones, and matplotlib's sample photo of Grace Hopper, a real face; no
image is stored in the repository) and compares bit for bit: every check is exact.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fer_course.faces.cascade_json import cascade_to_json, write_cascade_json
from fer_course.faces.detect import _cascade, crop_faces, detect_faces
from fer_course.faces.photos import load_gray

cv2 = pytest.importorskip("cv2")

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not on PATH: "
                                "the web page's vision.js cannot be run")

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "tests" / "js" / "vision_cli.mjs"


@pytest.fixture(scope="module")
def cascade_path(tmp_path_factory) -> Path:
    """The frontal-face cascade as the page's JSON."""
    return write_cascade_json(tmp_path_factory.mktemp("cascade") / "cascade.json")


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    """Grace Hopper, gray, 600 x 512 (shipped with matplotlib)."""
    from matplotlib import cbook

    return load_gray(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def run_js(jobs: list[dict], folder: Path, cascade: Path | None = None) -> list[dict]:
    """Run the jobs (each with its input ``array``) in one Node.js process; the results,
    with ``data`` decoded to a uint8 array."""
    tasks = []
    for i, job in enumerate(jobs):
        task = dict(job)
        array = np.ascontiguousarray(task.pop("array"), dtype=np.uint8)
        task["input"] = str(folder / f"input{i}.bin")
        array.tofile(task["input"])
        tasks.append(task)
    job_file = folder / "job.json"
    job_file.write_text(json.dumps({"cascade": str(cascade) if cascade else None,
                                    "jobs": tasks}))
    done = subprocess.run([NODE, "--no-warnings", str(CLI), str(job_file)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    for result in results:
        if "data" in result:
            result["data"] = np.frombuffer(base64.b64decode(result["data"]), dtype=np.uint8)
    return results


def sorted_boxes(found) -> list[tuple[int, int, int, int]]:
    return sorted(tuple(int(v) for v in box) for box in np.asarray(found).reshape(-1, 4))


def collage(hopper: np.ndarray) -> np.ndarray:
    """Several copies of Grace Hopper, at different sizes, on a gray canvas."""
    canvas = np.full((700, 1100), 128, dtype=np.uint8)
    for x, y, scale in [(20, 30, 0.5), (330, 60, 0.35), (560, 20, 0.9), (300, 380, 0.45),
                        (50, 400, 0.3)]:
        face = cv2.resize(hopper, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        height, width = face.shape
        canvas[y:y + height, x:x + width] = face[:700 - y, :1100 - x]
    return canvas


# --------------------------------------------------------------------------- the pieces


def test_cascade_json(tmp_path, cascade_path):
    data = cascade_to_json()
    assert (data["width"], data["height"]) == (24, 24)
    assert len(data["stageSizes"]) == 25 and sum(data["stageSizes"]) == len(data["stumps"]) // 4
    size = cascade_path.stat().st_size
    assert size < 300_000, size  # 177 kB for haarcascade_frontalface_default.xml
    assert json.loads(cascade_path.read_text()) == data
    assert b" " not in cascade_path.read_bytes()
    bad = tmp_path / "bad.xml"
    bad.write_text("<opencv_storage><cascade><stageType>BOOST</stageType>")
    with pytest.raises(ValueError, match="bad.xml"):
        cascade_to_json(bad)
    bad.write_text("<opencv_storage><cascade><stageType>BOOST</stageType>"
                   "<featureType>LBP</featureType></cascade></opencv_storage>")
    with pytest.raises(ValueError, match="bad.xml"):
        cascade_to_json(bad)


def test_gray(tmp_path):
    """Every (value, alpha) pair of an RGBA image composited on white, and random RGB."""
    rng = np.random.default_rng(0)
    values = np.arange(256)
    rgba = np.empty((256, 256, 4), dtype=np.uint8)
    rgba[..., 0] = values[None, :]
    rgba[..., 1] = values[::-1][None, :]
    rgba[..., 2] = (values * 7 % 256)[None, :]
    rgba[..., 3] = values[:, None]
    noisy = rng.integers(0, 256, (90, 70, 4), dtype=np.uint8)
    rgb = rng.integers(0, 256, (120, 80, 3), dtype=np.uint8)
    opaque = np.concatenate([rgb, np.full((120, 80, 1), 255, np.uint8)], axis=2)
    images = [rgba, noisy, opaque]
    results = run_js([{"op": "gray", "array": image, "width": image.shape[1],
                       "height": image.shape[0]} for image in images], tmp_path)
    for image, result in zip(images[:2], results[:2]):
        np.testing.assert_array_equal(result["data"], load_gray(image).ravel())
    # the canvas gives an opaque photo as RGBA with alpha 255: same as PIL's "L" of its RGB
    np.testing.assert_array_equal(results[2]["data"], load_gray(rgb).ravel())


RESIZES = [(200, 150, 100, 75), (300, 200, 100, 50), (120, 90, 40, 30), (61, 47, 1, 1),
           (201, 151, 67, 50), (640, 480, 333, 250), (512, 600, 437, 512), (100, 80, 99, 80),
           (100, 80, 100, 13), (37, 53, 10, 7), (2900, 3400, 1365, 1600)]
"""(width, height, new width, new height): integer ratios (2 x 2 blocks, 3 x 3, 2 x 4, the
whole image) and fractional ones, down to detect.py's 2900 x 3400 -> 1365 x 1600."""


def test_resize_area(tmp_path):
    rng = np.random.default_rng(1)
    jobs, expected = [], []
    for width, height, new_width, new_height in RESIZES:
        image = rng.integers(0, 256, (height, width), dtype=np.uint8)
        jobs.append({"op": "resizeArea", "array": image, "width": width, "height": height,
                     "newWidth": new_width, "newHeight": new_height})
        expected.append(cv2.resize(image, (new_width, new_height),
                                   interpolation=cv2.INTER_AREA))
    for job, result, want in zip(jobs, run_js(jobs, tmp_path), expected):
        np.testing.assert_array_equal(result["data"], want.ravel(), err_msg=str(job["width"]))


def test_resize_linear_exact(tmp_path):
    """The detector's image pyramid: OpenCV's bit-exact bilinear resize."""
    rng = np.random.default_rng(2)
    sizes = [(200, 150, 182, 136), (512, 600, 385, 451), (640, 480, 41, 31), (30, 30, 24, 24),
             (640, 480, 320, 240), (37, 53, 10, 7), (2, 5, 1, 3), (1, 9, 1, 4),
             (50, 40, 120, 90)]
    jobs, expected = [], []
    for width, height, new_width, new_height in sizes:
        image = rng.integers(0, 256, (height, width), dtype=np.uint8)
        jobs.append({"op": "resizeLinearExact", "array": image, "width": width,
                     "height": height, "newWidth": new_width, "newHeight": new_height})
        expected.append(cv2.resize(image, (new_width, new_height),
                                   interpolation=cv2.INTER_LINEAR_EXACT))
    for job, result, want in zip(jobs, run_js(jobs, tmp_path), expected):
        np.testing.assert_array_equal(result["data"], want.ravel(), err_msg=str(job["width"]))


# --------------------------------------------------------------------------- detection


@pytest.mark.slow
def test_raw_candidates(tmp_path, cascade_path, hopper):
    """The scan itself: OpenCV's candidates before grouping (minNeighbors 0), as a set."""
    rng = np.random.default_rng(3)
    images = {
        "hopper": hopper,
        "shrunk": cv2.resize(hopper, (300, 352), interpolation=cv2.INTER_AREA),
        "enlarged": cv2.resize(hopper, (700, 820), interpolation=cv2.INTER_CUBIC),
        "noise": rng.integers(0, 256, (240, 320), dtype=np.uint8),
        "vga": cv2.resize(hopper, (640, 480), interpolation=cv2.INTER_AREA),
    }
    cases = [("hopper", 1.1, 0, 0), ("hopper", 1.1, 0, 30), ("shrunk", 1.1, 0, 30),
             ("enlarged", 1.1, 0, 30), ("noise", 1.1, 0, 0), ("vga", 2.0, 0, 0),
             ("vga", 1.3, 2, 0), ("hopper", 1.05, 3, 24)]
    jobs, expected = [], []
    for name, scale_factor, min_neighbors, min_size in cases:
        image = images[name]
        jobs.append({"op": "detectMultiScale", "array": image, "width": image.shape[1],
                     "height": image.shape[0],
                     "options": {"scaleFactor": scale_factor, "minNeighbors": min_neighbors,
                                 "minSize": min_size}})
        expected.append(sorted_boxes(_cascade().detectMultiScale(
            image, scaleFactor=scale_factor, minNeighbors=min_neighbors,
            minSize=(min_size, min_size))))
    results = run_js(jobs, tmp_path, cascade_path)
    assert len(expected[0]) > 20  # Grace Hopper's face gives many raw candidates
    for case, result, want in zip(cases, results, expected):
        assert sorted_boxes(result["boxes"]) == want, case


@pytest.mark.slow
def test_detect_faces(tmp_path, cascade_path, hopper):
    """``detect_faces`` with its defaults: one face, several, none, and a photo over 1600 px
    (shrunk with a fractional INTER_AREA ratio before the cascade runs)."""
    images = {
        "hopper": hopper,
        "collage": collage(hopper),
        "blank": np.full((480, 640), 200, dtype=np.uint8),
        "large": cv2.resize(hopper, (2900, 3400), interpolation=cv2.INTER_CUBIC),
    }
    jobs = [{"op": "detectFaces", "array": image, "width": image.shape[1],
             "height": image.shape[0], "options": {}} for image in images.values()]
    results = run_js(jobs, tmp_path, cascade_path)
    found = {name: [tuple(box) for box in result["boxes"]]
             for name, result in zip(images, results)}
    for name, image in images.items():
        assert found[name] == detect_faces(image), name
    assert len(found["hopper"]) == 1 and len(found["large"]) == 1
    assert len(found["collage"]) >= 4 and found["blank"] == []


# --------------------------------------------------------------------------- cropping


def test_crop_faces(tmp_path, hopper):
    """Boxes inside, clipped at every edge, fractional, tiny (enlarged) and whole-photo."""
    rng = np.random.default_rng(5)
    boxes = [(155, 105, 222, 222), (0, 0, 100, 100), (480, 560, 60, 60), (-10, -5, 50, 40),
             (10.25, 20.7, 33.3, 41.9), (300.5, 2.2, 211.7, 597.1), (1, 1, 10, 10),
             (0, 0, 512, 600), (100, 100, 48, 48), (5, 7, 17, 600)]
    while len(boxes) < 60:
        box = (float(rng.uniform(-50, 512)), float(rng.uniform(-50, 600)),
               float(rng.uniform(3, 400)), float(rng.uniform(3, 400)))
        if box[0] + box[2] > 0 and box[1] + box[3] > 0:
            boxes.append(box)
    square = rng.integers(0, 256, (48, 48), dtype=np.uint8)
    cases = [(hopper, boxes, 0.2, 48), (hopper, boxes, 0.0, 48), (hopper, boxes, 0.5, 64),
             (square, [(0, 0, 48, 48), (0, 3, 48, 40), (3, 0, 40, 48)], 0.0, 48)]
    jobs = [{"op": "cropFaces", "array": image, "width": image.shape[1],
             "height": image.shape[0], "boxes": [list(box) for box in case_boxes],
             "margin": margin, "size": size} for image, case_boxes, margin, size in cases]
    for (image, case_boxes, margin, size), result in zip(cases, run_js(jobs, tmp_path)):
        want = crop_faces(image, case_boxes, margin, size)
        np.testing.assert_array_equal(result["data"], want.ravel(), err_msg=f"{margin} {size}")
