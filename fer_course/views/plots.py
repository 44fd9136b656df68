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


def _show_face(ax, image: np.ndarray | torch.Tensor, title: str = "", stretch: bool = False,
               fontsize: float = 8) -> None:
    """Draw a 0-255 face; ``stretch`` maps its own min..max to black..white instead."""
    limits = {} if stretch else {"vmin": 0, "vmax": 255}
    ax.imshow(np.asarray(image), cmap="gray", **limits)
    ax.set_title(title, fontsize=fontsize)
    ax.axis("off")


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
                _show_face(ax, split.images[picked[col]], f"row {split.rows[picked[col]]}",
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
        _show_face(ax, members.mean(0) if len(members) else torch.zeros(48, 48), cls,
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
                _show_face(ax, by_row[g["rows"][0]], f"{'+'.join(g['splits'])}\n{labels}",
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
    _show_face(axes[0], image, "original 48 px", fontsize=11)
    axes[1].imshow(evaluated[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"eval {config.image_size} px", fontsize=11)
    axes[1].axis("off")
    for ax, face, angle, flip in zip(axes[2:], augmented, params.angles, params.flips):
        ax.imshow(face[0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{round(float(angle)):+d}°{' flip' if bool(flip) else ''}", fontsize=11)
        ax.axis("off")
    return fig


def training_curves(history: pd.DataFrame, title: str = "",
                    train_label: str = "train (augmented)", loss_label: str = "cross-entropy",
                    columns: int = 2) -> Figure:
    """Accuracy and loss against epoch, train vs val; the best validation epoch is marked.
    ``train_label`` and ``loss_label`` say what was measured (e.g. no augmentation, or
    the multitask loss CE + λ·MSE). ``columns=1`` stacks the two panels, for a figure
    that stays legible on a phone."""
    size = (COLUMN_WIDTH, 2.9) if columns == 2 else (4.8, 5.0)
    fig, axes = plt.subplots(3 - columns, columns, figsize=size, layout="constrained")
    axes = axes.ravel()
    best = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    for ax, metric in zip(axes, ("acc", "loss")):
        ax.plot(history["epoch"], history[f"train_{metric}"], "o-", label=train_label)
        ax.plot(history["epoch"], history[f"val_{metric}"], "o-", label="val")
        ax.axvline(best, color="grey", ls=":", lw=1, label=f"lowest val loss (epoch {best})")
        ax.set(xlabel="epoch", ylabel="accuracy" if metric == "acc" else loss_label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if columns == 1:  # drawn narrower: larger text, to read on a phone
            ax.tick_params(labelsize=11)
            ax.xaxis.label.set_size(12)
            ax.yaxis.label.set_size(12)
    axes[0].legend(fontsize=8 if columns == 2 else 10)
    fig.suptitle(title)
    return fig


def confusion_matrices(metrics: dict, classes: Sequence[str], splits=("val", "test"),
                       title: str = "", panels: Sequence[str] = ("counts", "share"),
                       ) -> Figure:
    """Confusion matrices (rows: true class) per split: ``panels`` ``counts`` and ``share``
    (normalised by row), each with a colour bar; one panel alone is drawn large enough to
    read on a phone."""
    single = len(panels) == 1
    fig, axes = plt.subplots(len(splits), len(panels), squeeze=False, layout="constrained",
                             figsize=(5.2, 4.6 * len(splits)) if single
                             else (COLUMN_WIDTH, 3.6 * len(splits)))
    for row, split in zip(axes, splits):
        cm = np.array(metrics[split]["confusion_matrix"])
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        drawn = {"counts": (cm, "d", "counts"), "share": (norm, ".2f", "share of the true class")}
        for ax, (values, fmt, what) in zip(row, (drawn[p] for p in panels)):
            sns.heatmap(values, annot=True, fmt=fmt, cmap="Blues", ax=ax,
                        vmin=0, vmax=1 if fmt == ".2f" else None, cbar_kws={"shrink": 0.8},
                        xticklabels=classes, yticklabels=classes,
                        annot_kws={"fontsize": 10 if single else 7})
            ticks = 10 if single else 8
            ax.tick_params(axis="y", rotation=0, labelsize=ticks)  # names read horizontally
            ax.tick_params(axis="x", rotation=45, labelsize=ticks)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title(f"{split}: {what}\n(accuracy {metrics[split]['accuracy']:.3f})",
                         fontsize=ticks + 1)
    fig.suptitle(title)
    return fig


def per_class_recall(metrics: dict, classes: Sequence[str], splits=("train", "val", "test"),
                     ) -> pd.DataFrame:
    """Recall (accuracy within each true class) per split, as a table."""
    return pd.DataFrame({s: metrics[s]["per_class_recall"] for s in splits}, index=list(classes))


def top_k_figure(curves_by_order: dict[str, dict], best_single: float | None = None,
                 paper: float | None = None) -> Figure:
    """Figure 3 of the paper: ensemble accuracy against the number of members, one panel
    per member order, one line per voting rule. Narrower than the column, with large
    type, so that it stays legible when a phone shrinks it to its width."""
    n = len(curves_by_order)
    fig, axes = plt.subplots(n, 1, figsize=(5.2, 3.2 * n + 1.0), squeeze=False,
                             sharey=True, layout="constrained")
    for ax, (title, curves) in zip(axes[:, 0], curves_by_order.items()):
        ks = np.arange(1, len(curves["soft"]) + 1)
        for rule in ("majority", "majority (random ties)", "weighted", "soft"):
            ax.plot(ks, curves[rule], "o-", ms=4, label=rule)
        if best_single is not None:
            ax.axhline(best_single, color="grey", ls=":", label="best single model")
        if paper is not None:
            ax.axhline(paper, color="black", ls="--", lw=0.8, label=f"paper's best ({paper:.1%})")
        ax.set(xticks=ks)
        ax.set_title(title, fontsize=12)
        ax.set_xlabel("number of models (k)", fontsize=11)
        ax.set_ylabel("test accuracy", fontsize=11)
        ax.tick_params(labelsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=10)
    return fig


def _to_gray_01(x: torch.Tensor) -> np.ndarray:
    """First channel of a normalised ``[3, S, S]`` tensor, back on the 0-1 scale."""
    return denormalize(x.float(), AugmentConfig(image_size=x.shape[-1]))[0].numpy()


def reconstruction_grid(images: torch.Tensor, reconstructions: dict[str, torch.Tensor],
                        titles: Sequence[str] = (), columns: int = 8) -> Figure:
    """Figure 5: originals (top row) above their reconstructions, one row per model.

    ``titles`` name the columns (one per face; the top row is then not labelled
    "original"); more faces than ``columns`` wrap into further blocks of rows, so that
    each face stays legible on a narrow screen.

    >>> recon = {"code 8": torch.zeros(5, 3, 48, 48)}
    >>> fig = reconstruction_grid(torch.zeros(5, 48, 48), recon, columns=3)
    >>> len(fig.axes), [round(float(v), 2) for v in fig.get_size_inches()]
    (12, [3.6, 4.8])
    """
    if titles and len(titles) != len(images):
        raise ValueError(f"{len(images)} faces but {len(titles)} titles")
    columns = max(1, min(columns, len(images)))
    blocks, per_block = -(-len(images) // columns), 1 + len(reconstructions)
    fig, axes = plt.subplots(blocks * per_block, columns, squeeze=False,
                             figsize=(min(COLUMN_WIDTH, 1.2 * columns),
                                      1.2 * blocks * per_block), layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    labels = ["original", *reconstructions]
    for i, face in enumerate(images):
        top, col = (i // columns) * per_block, i % columns
        _show_face(axes[top, col], face)
        if titles:
            axes[top, col].set_title(titles[i], fontsize=11)
        for row, recon in enumerate(reconstructions.values(), start=1):
            axes[top + row, col].imshow(_to_gray_01(recon[i]), cmap="gray", vmin=0, vmax=1)
    for top in range(0, blocks * per_block, per_block):
        for row, label in enumerate(labels[1:] if titles else labels, start=int(bool(titles))):
            axes[top + row, 0].set_title(label, loc="left", fontsize=12)
    return fig


def interpolation_strip(frames: torch.Tensor, title: str = "") -> Figure:
    """Decoded faces along a straight line between two latent codes, left to right."""
    fig, axes = plt.subplots(1, len(frames),
                             figsize=(min(COLUMN_WIDTH, 0.85 * len(frames)), 1.3),
                             layout="constrained")
    for i, (ax, frame) in enumerate(zip(axes, frames)):
        ax.imshow(_to_gray_01(frame), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"t={i / max(len(frames) - 1, 1):.2f}", fontsize=10)
        ax.axis("off")
    fig.suptitle(title)
    return fig


def face_strip(faces: Any, titles: Sequence[str] = (), columns: int = 8,
               width: float = COLUMN_WIDTH, fontsize: float = 8) -> Figure:
    """Gray 0-255 faces ``[n, h, w]`` in rows of ``columns``, each with its title (in
    ``fontsize`` points: 10 or more stays legible on a phone with four columns).

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
    lines = max((str(t).count("\n") + 1 for t in titles), default=0)
    title_room = lines * fontsize / 72 * 1.3  # inches of title above each face
    fig, axes = plt.subplots(rows, columns, squeeze=False, layout="constrained",
                             figsize=(cell * columns, rows * (cell + title_room)))
    for ax in axes.flat:
        ax.axis("off")
    for i, face in enumerate(faces):
        _show_face(axes.flat[i], face, titles[i] if titles else "", fontsize=fontsize)
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
    images = {int(r): s.images[i] for s in data.splits().values() for i, r in enumerate(s.rows)}
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
        _show_face(ax, images[row], title)
        ax.title.set_fontsize(10)
    return fig
