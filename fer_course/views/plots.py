"""Figures of the chapters: data set overviews, sample grids, augmentations, audits.

Each function returns a matplotlib ``Figure`` and draws only what it is given.

>>> from fer_course.data import make_synthetic_fer
>>> fig = class_distribution(make_synthetic_fer(70, 14, 14))
>>> len(fig.axes)
2
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

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

SPLIT_PALETTE = {"train": "#4c72b0", "val": "#dd8452", "test": "#55a868"}
COLUMN_WIDTH = 7.0
"""Inches: at 100 dpi a figure this wide fills the book's ~690 px column without shrinking."""


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
    fig, axes = plt.subplots(2, 1, figsize=(COLUMN_WIDTH, 5.0), sharex=True,
                             layout="constrained")
    for ax, column in zip(axes, ("images", "share %")):
        sns.barplot(table, x="class", y=column, hue="split", palette=SPLIT_PALETTE, ax=ax)
        ax.set_xlabel("")
    axes[0].set_title("images per class")
    axes[1].set_title("share of each split (%)")
    axes[1].get_legend().remove()
    return fig


def _show_face(ax, image: np.ndarray | torch.Tensor, title: str = "", stretch: bool = False,
               ) -> None:
    """Draw a 0-255 face; ``stretch`` maps its own min..max to black..white instead."""
    limits = {} if stretch else {"vmin": 0, "vmax": 255}
    ax.imshow(np.asarray(image), cmap="gray", **limits)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def sample_grid(split: Split, classes: Sequence[str], per_class: int = 8, seed: int = 0) -> Figure:
    """``per_class`` random faces of each class, one row per class, source row in each title."""
    rng = np.random.default_rng(seed)
    labels = split.labels.numpy()
    fig, axes = plt.subplots(len(classes), per_class,
                             figsize=(min(COLUMN_WIDTH, per_class * 0.85), len(classes) * 0.95),
                             squeeze=False, layout="constrained")
    for label, cls in enumerate(classes):
        members = np.flatnonzero(labels == label)
        picked = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for col, ax in enumerate(axes[label]):
            ax.axis("off")
            if col < len(picked):
                _show_face(ax, split.images[picked[col]], f"row {split.rows[picked[col]]}")
        axes[label, 0].text(-0.15, 0.5, cls, transform=axes[label, 0].transAxes,
                            ha="right", va="center", fontsize=10)
    return fig


def mean_faces(data: FERData) -> Figure:
    """The average training face of each class, each contrast-stretched to show its shape."""
    fig, axes = plt.subplots(1, len(data.classes), figsize=(COLUMN_WIDTH, 1.5),
                             layout="constrained")
    labels = data.train.labels
    for label, (ax, cls) in enumerate(zip(axes, data.classes)):
        members = data.train.images[labels == label].float()
        _show_face(ax, members.mean(0) if len(members) else torch.zeros(48, 48), cls, stretch=True)
    return fig


def pixel_histograms(data: FERData, bins: int = 64) -> Figure:
    """Distribution of pixel values (density) per split, and of per-image mean brightness."""
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 2.8), layout="constrained")
    for name, split in data.splits().items():
        pixels = split.images.numpy().ravel()
        axes[0].hist(pixels, bins=bins, range=(0, 255), density=True, histtype="step",
                     color=SPLIT_PALETTE[name], label=name)
        means = split.images.float().mean(dim=(1, 2)).numpy()
        axes[1].hist(means, bins=bins, range=(0, 255), density=True, histtype="step",
                     color=SPLIT_PALETTE[name], label=name)
    axes[0].set(title="pixel values", xlabel="value (0-255)", ylabel="density")
    axes[1].set(title="mean brightness per image", xlabel="mean value", ylabel="density")
    axes[0].legend()
    return fig


def flawed_examples(data: FERData, report: AuditReport, n: int = 6) -> Figure:
    """Top row: duplicates that cross splits; bottom row: duplicates with conflicting labels.

    Each panel shows one member of a group with every split and label the group carries.
    """
    kinds = (("cross_split", "the same image in two splits"),
             ("conflicting", "the same image under two labels"))
    fig = plt.figure(figsize=(min(COLUMN_WIDTH, 1.15 * n), 3.6), layout="constrained")
    by_row = _images_by_source_row(data)
    for subfig, (column, caption) in zip(fig.subfigures(2, 1), kinds):
        groups = report.groups[report.groups[column]].head(n)
        subfig.suptitle(f"{caption} ({int(report.groups[column].sum())} groups)", fontsize=10)
        for c, ax in enumerate(subfig.subplots(1, n, squeeze=False)[0]):
            ax.axis("off")
            if c < len(groups):
                g = groups.iloc[c]
                labels = "/".join(data.classes[i] for i in g["labels"])
                _show_face(ax, by_row[g["rows"][0]], f"{'+'.join(g['splits'])}\n{labels}")
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
    cols = (draws + 3) // 2  # two rows: legible in the book's column and on a phone
    fig, grid = plt.subplots(2, cols, figsize=(COLUMN_WIDTH, 3.4), layout="constrained")
    axes = grid.ravel()
    for ax in axes[draws + 2:]:
        fig.delaxes(ax)
    _show_face(axes[0], image, "original 48 px")
    axes[1].imshow(evaluated[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"eval {config.image_size} px", fontsize=8)
    axes[1].axis("off")
    for ax, face, angle, flip in zip(axes[2:], augmented, params.angles, params.flips):
        ax.imshow(face[0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{round(float(angle)):+d}°{' flip' if bool(flip) else ''}", fontsize=8)
        ax.axis("off")
    return fig


def training_curves(history: pd.DataFrame, title: str = "",
                    train_label: str = "train (augmented)", loss_label: str = "cross-entropy",
                    ) -> Figure:
    """Accuracy and loss against epoch, train vs val; the best validation epoch is marked.
    ``train_label`` and ``loss_label`` say what was measured (e.g. no augmentation, or
    the multitask loss CE + λ·MSE)."""
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 2.9), layout="constrained")
    best = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    for ax, metric in zip(axes, ("acc", "loss")):
        ax.plot(history["epoch"], history[f"train_{metric}"], "o-", label=train_label)
        ax.plot(history["epoch"], history[f"val_{metric}"], "o-", label="val")
        ax.axvline(best, color="grey", ls=":", lw=1, label=f"lowest val loss (epoch {best})")
        ax.set(xlabel="epoch", ylabel="accuracy" if metric == "acc" else loss_label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    return fig


def confusion_matrices(metrics: dict, classes: Sequence[str], splits=("val", "test"),
                       title: str = "") -> Figure:
    """Confusion matrices (rows: true class) per split: counts, and normalised by row."""
    fig, axes = plt.subplots(len(splits), 2, figsize=(COLUMN_WIDTH, 3.6 * len(splits)),
                             squeeze=False, layout="constrained")
    for row, split in zip(axes, splits):
        cm = np.array(metrics[split]["confusion_matrix"])
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        for ax, values, fmt, what in ((row[0], cm, "d", "counts"),
                                      (row[1], norm, ".2f", "share of the true class")):
            sns.heatmap(values, annot=True, fmt=fmt, cmap="Blues", cbar=False, ax=ax,
                        xticklabels=classes, yticklabels=classes, annot_kws={"fontsize": 7})
            ax.tick_params(axis="y", rotation=0, labelsize=8)  # class names read horizontally
            ax.tick_params(axis="x", rotation=45, labelsize=8)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title(f"{split}: {what}\n(accuracy {metrics[split]['accuracy']:.3f})",
                         fontsize=9)
    fig.suptitle(title)
    return fig


def per_class_recall(metrics: dict, classes: Sequence[str], splits=("train", "val", "test"),
                     ) -> pd.DataFrame:
    """Recall (accuracy within each true class) per split, as a table."""
    return pd.DataFrame({s: metrics[s]["per_class_recall"] for s in splits}, index=list(classes))


def top_k_figure(curves_by_order: dict[str, dict], best_single: float | None = None,
                 paper: float | None = None) -> Figure:
    """Figure 3 of the paper: ensemble accuracy against the number of members, one panel
    per member order, one line per voting rule."""
    n = len(curves_by_order)
    fig, axes = plt.subplots(n, 1, figsize=(COLUMN_WIDTH, 2.9 * n + 0.6), squeeze=False,
                             sharey=True, layout="constrained")
    for ax, (title, curves) in zip(axes[:, 0], curves_by_order.items()):
        ks = np.arange(1, len(curves["soft"]) + 1)
        for rule in ("majority", "majority (random ties)", "weighted", "soft"):
            ax.plot(ks, curves[rule], "o-", ms=3, label=rule)
        if best_single is not None:
            ax.axhline(best_single, color="grey", ls=":", label="best single model")
        if paper is not None:
            ax.axhline(paper, color="black", ls="--", lw=0.8, label=f"paper's best ({paper:.1%})")
        ax.set(title=title, xlabel="number of models (k)", xticks=ks, ylabel="test accuracy")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    return fig


def _to_gray_01(x: torch.Tensor) -> np.ndarray:
    """First channel of a normalised ``[3, S, S]`` tensor, back on the 0-1 scale."""
    return denormalize(x.float(), AugmentConfig(image_size=x.shape[-1]))[0].numpy()


def reconstruction_grid(images: torch.Tensor, reconstructions: dict[str, torch.Tensor],
                        ) -> Figure:
    """Figure 5: originals (top row) above their reconstructions, one row per model."""
    rows = 1 + len(reconstructions)
    fig, axes = plt.subplots(rows, len(images),
                             figsize=(min(COLUMN_WIDTH, 0.85 * len(images)), 0.95 * rows),
                             squeeze=False, layout="constrained")
    for col, face in enumerate(images):
        _show_face(axes[0, col], face)
        for row, recon in enumerate(reconstructions.values(), start=1):
            axes[row, col].imshow(_to_gray_01(recon[col]), cmap="gray", vmin=0, vmax=1)
            axes[row, col].axis("off")
    axes[0, 0].set_title("original", loc="left", fontsize=9)
    for row, name in enumerate(reconstructions, start=1):
        axes[row, 0].set_title(name, loc="left", fontsize=9)
    return fig


def interpolation_strip(frames: torch.Tensor, title: str = "") -> Figure:
    """Decoded faces along a straight line between two latent codes, left to right."""
    fig, axes = plt.subplots(1, len(frames),
                             figsize=(min(COLUMN_WIDTH, 0.85 * len(frames)), 1.3),
                             layout="constrained")
    for i, (ax, frame) in enumerate(zip(axes, frames)):
        ax.imshow(_to_gray_01(frame), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"t={i / max(len(frames) - 1, 1):.2f}", fontsize=8)
        ax.axis("off")
    fig.suptitle(title)
    return fig


def face_strip(faces: Any, titles: Sequence[str] = (), columns: int = 8,
               width: float = COLUMN_WIDTH) -> Figure:
    """Gray 0-255 faces ``[n, h, w]`` in rows of ``columns``, each with its title.

    >>> fig = face_strip(np.zeros((3, 48, 48), np.uint8), ["a", "b", "c"])
    >>> len(fig.axes), float(fig.get_size_inches()[0]) <= COLUMN_WIDTH
    (3, True)
    """
    faces = np.asarray(faces.detach().cpu() if isinstance(faces, torch.Tensor) else faces)
    if titles and len(titles) != len(faces):
        raise ValueError(f"{len(faces)} faces but {len(titles)} titles")
    cell = width / max(1, columns)  # a face's size does not grow when there are few
    columns = max(1, min(columns, len(faces)))
    rows = -(-len(faces) // columns)
    fig, axes = plt.subplots(rows, columns, squeeze=False, layout="constrained",
                             figsize=(cell * columns, rows * cell * 1.3))
    for ax in axes.flat:
        ax.axis("off")
    for i, face in enumerate(faces):
        _show_face(axes.flat[i], face, titles[i] if titles else "")
    return fig


def disagreement_grid(data: FERData, ferplus: FERPlusVotes | str | os.PathLike,
                      per_class: int = 2, min_votes: int = 6, seed: int = 0,
                      rule: str = "plurality") -> Figure:
    """Faces whose FER+ majority differs from their FER-2013 label: one column per FER-2013
    class, ``per_class`` random faces each, chosen among those where at least ``min_votes``
    annotators agree (any disagreeing face when a class has none such). Titles read
    ``FER-2013: X / FER+: Y (votes)``.

    >>> from fer_course.data import make_synthetic_fer
    >>> from fer_course.data.ferplus import synthetic_ferplus_votes
    >>> d = make_synthetic_fer(70, 14, 14)
    >>> fig = disagreement_grid(d, synthetic_ferplus_votes(d))
    >>> float(fig.get_size_inches()[0]) <= 7
    True
    """
    votes = as_votes(ferplus)
    check_alignment(data, votes)
    majority = ferplus_majority(votes.votes, rule)
    strength = votes.votes.max(axis=1)
    rng = np.random.default_rng(seed)
    images = {int(r): s.images[i] for s in data.splits().values() for i, r in enumerate(s.rows)}
    rows, original = labels_by_csv_row(data)
    plus = majority[rows]
    cols = len(data.classes)
    fig, axes = plt.subplots(per_class, cols, squeeze=False, layout="constrained",
                             figsize=(COLUMN_WIDTH, 1.35 * per_class + 0.1))
    for label in range(cols):
        differ = (original == label) & (plus >= 0) & (plus != label)
        strong = differ & (strength[rows] >= min_votes)
        pool = rows[strong] if strong.any() else rows[differ]
        picked = rng.choice(pool, size=min(per_class, len(pool)), replace=False)
        for k in range(per_class):
            ax = axes[k, label]
            ax.axis("off")
            if k < len(picked):
                row = int(picked[k])
                title = (f"FER-2013: {CLASSES[label]}\nFER+: {FERPLUS_CLASSES[majority[row]]} "
                         f"({strength[row]}/{votes.votes[row].sum()})")
                _show_face(ax, images[row], title)
                ax.title.set_fontsize(6.5)
    return fig
