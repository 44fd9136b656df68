"""The face browser reacts to its controls."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from fer_course.views.widgets import face_browser, top_k_html, top_k_slider  # noqa: E402


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


def test_static_twin_shows_the_first_face_of_each_class(small_synthetic) -> None:
    from fer_course.views.widgets import face_browser_figure

    fig = face_browser_figure(small_synthetic, "val")
    split = small_synthetic.val
    for label, ax in enumerate(fig.axes):
        first = int((split.labels == label).nonzero()[0])  # the browser's index 0
        total = int((split.labels == label).sum())
        name = small_synthetic.classes[label]
        assert ax.get_title() == f"{name} · val · row {split.rows[first]}\n1 of {total}"
        assert (ax.images[0].get_array() == split.images[first].numpy()).all()


def test_top_k_views_show_the_states(capsys) -> None:
    from fer_course.analysis.ensemble_report import simulated_members, top_k_states

    members = simulated_members(4, n_images=300, seed=2)
    states = top_k_states(members, seed=0)
    slider = top_k_slider(members, rule="soft")
    k, rule_box = slider.children[0].children
    k.value, rule_box.value = 4, "weighted"  # the live widget follows both controls
    text = capsys.readouterr().out.split("top-")[-1]  # no kernel: the Output prints
    assert f"val accuracy (weighted): {states['weighted'][3]['val']:.4f}" in text
    assert all(name in text for name in states["weighted"][3]["members"])
    page = top_k_html(states, rule="soft", k=2).data  # the static page's view
    assert 'max="4"' in page and 'value="2"' in page and "<option selected>soft</option>" in page
    assert page.count("<li>") == 4 and f'{states["soft"][1]["test"]}' in page  # states inline
