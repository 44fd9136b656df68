"""Faces pasted into photo-sized images (``fer_course.faces.pasted_faces``)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from fer_course.faces.pasted_faces import detection_check, iou, paste_faces


def test_pasted_faces_are_where_the_boxes_say_and_never_overlap():
    faces = np.random.default_rng(1).integers(0, 256, (12, 48, 48)).astype(np.uint8)
    photo, boxes = paste_faces(faces, photo_size=(1024, 768), side=192, seed=4)
    assert photo.shape == (768, 1024) and photo.dtype == np.uint8 and len(boxes) == 12
    for face, (x, y, w, h) in zip(faces, boxes):
        x, y, w, h = int(x), int(y), int(w), int(h)
        expected = np.asarray(Image.fromarray(face).resize((192, 192), Image.Resampling.BICUBIC))
        assert np.array_equal(photo[y:y + h, x:x + w], expected)
    assert all(iou(a, b) == 0 for a, b in itertools.combinations(boxes, 2))


def test_too_many_faces_are_refused():
    with pytest.raises(ValueError, match="13 faces of 192 px do not fit"):
        paste_faces(np.zeros((13, 48, 48), np.uint8), photo_size=(1024, 768), side=192)


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (0, 0, 5, 10)) == 0.5


def test_detection_check_counts_hits_and_boxes_elsewhere():
    faces = np.zeros((5, 48, 48), np.uint8)
    calls = []

    def fake(photo):  # finds faces 0, 2, 4 (the bright ones), plus a box in a corner
        calls.append(photo.shape)
        found = [(0, 0, 30, 30)]
        ys, xs = np.nonzero(photo == 255)
        if len(xs):
            found.append((xs.min() + 5, ys.min(), 192, 192))
        return found

    faces[::2] = 255
    check = detection_check(faces, fake, photo_size=(640, 480), side=192)
    assert calls == [(480, 640)] * 5
    assert check.found_mask.tolist() == [True, False, True, False, True]
    assert (check.found, check.faces, check.rate, check.boxes_elsewhere) == (3, 5, 0.6, 5)


def test_detection_check_cuts_out_the_found_faces():
    faces = np.zeros((3, 48, 48), np.uint8)
    faces[1] = 255

    def fake(photo):  # the top-left of the white square (the noise is rarely 255)
        found = np.argwhere(photo[:-191, :-191] == 255)
        return [(x, y, 192, 192) for y, x in found
                if np.all(photo[y:y + 192, x:x + 192] == 255)][:1]

    check = detection_check(faces, fake, photo_size=(640, 480), side=192, crop_margin=0.0)
    assert check.found_mask.tolist() == [False, True, False]
    assert check.crops.shape == (1, 48, 48) and check.crops.dtype == np.uint8
    assert np.all(check.crops[:, 3:-3, 3:-3] >= 250)  # the pasted face (edges: filter spill)
    assert detection_check(faces, fake, photo_size=(640, 480)).crops is None
