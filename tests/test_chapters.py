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
import math
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


# Chapter 5's worked example of Eq. 3 (cell "logits = torch.tensor([[2.0, 0.5, -1.0], ...")
# by hand: logits [2, 0.5, -1] with label 0 and [0, 1, 0] with label 2; reconstruction
# errors 0.5, 0, -0.5, 1, 0, 0, 0.5, -0.5; lambda 0.5.
EXAMPLE_CE = ((math.log(math.exp(2) + math.exp(0.5) + math.exp(-1)) - 2)
              + math.log(2 + math.e)) / 2  # 0.896378...
EXAMPLE_MSE = (0.25 + 0 + 0.25 + 1 + 0 + 0 + 0.25 + 0.25) / 8  # 0.25
EXAMPLE_LAM = 0.5


def smoke_data_numbers() -> dict:
    """What chapter 1 must report for the smoke profile's data, computed here from the
    profile's synthetic sizes: the split sizes and the test accuracy of always answering
    the most common training class."""
    from fer_course.data.synthetic import make_synthetic_fer
    from fer_course.profiles import get_profile

    profile = get_profile("smoke")
    data = make_synthetic_fer(*profile.synthetic_sizes, seed=profile.seed)
    majority = max(range(7), key=lambda c: data.train.class_counts()[c])
    test_labels = data.test.labels.tolist()
    return {"counts": dict(zip(("train", "val", "test"), profile.synthetic_sizes)),
            "majority_rate_test": test_labels.count(majority) / len(test_labels)}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


KEY_NUMBER_CHECKS = {
    "01_data": lambda n: n["classes"] == 7
    and n["counts"] == smoke_data_numbers()["counts"]
    and close(n["majority_rate_test"], smoke_data_numbers()["majority_rate_test"]),
    "02_backbones": lambda n: n["test_accuracy"] > n["chance"],
    "03_ensembles": lambda n: n["members"] >= 3 and n["curve_matches_ensemble"],
    "04_autoencoder": lambda n: n["mse_fell"] and n["layer_table_ok"],
    "05_multitask": lambda n: n["lam"] == EXAMPLE_LAM and close(n["ce"], EXAMPLE_CE)
    and close(n["mse"], EXAMPLE_MSE) and close(n["loss"], EXAMPLE_CE + EXAMPLE_LAM * EXAMPLE_MSE)
    and n["decoder_grad_scales_with_lambda"],
    # the maps' values are checked against Grad-CAM by hand in tests/test_gradcam.py; here:
    # one map per detected face, square
    "06_your_face": lambda n: n["photo_faces"] == 1 and n["probabilities_sum_to_one"]
    and n["cam_shape"][0] == n["photo_faces"] and n["cam_shape"][1] == n["cam_shape"][2]
    and n["cam_changes_with_target"]
    and n["haar_features_24"] == 162_336 and n["box_sum_matches"],
}


def test_key_numbers_say_the_chapter_worked(executed, request) -> None:
    _, _, numbers = executed
    stem = request.node.callspec.id
    assert numbers is not None, f"{stem} wrote no chapters/{stem}.json"
    assert KEY_NUMBER_CHECKS[stem](numbers), numbers
