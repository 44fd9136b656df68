"""Measure what is wrong with a FER data set: blank images and exact duplicates.

FER-2013 was collected by an image search and labelled once; the audit counts, rather
than assumes, its known flaws: all-black frames, the same image more than once, the same
image in two splits (a leak from training into evaluation) and the same image under two
different labels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fer_course.data.types import FERData


@dataclass
class AuditReport:
    """Counts of the audit, plus one row per duplicate group in ``groups``."""

    n_images: int
    n_distinct: int
    black_per_split: dict[str, int]
    duplicate_groups: int  # images that occur more than once, counted once each
    duplicate_rows: int  # rows covered by those groups
    cross_split_groups: int  # groups with members in more than one split
    conflicting_label_groups: int  # groups whose members carry different labels
    groups: pd.DataFrame  # columns: rows, splits, labels, size, cross_split, conflicting
    black_rows: list[int] = field(default_factory=list)  # csv rows of the all-black images

    def table(self) -> pd.DataFrame:
        """The counts as a two-column table for display."""
        items = {
            "images": self.n_images,
            "distinct images": self.n_distinct,
            "all-black images": sum(self.black_per_split.values()),
            **{f"all-black in {k}": v for k, v in self.black_per_split.items()},
            "duplicate groups": self.duplicate_groups,
            "rows in duplicate groups": self.duplicate_rows,
            "groups spanning splits": self.cross_split_groups,
            "groups with conflicting labels": self.conflicting_label_groups,
        }
        return pd.DataFrame({"what": list(items), "count": list(items.values())})


def image_hashes(images: np.ndarray) -> np.ndarray:
    """A 16-byte digest per image; equal digests mean equal pixels.

    >>> imgs = np.zeros((3, 48, 48), np.uint8); imgs[2, 0, 0] = 1
    >>> h = image_hashes(imgs); bool(h[0] == h[1]), bool(h[0] == h[2])
    (True, False)
    """
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return np.array([hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat])


def audit_data(data: FERData) -> AuditReport:
    """Count all-black images and exact duplicates within and across splits.

    >>> from fer_course.data.synthetic import make_synthetic_fer
    >>> audit_data(make_synthetic_fer(70, 14, 14)).n_images
    98
    """
    names, images, labels, rows = [], [], [], []
    for name, split in data.splits().items():
        names += [name] * len(split)
        images.append(split.images.numpy())
        labels.append(split.labels.numpy())
        rows.append(np.asarray(split.rows))
    all_images = np.concatenate(images)
    all_labels, all_rows, all_splits = np.concatenate(labels), np.concatenate(rows), np.array(names)
    black = all_images.reshape(len(all_images), -1).max(axis=1) == 0
    black_per_split = {s: int(black[all_splits == s].sum()) for s in data.splits()}

    _, group_of, sizes = np.unique(image_hashes(all_images), return_inverse=True,
                                   return_counts=True)
    records = []
    dup_members = np.flatnonzero(sizes[group_of] > 1)
    order = dup_members[np.argsort(group_of[dup_members], kind="stable")]
    for members in np.split(order, np.flatnonzero(np.diff(group_of[order])) + 1):
        if len(members) == 0:
            continue
        records.append({
            "rows": all_rows[members].tolist(),
            "splits": sorted(set(all_splits[members])),
            "labels": sorted(set(all_labels[members].tolist())),
            "size": len(members),
        })
    groups = pd.DataFrame(records, columns=["rows", "splits", "labels", "size"])
    groups["cross_split"] = groups["splits"].map(len) > 1
    groups["conflicting"] = groups["labels"].map(len) > 1
    return AuditReport(
        n_images=len(all_images), n_distinct=len(sizes), black_per_split=black_per_split,
        duplicate_groups=len(groups), duplicate_rows=int(groups["size"].sum()),
        cross_split_groups=int(groups["cross_split"].sum()),
        conflicting_label_groups=int(groups["conflicting"].sum()), groups=groups,
        black_rows=sorted(int(r) for r in all_rows[black]),
    )


def audit_finding(report: AuditReport) -> str:
    """What the audit found, as a Markdown paragraph built from its counts.

    >>> from fer_course.data.synthetic import make_synthetic_fer
    >>> audit_finding(audit_data(make_synthetic_fer(70, 14, 14))).split(";")[0]
    'The audit finds **2 all-black frames** (train 2, val 0, test 0)'
    """
    black = sum(report.black_per_split.values())
    per_split = ", ".join(f"{k} {v:,}" for k, v in report.black_per_split.items())
    repeats = report.n_images - report.n_distinct

    def groups(n: int) -> str:
        return f"{n:,} group{'' if n == 1 else 's'}"

    return (
        f"The audit finds **{black:,} all-black frame{'' if black == 1 else 's'}** "
        f"({per_split}); **{groups(report.duplicate_groups)} of identical images**, "
        f"covering {report.duplicate_rows:,} rows, so {repeats:,} of the "
        f"{report.n_images:,} images repeat one seen before; "
        f"**{groups(report.cross_split_groups)} spanning two splits**, a leak from "
        f"training into evaluation; and **{groups(report.conflicting_label_groups)} "
        "under conflicting labels**, where at least one label must be wrong. "
        "Near-duplicates (the same photo re-cropped or re-compressed) are not counted, "
        "so these are lower bounds."
    )


def pixel_statistics(data: FERData) -> pd.DataFrame:
    """Mean and spread of pixel values per split and class, on the 0-255 scale.

    Columns: split, class, images, mean, std (of all pixels), contrast (mean per-image std).
    """
    records = []
    for split_name, split in data.splits().items():
        imgs = split.images.numpy().reshape(len(split), -1).astype(np.float32)
        labels = split.labels.numpy()
        for label, cls in enumerate(data.classes):
            sel = imgs[labels == label]
            if len(sel) == 0:
                continue
            records.append({
                "split": split_name, "class": cls, "images": len(sel),
                "mean": float(sel.mean()), "std": float(sel.std()),
                "contrast": float(sel.std(axis=1).mean()),
            })
    return pd.DataFrame(records)
