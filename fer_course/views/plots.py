"""Figures of the chapters' runs: training curves, confusion matrices, recall, ensemble
curves, reconstructions and strips of faces. Chapter 1's figures of the data set itself are
in :mod:`fer_course.views.data_figures`.

Each function returns a matplotlib ``Figure`` and draws only what it is given.

>>> per_class_recall({"test": {"per_class_recall": [0.5, 0.25]}}, ["a", "b"],
...                  splits=("test",))
   test
a  0.50
b  0.25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fer_course.augment import AugmentConfig, denormalize

SPLIT_PALETTE = {"train": "#4c72b0", "val": "#dd8452", "test": "#55a868"}
COLUMN_WIDTH = 7.0
"""Inches: at 100 dpi a figure this wide fills the book's ~690 px column without shrinking."""


def show_face(ax, image: np.ndarray | torch.Tensor, title: str = "", stretch: bool = False,
               fontsize: float = 8) -> None:
    """Draw a 0-255 face; ``stretch`` maps its own min..max to black..white instead."""
    limits = {} if stretch else {"vmin": 0, "vmax": 255}
    ax.imshow(np.asarray(image), cmap="gray", **limits)
    ax.set_title(title, fontsize=fontsize)
    ax.axis("off")


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
        show_face(axes[top, col], face)
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
        show_face(axes.flat[i], face, titles[i] if titles else "", fontsize=fontsize)
    return fig

