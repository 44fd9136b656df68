"""Every chapter runs under papermill with injected parameters (what instructors' batches do)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_has_parameters_and_runs_with_them(chapter: Path, tmp_path: Path) -> None:
    source = nbformat.read(chapter, as_version=4)
    tagged = [c for c in source.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged 'parameters'"
    assert "profile = None" in tagged[0].source

    out = tmp_path / chapter.name
    papermill.execute_notebook(str(chapter), str(out), parameters={"profile": "smoke"},
                               cwd=str(BOOK), progress_bar=False, kernel_name="python3")
    executed = nbformat.read(out, as_version=4)
    injected = [c for c in executed.cells
                if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'profile = "smoke"' in injected[0].source
    text = "\n".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))
    assert "profile   smoke" in text  # the run card reports the injected profile
