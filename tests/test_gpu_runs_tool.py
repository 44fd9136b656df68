"""tools/gpu_runs.py, the one call a lent GPU gets, as a dry run on the CPU: it measures,
trains until its budget stops it, and packs what it made."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from tool_scripts import load_tool  # tests/tool_scripts.py (pytest puts tests/ on the path)


def test_a_smoke_dry_run_measures_trains_and_packs_within_its_budget(tmp_path: Path) -> None:
    load_tool("gpu_runs").main(["--smoke", "--out", str(tmp_path), "--budget-s", "45"])
    rows = json.loads((tmp_path / "throughput.json").read_text())["rows"]
    assert rows and all(r["pipeline"] > 0 and r["ceiling"] > 0 for r in rows)
    log = (tmp_path / "log.txt").read_text()
    # finished or stopped by the budget, as the machine's load decides: attempted either way
    assert "multitask-lam1: " in log and "packed" not in log  # logged before packing
    with tarfile.open(tmp_path / "gpu-results.tar.gz") as tar:
        names = tar.getnames()
    assert "throughput.json" in names and "log.txt" in names


def test_named_runs_train_instead_and_keep_the_recipes_weights(tmp_path: Path) -> None:
    # a smoke run takes seconds; the budget is only a ceiling, set wide for a loaded machine
    load_tool("gpu_runs").main(["--smoke", "--out", str(tmp_path), "--budget-s", "300",
                                "--runs", "best-seed5"])
    log = (tmp_path / "log.txt").read_text()
    assert "best-seed5: test " in log and "multitask" not in log
    assert (tmp_path / "results" / "smoke" / "best-seed5" / "weights.pt").is_file()
