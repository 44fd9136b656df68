"""The face browser reacts to its controls."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from fer_course.views.widgets import face_browser  # noqa: E402


def test_browser_follows_split_and_class(small_synthetic) -> None:
    browser = face_browser(small_synthetic)
    (split_box, class_box), index = browser.children[0].children, browser.children[1]
    happy_in_train = int((small_synthetic.train.labels == 3).sum())
    class_box.value = 3
    assert index.max == happy_in_train - 1
    split_box.value = "test"
    assert index.max == int((small_synthetic.test.labels == 3).sum()) - 1
    index.value = index.max  # the last face of the class stays reachable
    assert index.value == index.max
