"""Every figure of the data chapter draws from the data it is given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from fer_course import plots  # noqa: E402
from fer_course.augment import AugmentConfig  # noqa: E402
from fer_course.data import audit_data  # noqa: E402


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
    # the augmentation panels are titled with the angles actually drawn
    titles = [ax.get_title() for ax in figures[-1].axes[2:]]
    assert all(t.rstrip(" flip").endswith("°") for t in titles)
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
