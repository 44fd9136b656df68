"""Result tables regenerated from run folders, beside the paper's numbers.

>>> import tempfile
>>> table5(tempfile.mkdtemp()).empty
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from fer_course.paper import PAPER_TABLE5
from fer_course.runs.folder import find_runs

TABLE5_COLUMNS = ["run", "backbone", "train", "val", "test", "paper train", "paper val",
                  "paper test", "test - paper", "profile", "epochs", "image px", "weights",
                  "minutes"]


def table5(runs: str | os.PathLike | Sequence[Any]) -> pd.DataFrame:
    """One row per finished backbone run (a runs folder, or a list of ``RunFolder`` /
    ``StoredRun``), in the paper's Table 5 order, with the paper's accuracies beside ours
    (accuracies as fractions). The profile is the name of the folder holding the run.
    Runs on the FER+ labels (8 classes) are left out: the paper's table is FER-2013's."""
    if isinstance(runs, (str, os.PathLike)):
        runs = find_runs(runs, setting="arch")
    rows = []
    for run in runs:
        m = run.read_metrics()
        s = m["settings"]
        if "arch" not in s or len(m.get("classes", ())) not in (0, 7):
            continue  # not a backbone, or trained on other labels (FER+: 8 classes)
        paper = PAPER_TABLE5.get(s["arch"], (float("nan"),) * 3)
        rows.append({
            "run": run.path.name, "backbone": s["arch"], "train": m["train"]["accuracy"],
            "val": m["val"]["accuracy"],
            "test": m["test"]["accuracy"], "paper train": paper[0], "paper val": paper[1],
            "paper test": paper[2], "test - paper": m["test"]["accuracy"] - paper[2],
            "profile": run.path.parent.name, "epochs": s["epochs"], "image px": s["image_size"],
            "weights": s["weights"] or "scratch", "minutes": (m.get("wall_time_s") or 0) / 60,
        })
    order = {name: i for i, name in enumerate(PAPER_TABLE5)}
    table = pd.DataFrame(rows, columns=TABLE5_COLUMNS)
    return table.sort_values(["backbone", "run"], key=lambda c: c.map(
        lambda a: order.get(a, 99)) if c.name == "backbone" else c, ignore_index=True)
