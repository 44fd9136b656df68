"""Every figure of the data chapter draws from the data it is given."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fer_course.analysis.data_audit import audit_data  # noqa: E402
from fer_course.augment import (  # noqa: E402
    AugmentConfig,
    apply_params,
    denormalize,
    sample_params,
)
from fer_course.views import data_figures, plots  # noqa: E402


def test_class_table_counts_each_split(small_synthetic) -> None:
    table = data_figures.class_table(small_synthetic)
    train = table[table["split"] == "train"]
    assert train["images"].tolist() == small_synthetic.train.class_counts()
    assert abs(train["share %"].sum() - 100) < 0.5


def test_figures_draw(small_synthetic) -> None:
    report = audit_data(small_synthetic)
    figures = [
        data_figures.class_distribution(small_synthetic),
        data_figures.sample_grid(small_synthetic.train, small_synthetic.classes, per_class=3),
        data_figures.mean_faces(small_synthetic),
        data_figures.pixel_histograms(small_synthetic),
        data_figures.flawed_examples(small_synthetic, report, n=3),
        data_figures.augmentation_grid(small_synthetic.train.images[0],
                                       AugmentConfig(image_size=32), draws=3),
    ]
    assert [len(f.axes) for f in figures] == [2, 7 * 3, 7, 2, 6, 5]
    # the augmentation panels show, and are titled with, the angles and flips actually drawn
    # (seed 0 by default)
    config = AugmentConfig(image_size=32)
    params = sample_params(3, config, torch.Generator().manual_seed(0))
    face = small_synthetic.train.images[0].reshape(1, 48, 48).expand(3, 48, 48)
    shown = denormalize(apply_params(face, params, config), config)
    panels = figures[-1].axes[2:]
    assert [ax.get_title() for ax in panels] == [
        f"{round(float(a)):+d}°" + (" flip" if bool(f) else "")
        for a, f in zip(params.angles, params.flips)]
    assert all(re.fullmatch(r"[+-]\d{1,2}°( flip)?", ax.get_title()) for ax in panels)
    assert len({ax.get_title() for ax in panels}) == 3  # three different draws
    for ax, image in zip(panels, shown):
        assert np.allclose(ax.images[0].get_array(), image[0].numpy())
    plt.close("all")


def test_top_k_and_autoencoder_figures(small_synthetic) -> None:
    import numpy as np
    import torch

    curves = {r: np.array([0.5, 0.52, 0.55]) for r in
              ("majority", "majority (random ties)", "weighted", "soft")}
    fig = plots.top_k_figure({"by val": curves, "by test": curves}, best_single=0.5)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 5  # 4 rules + best single
    faces = small_synthetic.test.images[:3]
    recon = {"latent 8": torch.zeros(3, 3, 48, 48), "latent 16": torch.ones(3, 3, 48, 48)}
    assert len(plots.reconstruction_grid(faces, recon).axes) == 9
    # 3 faces in rows of 2: two blocks of 3 rows (original, latent 8, latent 16)
    wrapped = plots.reconstruction_grid(faces, recon, titles=["a", "b", "c"], columns=2)
    assert len(wrapped.axes) == 2 * 3 * 2
    assert [ax.get_title() for ax in wrapped.axes[:2]] == ["a", "b"]
    assert [ax.get_title(loc="left") for ax in wrapped.axes[::2]] == [
        "", "latent 8", "latent 16", "", "latent 8", "latent 16"]
    assert not wrapped.axes[-1].images  # the fourth slot of the second block stays empty
    with pytest.raises(ValueError, match="3 faces but 2 titles"):
        plots.reconstruction_grid(faces, recon, titles=["a", "b"])
    assert len(plots.interpolation_strip(torch.zeros(4, 3, 48, 48)).axes) == 4
    plt.close("all")


def test_face_strip_titles_take_the_font_size_and_fit_the_column() -> None:
    faces = np.zeros((6, 48, 48), np.uint8)
    fig = plots.face_strip(faces, [f"face {i}" for i in range(6)], columns=4, fontsize=12)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6 and len(fig.axes) == 8  # two rows of four, two left empty
    assert {ax.title.get_fontsize() for ax in shown} == {12}
    assert fig.get_size_inches()[0] <= plots.COLUMN_WIDTH
    # each row is a face (7 / 4 inches) plus one line of 12-point title (12 / 72 * 1.3 in)
    assert abs(fig.get_size_inches()[1] - 2 * (7 / 4 + 12 / 72 * 1.3)) < 1e-9
    plt.close(fig)
