"""Result tables regenerated from run folders, beside the paper's numbers.

>>> import tempfile
>>> table5(tempfile.mkdtemp()).empty
True
"""

from __future__ import annotations

import os

import pandas as pd

from .paper import PAPER_TABLE5
from .runs import find_runs

TABLE5_COLUMNS = ["backbone", "train", "val", "test", "paper train", "paper val", "paper test",
                  "test - paper", "profile", "epochs", "image px", "weights", "minutes"]


def table5(runs_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per finished backbone run under ``runs_dir``, in the paper's Table 5 order,
    with the paper's accuracies beside ours (accuracies as fractions)."""
    rows = []
    for run in find_runs(runs_dir, setting="arch"):
        m = run.read_metrics()
        s = m["settings"]
        paper = PAPER_TABLE5.get(s["arch"], (float("nan"),) * 3)
        rows.append({
            "backbone": s["arch"], "train": m["train"]["accuracy"], "val": m["val"]["accuracy"],
            "test": m["test"]["accuracy"], "paper train": paper[0], "paper val": paper[1],
            "paper test": paper[2], "test - paper": m["test"]["accuracy"] - paper[2],
            "profile": s["name"], "epochs": s["epochs"], "image px": s["image_size"],
            "weights": s["weights"] or "none", "minutes": (m.get("wall_time_s") or 0) / 60,
        })
    order = {name: i for i, name in enumerate(PAPER_TABLE5)}
    table = pd.DataFrame(rows, columns=TABLE5_COLUMNS)
    return table.sort_values("backbone", key=lambda c: c.map(lambda a: order.get(a, 99)),
                             ignore_index=True)
