"""The data audit finds exactly the flaws planted in the synthetic data."""

from __future__ import annotations

import numpy as np

from fer_course.analysis.data_audit import audit_data, audit_finding, pixel_statistics
from fer_course.data import make_synthetic_fer


def test_audit_counts_planted_flaws() -> None:
    data = make_synthetic_fer(560, 140, 140, seed=0)
    report = audit_data(data)
    assert report.n_images == 840
    assert report.black_per_split == {"train": 2, "val": 0, "test": 0}
    # the two black images pair up, plus 4 planted copies: 5 groups of 2
    assert report.duplicate_groups == 5
    assert report.duplicate_rows == 10
    assert report.n_distinct == 835
    assert report.cross_split_groups == 1
    assert report.conflicting_label_groups == 1
    conflict = report.groups[report.groups["conflicting"]].iloc[0]
    assert len(conflict["labels"]) == 2
    # the two planted black frames, by their csv rows
    black = [row for split in data.splits().values() for i, row in enumerate(split.rows)
             if int(split.images[i].max()) == 0]
    assert report.black_rows == sorted(black) and len(black) == 2


def test_audit_finding_states_the_planted_counts() -> None:
    text = audit_finding(audit_data(make_synthetic_fer(560, 140, 140, seed=0)))
    assert "**2 all-black frames** (train 2, val 0, test 0)" in text
    assert "**5 groups of identical images**, covering 10 rows" in text
    assert "so 5 of the 840 images repeat" in text  # 840 images, 835 distinct
    assert "**1 group spanning two splits**" in text
    assert "**1 group under conflicting labels**" in text


def test_audit_without_flaws_is_clean() -> None:
    report = audit_data(make_synthetic_fer(140, 35, 35, seed=2, with_flaws=False))
    assert report.duplicate_groups == 0 and sum(report.black_per_split.values()) == 0
    assert list(report.table()["what"])[0] == "images"


def test_pixel_statistics_match_numpy(small_synthetic) -> None:
    stats = pixel_statistics(small_synthetic)
    row = stats[(stats["split"] == "train") & (stats["class"] == "Happy")].iloc[0]
    happy = small_synthetic.train.images[small_synthetic.train.labels == 3].numpy()
    assert row["images"] == len(happy)
    pixels = happy.astype(np.float64)
    assert np.isclose(row["mean"], pixels.mean(), rtol=1e-5)
    assert np.isclose(row["std"], pixels.std(), rtol=1e-5)  # over all pixels of the class
    per_image_std = [image.std() for image in pixels]  # contrast: the mean per-image spread
    assert np.isclose(row["contrast"], np.mean(per_image_std), rtol=1e-5)
