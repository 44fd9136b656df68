"""Result tables regenerated from run folders, beside the paper's numbers.

>>> import tempfile
>>> from fer_course.runs.store import RunStore
>>> table5(RunStore("cpu", runs_dir=tempfile.mkdtemp(), results_dir=tempfile.mkdtemp())).empty
True
>>> row = {"run": "r18", "backbone": "resnet18", "test": 0.4412, "paper test": 0.691,
...        "test - paper": -0.2498, "epochs": 5, "weights": "scratch", "minutes": 37.1}
>>> shown, shared = table5_view(pd.DataFrame([row]))
>>> shown.loc["r18"].tolist(), shared
(['ResNet18', '0.441', '0.691', '-0.250', '37'], {'epochs': 5, 'weights': 'scratch'})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from fer_course.models import PAPER_DISPLAY_NAMES
from fer_course.paper import PAPER_TABLE5
from fer_course.runs.store import RunStore
from fer_course.views.reading import readable

TABLE5_COLUMNS = ["run", "backbone", "train", "val", "test", "paper train", "paper val",
                  "paper test", "test - paper", "profile", "epochs", "image px", "weights",
                  "minutes"]
SETTING_COLUMNS = ("profile", "epochs", "image px", "weights")
"""Columns that say how a run was made: said once in prose when every row shares them."""
TABLE5_VIEW = ["backbone", "train", "val", "test", "paper test", "test - paper", *SETTING_COLUMNS,
               "minutes"]
TABLE5_NAMES = {"paper test": "paper's test", "test - paper": "test − paper",
                "image px": "image (px)", "minutes": "training (min)"}


def table5(runs: RunStore | Sequence[Any]) -> pd.DataFrame:
    """One row per finished backbone run (of a ``RunStore``: its local runs and committed
    summaries, or a list of ``RunFolder``), in the paper's Table 5 order, with the paper's
    accuracies beside ours (accuracies as fractions). The profile is the name of the
    folder holding the run. Runs on the FER+ labels (8 classes) are left out: the
    paper's table is FER-2013's."""
    if isinstance(runs, RunStore):
        runs = runs.all(setting="arch")
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
            "weights": s["weights"] or "scratch", "minutes": run.training_seconds() / 60,
        })
    order = {name: i for i, name in enumerate(PAPER_TABLE5)}
    table = pd.DataFrame(rows, columns=TABLE5_COLUMNS)
    return table.sort_values(["backbone", "run"], key=lambda c: c.map(
        lambda a: order.get(a, 99)) if c.name == "backbone" else c, ignore_index=True)


def _minutes_text(minutes: float) -> str:
    return "—" if pd.isna(minutes) else f"{minutes:.1f}" if minutes < 10 else f"{minutes:.0f}"


def table5_view(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``table5``'s rows as a reader reads them: indexed by run, the paper's display names,
    human column names, accuracies to 3 decimals, minutes as ``5.7`` or ``37``, ``—`` where
    the paper has no number. Setting columns with one value in every row are left out and
    returned as ``{column: value}``, to be said once in the prose."""
    shared = {c: table[c].iloc[0] for c in SETTING_COLUMNS
              if c in table and len(table) and table[c].nunique(dropna=False) == 1}
    shared = {c: v.item() if hasattr(v, "item") else v for c, v in shared.items()}
    columns = [c for c in TABLE5_VIEW if c in table and c not in shared]
    view = table.set_index("run")[columns].rename_axis(None)
    if "backbone" in view:
        view["backbone"] = [PAPER_DISPLAY_NAMES.get(a, a) for a in view["backbone"]]
    if "minutes" in view:
        view["minutes"] = [_minutes_text(m) for m in view["minutes"]]
    return readable(view, names=TABLE5_NAMES), shared
