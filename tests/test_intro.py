"""The intro's generated blocks (``tools/results_at_a_glance.py``) against the committed runs.

The comparison with the stored runs needs FER-2013's labels (``FER2013_PATH``); without
it only the checks that need no data run.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from tool_scripts import load_tool  # tests/tool_scripts.py (pytest puts tests/ on the path)

ROOT = Path(__file__).resolve().parents[1]
INTRO = ROOT / "book" / "intro.md"


tool = load_tool("results_at_a_glance")


@pytest.fixture(scope="module")
def data():
    path = os.environ.get("FER2013_PATH")
    if not path or not Path(path).exists():
        pytest.skip("FER2013_PATH not set: the accuracies need FER-2013's labels")
    from fer_course.data import load_fer2013

    return load_fer2013(path)


@pytest.fixture(scope="module")
def computed(data):
    return tool.compute(ROOT / "results", data)


@pytest.mark.parametrize("name", ["site-profile", "results-at-a-glance"])
def test_intro_block_is_up_to_date(computed, name):
    shown = tool.read_block(INTRO.read_text(), name)
    assert shown == computed[name], (
        f"book/intro.md's block {name!r} differs from the committed results: run "
        "python tools/results_at_a_glance.py --data <fer2013>")


def test_best_row_equals_an_independent_count(data):
    """The `best` network's accuracy counted by hand from its committed predictions."""
    run = ROOT / "results" / "best" / "best"
    if not (run / "metrics.json").is_file():
        pytest.skip("results/best/best not stored")
    with np.load(run / "predictions.npz") as z:
        probs, rows = z["test_probs"], z["test_rows"]
    label_of = dict(zip(np.asarray(data.test.rows).tolist(), data.test.labels.tolist()))
    truth = np.array([label_of[int(r)] for r in rows])
    by_hand = float(np.mean(probs.argmax(1) == truth))
    assert by_hand == pytest.approx(json.loads((run / "metrics.json").read_text())
                                    ["test"]["accuracy"], abs=1e-12)
    table = tool.read_block(INTRO.read_text(), "results-at-a-glance")
    row = next(line for line in table.splitlines() if "(`best`)" in line)
    assert f"**{by_hand:.3f}**" in row


def test_viewed_row_equals_an_independent_count(data):
    """The default network over the view set with the best mean PublicTest accuracy (of
    ``best`` and it, in the stored table), counted by hand from its stored predictions."""
    import pandas as pd

    from fer_course.runs.registry import DEFAULT_NETWORK

    path = ROOT / "results" / "best" / "view_sets.csv"
    if not path.is_file():
        pytest.skip("no view sets scored")
    table = pd.read_csv(path)
    means = table[table["run"].isin(["best", DEFAULT_NETWORK])].groupby("views")[
        "public_accuracy"].mean()
    views = means.idxmax()
    if views == "mirror":
        pytest.skip("PublicTest keeps the mirror alone")
    with np.load(ROOT / "results" / "best" / DEFAULT_NETWORK / f"predictions.{views}.npz") as z:
        probs, rows = z["test_probs"], z["test_rows"]
    label_of = dict(zip(np.asarray(data.test.rows).tolist(), data.test.labels.tolist()))
    by_hand = float(np.mean(probs.argmax(1) == np.array([label_of[int(r)] for r in rows])))
    shown = tool.read_block(INTRO.read_text(), "results-at-a-glance")
    row = next(line for line in shown.splitlines() if f"`{views}` test-time views" in line)
    assert f"**{by_hand:.3f}**" in row and f"`{DEFAULT_NETWORK}`" in row


def test_paper_rows_are_the_papers_numbers():
    table = tool.read_block(INTRO.read_text(), "results-at-a-glance")
    paper = [line for line in table.splitlines() if line.startswith("| paper |")]
    # Table 5's best test accuracy (ResNeXt101-32x8d), the 13-network vote, the multitask net
    assert [re.findall(r"\| (0\.\d{3}) \|", line)[0] for line in paper] == [
        "0.708", "0.740", "0.659"]


def test_no_nan_and_links_resolve():
    text = INTRO.read_text()
    for name in tool.BLOCKS:
        block = tool.read_block(text, name)
        assert not re.search(r"\bnan\b", block, re.I), f"NaN in block {name}"
        for target in re.findall(r"\]\(([^)]+)\)", block):
            assert (INTRO.parent / target).is_file(), f"{target} is not a page of the book"


def test_missing_runs_read_not_stored_yet(tmp_path):
    blocks = tool.compute(tmp_path, data=None)  # an empty results folder: nothing stored
    table = blocks["results-at-a-glance"].splitlines()
    course = [line for line in table if line.startswith("| course")]
    assert len(course) == 5 and all(tool.NOT_STORED in line for line in course)
    assert "nan" not in blocks["results-at-a-glance"].lower()
    assert blocks["site-profile"].count(tool.NOT_STORED) == 2


def test_replace_block_keeps_the_rest():
    text = "intro\n" + "\n".join(tool.markers("x")) + "\nafter\n"
    out = tool.replace_block(text, "x", "| a |")
    assert out.startswith("intro\n") and out.endswith("\nafter\n")
    assert tool.read_block(out, "x") == "| a |"
    with pytest.raises(ValueError):
        tool.read_block("no markers", "x")
