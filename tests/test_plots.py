"""Every figure of the data chapter draws from the data it is given."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from fer_course.analysis.data_audit import audit_data  # noqa: E402
from fer_course.augment import (  # noqa: E402
    AugmentConfig,
    apply_params,
    denormalize,
    sample_params,
)
from fer_course.views import plots  # noqa: E402


def test_class_table_counts_each_split(small_synthetic) -> None:
    table = plots.class_table(small_synthetic)
    train = table[table["split"] == "train"]
    assert train["images"].tolist() == small_synthetic.train.class_counts()
    assert abs(train["share %"].sum() - 100) < 0.5


def test_figures_draw(small_synthetic) -> None:
    report = audit_data(small_synthetic)
    figures = [
        plots.class_distribution(small_synthetic),
        plots.sample_grid(small_synthetic.train, small_synthetic.classes, per_class=3),
        plots.mean_faces(small_synthetic),
        plots.pixel_histograms(small_synthetic),
        plots.flawed_examples(small_synthetic, report, n=3),
        plots.augmentation_grid(small_synthetic.train.images[0], AugmentConfig(image_size=32),
                                draws=3),
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
    assert len(plots.interpolation_strip(torch.zeros(4, 3, 48, 48)).axes) == 4
    plt.close("all")
