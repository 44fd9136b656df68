"""Every chapter, executed once under papermill in the ``smoke`` profile (what CI and
instructors' batches do), then checked three ways:

- the injected parameters took effect and the run card reports them;
- each cell tagged ``nbval-check-output`` printed what the stored notebook shows
  (after the substitutions of ``tests/nbval_sanitize.cfg``), as nbval would check;
- the chapter's key numbers, which it writes to ``<runs_dir>/chapters/<chapter>.json``,
  say that it worked (a trained model beats chance, the loss is what it claims ...).

Executing each chapter once here replaces running it under nbval as well.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
# the ensemble chapter trains three stand-in members in smoke; one epoch each is enough there
EXTRA_PARAMETERS = {"03_ensembles": {"standby_epochs": 1}}


def sanitizers() -> list[tuple[re.Pattern, str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / "tests" / "nbval_sanitize.cfg")
    return [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]


def text_of(cell) -> str:
    """What a code cell printed or displayed as text, sanitised."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(out["data"]["text/plain"])
    text = "".join("".join(p) if isinstance(p, list) else p for p in parts)
    for pattern, replacement in sanitizers():
        text = pattern.sub(replacement, text)
    return text.strip()


@pytest.fixture(scope="module", params=CHAPTERS, ids=[c.stem for c in CHAPTERS])
def executed(request, tmp_path_factory):
    chapter: Path = request.param
    work = tmp_path_factory.mktemp(chapter.stem)
    runs_dir = work / "runs" / "smoke"
    out = work / chapter.name
    parameters = {"profile": "smoke", "runs_dir": str(runs_dir),
                  **EXTRA_PARAMETERS.get(chapter.stem, {})}
    papermill.execute_notebook(str(chapter), str(out), cwd=str(BOOK), progress_bar=False,
                               kernel_name="python3", parameters=parameters)
    numbers_file = runs_dir / "chapters" / f"{chapter.stem}.json"
    numbers = json.loads(numbers_file.read_text()) if numbers_file.is_file() else None
    shutil.rmtree(runs_dir)  # the weights of its runs: the checks need only what is read
    return (nbformat.read(chapter, as_version=4), nbformat.read(out, as_version=4), numbers)


def test_parameters_are_injected_and_reported(executed) -> None:
    source, result, _ = executed
    tagged = [c for c in source.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "profile = None" in tagged[0].source
    injected = [c for c in result.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'profile = "smoke"' in injected[0].source
    printed = "\n".join(text_of(c) for c in result.cells if c.cell_type == "code")
    assert "smoke" in printed and "run card" in printed


def test_checked_outputs_match_the_stored_ones(executed) -> None:
    source, result, _ = executed
    fresh_cells = [c for c in result.cells
                   if "injected-parameters" not in c.metadata.get("tags", [])]
    assert len(fresh_cells) == len(source.cells)
    code = [(a, b) for a, b in zip(source.cells, fresh_cells) if a.cell_type == "code"]
    checked = [(a, b) for a, b in code if "nbval-check-output" in a.metadata.get("tags", [])]
    for stored, fresh in checked:
        assert text_of(fresh) == text_of(stored), stored.source[:80]


def test_no_cell_printed_an_error(executed) -> None:
    _, result, _ = executed
    for cell in result.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", cell.source[:80]


KEY_NUMBER_CHECKS = {
    "01_data": lambda n: n["counts"]["train"] > 0 and n["classes"] == 7,
    "02_backbones": lambda n: n["test_accuracy"] > n["chance"],
    "03_ensembles": lambda n: n["members"] >= 3 and n["curve_matches_ensemble"],
    "04_autoencoder": lambda n: n["mse_fell"] and n["layer_table_ok"],
    "05_multitask": lambda n: abs(n["loss"] - (n["ce"] + n["lam"] * n["mse"])) < 1e-5
    and n["decoder_grad_scales_with_lambda"],
    "06_your_face": lambda n: n["photo_faces"] == 1 and n["probabilities_sum_to_one"]
    and n["cam_min"] == 0.0 and n["cam_max"] == 1.0 and n["cam_changes_with_target"]
    and n["haar_features_24"] == 162_336 and n["box_sum_matches"],
}


def test_key_numbers_say_the_chapter_worked(executed, request) -> None:
    _, _, numbers = executed
    stem = request.node.callspec.id
    assert numbers is not None, f"{stem} wrote no chapters/{stem}.json"
    assert KEY_NUMBER_CHECKS[stem](numbers), numbers
