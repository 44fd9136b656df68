"""Chapter 1's figures of the data set: class counts, sample grids, mean faces, pixel
histograms, the audit's flawed images, augmentations and FER+ disagreements.

Each function returns a matplotlib ``Figure`` (``class_table`` a table) and draws only
what it is given.

>>> from fer_course.data import make_synthetic_fer
>>> fig = class_distribution(make_synthetic_fer(70, 14, 14))
>>> len(fig.axes)
2
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure

from fer_course.analysis.data_audit import AuditReport
from fer_course.augment import (
    AugmentConfig,
    apply_params,
    denormalize,
    eval_transform,
    sample_params,
)
from fer_course.data.ferplus import (
    FERPLUS_CLASSES,
    FERPlusVotes,
    as_votes,
    check_alignment,
    ferplus_majority,
    labels_by_csv_row,
)
from fer_course.data.types import CLASSES, FERData, Split
from fer_course.views.plots import COLUMN_WIDTH, SPLIT_PALETTE, show_face


def class_table(data: FERData) -> pd.DataFrame:
    """Images per class and split, with each class's share of its split in percent."""
    rows = []
    for split_name, split in data.splits().items():
        counts = split.class_counts(len(data.classes))
        total = max(sum(counts), 1)
        for cls, n in zip(data.classes, counts):
            rows.append({"split": split_name, "class": cls, "images": n,
                         "share %": round(100 * n / total, 1)})
    return pd.DataFrame(rows)


def class_distribution(data: FERData) -> Figure:
    """Bar charts of images per class: counts (left) and share of each split (right)."""
    table = class_table(data)
    fig, axes = plt.subplots(2, 1, figsize=(5.6, 5.8), sharex=True, layout="constrained")
    for ax, column in zip(axes, ("images", "share %")):
        sns.barplot(table, x="class", y=column, hue="split", palette=SPLIT_PALETTE, ax=ax)
        ax.set_xlabel("")
        ax.set_ylabel(column, fontsize=13)
        ax.tick_params(labelsize=12)  # type large enough to read on a phone
    axes[1].tick_params(axis="x", rotation=30)
    axes[0].set_title("images per class", fontsize=14)
    axes[1].set_title("share of each split (%)", fontsize=14)
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside upper center", ncol=3, fontsize=12)
    return fig


def sample_grid(split: Split, classes: Sequence[str], per_class: int = 8, seed: int = 0) -> Figure:
    """``per_class`` random faces of each class, one row per class, source row in each title.
    Four per class stay legible on a phone."""
    rng = np.random.default_rng(seed)
    labels = split.labels.numpy()
    fig, axes = plt.subplots(len(classes), per_class,
                             figsize=(min(COLUMN_WIDTH, 1.0 + per_class * 1.0),
                                      len(classes) * 1.12),
                             squeeze=False, layout="constrained")
    for label, cls in enumerate(classes):
        members = np.flatnonzero(labels == label)
        picked = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for col, ax in enumerate(axes[label]):
            ax.axis("off")
            if col < len(picked):
                show_face(ax, split.images[picked[col]], f"row {split.rows[picked[col]]}",
                           fontsize=10)
        axes[label, 0].text(-0.15, 0.5, cls, transform=axes[label, 0].transAxes,
                            ha="right", va="center", fontsize=12)
    return fig


def mean_faces(data: FERData) -> Figure:
    """The average training face of each class, each contrast-stretched to show its shape;
    four to a row, legible on a phone."""
    cols = min(4, len(data.classes))
    rows = -(-len(data.classes) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows), squeeze=False,
                             layout="constrained")
    axes = grid.ravel()
    for ax in axes[len(data.classes):]:
        fig.delaxes(ax)
    labels = data.train.labels
    for label, (ax, cls) in enumerate(zip(axes, data.classes)):
        members = data.train.images[labels == label].float()
        show_face(ax, members.mean(0) if len(members) else torch.zeros(48, 48), cls,
                   stretch=True, fontsize=12)
    return fig


def pixel_histograms(data: FERData, bins: int = 64) -> Figure:
    """Distribution of pixel values (density) per split, and of per-image mean brightness,
    one above the other so that both stay legible on a phone."""
    fig, axes = plt.subplots(2, 1, figsize=(5.6, 5.4), layout="constrained")
    for name, split in data.splits().items():
        pixels = split.images.numpy().ravel()
        axes[0].hist(pixels, bins=bins, range=(0, 255), density=True, histtype="step",
                     color=SPLIT_PALETTE[name], label=name)
        means = split.images.float().mean(dim=(1, 2)).numpy()
        axes[1].hist(means, bins=bins, range=(0, 255), density=True, histtype="step",
                     color=SPLIT_PALETTE[name], label=name)
    for ax, title, xlabel in zip(axes, ("pixel values", "mean brightness per image"),
                                 ("pixel value (0-255)", "mean pixel value of an image")):
        ax.set_title(title, fontsize=13)
        ax.set_xlabel(xlabel, fontsize=12)
        ax.set_ylabel("density", fontsize=12)
        ax.tick_params(labelsize=11)
    axes[0].legend(fontsize=11)
    return fig


def flawed_examples(data: FERData, report: AuditReport, n: int = 6) -> Figure:
    """Top row: duplicates that cross splits; bottom row: duplicates with conflicting labels.

    Each panel shows one member of a group with every split and label the group carries.
    """
    kinds = (("cross_split", "the same image in two splits"),
             ("conflicting", "the same image under two labels"))
    fig = plt.figure(figsize=(min(COLUMN_WIDTH, 1.5 * n), 4.4), layout="constrained")
    by_row = _images_by_source_row(data)
    for subfig, (column, caption) in zip(fig.subfigures(2, 1), kinds):
        groups = report.groups[report.groups[column]].head(n)
        subfig.suptitle(f"{caption} ({int(report.groups[column].sum())} groups)", fontsize=12)
        for c, ax in enumerate(subfig.subplots(1, n, squeeze=False)[0]):
            ax.axis("off")
            if c < len(groups):
                g = groups.iloc[c]
                labels = "/".join(data.classes[i] for i in g["labels"])
                show_face(ax, by_row[g["rows"][0]], f"{'+'.join(g['splits'])}\n{labels}",
                           fontsize=10)
    return fig


def _images_by_source_row(data: FERData) -> dict[int, torch.Tensor]:
    return {int(row): split.images[i] for split in data.splits().values()
            for i, row in enumerate(split.rows)}


def augmentation_grid(image: torch.Tensor, config: AugmentConfig, draws: int = 8,
                      seed: int = 0) -> Figure:
    """One face: the original, the deterministic eval input, then ``draws`` random
    training augmentations, each titled with its drawn angle and flip."""
    generator = torch.Generator().manual_seed(seed)
    batch = image.reshape(1, 48, 48).expand(draws, 48, 48)
    params = sample_params(draws, config, generator)
    augmented = denormalize(apply_params(batch, params, config), config)
    evaluated = denormalize(eval_transform(image.reshape(1, 48, 48), config), config)
    cols = 4  # four to a row: legible in the book's column and on a phone
    rows = -(-(draws + 2) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(5.6, 1.55 * rows), squeeze=False,
                             layout="constrained")
    axes = grid.ravel()
    for ax in axes[draws + 2:]:
        fig.delaxes(ax)
    show_face(axes[0], image, "original 48 px", fontsize=11)
    axes[1].imshow(evaluated[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"eval {config.image_size} px", fontsize=11)
    axes[1].axis("off")
    for ax, face, angle, flip in zip(axes[2:], augmented, params.angles, params.flips):
        ax.imshow(face[0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{round(float(angle)):+d}°{' flip' if bool(flip) else ''}", fontsize=11)
        ax.axis("off")
    return fig


def disagreement_grid(data: FERData, ferplus: FERPlusVotes | str | os.PathLike,
                      per_class: int = 2, min_votes: int = 6, seed: int = 0,
                      rule: str = "plurality", columns: int = 4) -> Figure:
    """Faces whose FER+ majority differs from their FER-2013 label: ``per_class`` random
    faces of each FER-2013 class, in class order, ``columns`` to a row (legible on a phone),
    chosen among those where at least ``min_votes`` annotators agree (any disagreeing face
    when a class has none such). Titles read ``FER-2013: X / FER+: Y (votes)``.

    >>> from fer_course.data import make_synthetic_fer
    >>> from fer_course.data.ferplus import synthetic_ferplus_votes
    >>> d = make_synthetic_fer(70, 14, 14)
    >>> fig = disagreement_grid(d, synthetic_ferplus_votes(d))
    >>> float(fig.get_size_inches()[0]) <= 7, len(fig.axes) % 4
    (True, 0)
    """
    votes = as_votes(ferplus)
    check_alignment(data, votes)
    majority = ferplus_majority(votes.votes, rule)
    strength = votes.votes.max(axis=1)
    rng = np.random.default_rng(seed)
    images = _images_by_source_row(data)
    rows, original = labels_by_csv_row(data)
    plus = majority[rows]
    picked: list[tuple[int, int]] = []  # (FER-2013 class, csv row)
    for label in range(len(data.classes)):
        differ = (original == label) & (plus >= 0) & (plus != label)
        strong = differ & (strength[rows] >= min_votes)
        pool = rows[strong] if strong.any() else rows[differ]
        chosen = rng.choice(pool, size=min(per_class, len(pool)), replace=False)
        picked.extend((label, int(row)) for row in chosen)
    grid_rows = max(1, -(-len(picked) // columns))
    fig, axes = plt.subplots(grid_rows, columns, squeeze=False, layout="constrained",
                             figsize=(COLUMN_WIDTH, 2.1 * grid_rows))
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, row) in zip(axes.flat, picked):
        title = (f"FER-2013: {CLASSES[label]}\nFER+: {FERPLUS_CLASSES[majority[row]]} "
                 f"({strength[row]}/{votes.votes[row].sum()})")
        show_face(ax, images[row], title)
        ax.title.set_fontsize(10)
    return fig
