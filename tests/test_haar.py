"""Integral image, box sums and Haar features (``fer_course.faces.haar``)."""

from __future__ import annotations

import numpy as np
import pytest

from fer_course.faces.haar import (
    box_sum,
    cascade_summary,
    count_haar_features,
    eyes_feature,
    integral_image,
)


def test_box_sums_match_direct_sums_everywhere():
    gray = np.random.default_rng(0).integers(0, 256, (13, 17)).astype(np.uint8)
    ii = integral_image(gray)
    assert ii.shape == (14, 18) and ii[0].sum() == 0 and ii[:, 0].sum() == 0
    for y in range(13):
        for x in range(17):
            for h in (1, 3, 13 - y):
                for w in (1, 4, 17 - x):
                    if y + h <= 13 and x + w <= 17:
                        assert box_sum(ii, x, y, w, h) == gray[y:y + h, x:x + w].astype(int).sum()


def test_no_overflow_on_a_white_photo():
    ii = integral_image(np.full((600, 800), 255, dtype=np.uint8))
    assert box_sum(ii, 0, 0, 800, 600) == 255 * 600 * 800


@pytest.mark.parametrize("box", [(0, 0, 0, 2), (-1, 0, 2, 2), (3, 0, 2, 2), (0, 3, 2, 1)])
def test_boxes_outside_the_image_are_refused(box):
    with pytest.raises(ValueError, match="not inside the 4 x 3 image"):
        box_sum(integral_image(np.zeros((3, 4), np.uint8)), *box)


def test_eyes_feature_is_positive_for_dark_over_bright_and_needs_even_height():
    dark_over_bright = np.vstack([np.full((3, 6), 20), np.full((3, 6), 200)]).astype(np.uint8)
    ii = integral_image(dark_over_bright)
    assert eyes_feature(ii, 0, 0, 6, 6) == (200 - 20) * 18
    assert eyes_feature(integral_image(dark_over_bright[::-1].copy()), 0, 0, 6, 6) < 0
    with pytest.raises(ValueError, match="even height"):
        eyes_feature(ii, 0, 0, 6, 5)


def test_feature_counts_by_brute_force_on_a_small_window():
    window = 6
    expected = {}
    for name, (a, b) in {"two side by side": (2, 1), "four (checker)": (2, 2)}.items():
        expected[name] = sum(1 for w in range(a, window + 1, a) for h in range(b, window + 1, b)
                             for x in range(window - w + 1) for y in range(window - h + 1))
    counts = count_haar_features(window)
    assert {name: counts[name] for name in expected} == expected
    assert sum(count_haar_features(24).values()) == 162_336  # Viola and Jones's 24 x 24 window


def test_opencv_frontal_face_cascade_summary():
    pytest.importorskip("cv2")
    summary = cascade_summary()
    assert summary.window == (24, 24)
    assert summary.stages == len(summary.weak_per_stage) > 10
    assert summary.weak_per_stage[0] < summary.weak_per_stage[-1]  # cheap stages first
    assert summary.features >= max(summary.weak_per_stage)


def test_cascade_summary_names_a_bad_file(tmp_path):
    bad = tmp_path / "not-a-cascade.xml"
    bad.write_text("<opencv_storage><x/></opencv_storage>")
    with pytest.raises(ValueError, match="not-a-cascade.xml"):
        cascade_summary(bad)
    bad.write_text("<<<")
    with pytest.raises(ValueError, match="not-a-cascade.xml"):
        cascade_summary(bad)
