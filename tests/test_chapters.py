"""Every chapter, executed once under papermill in the ``smoke`` profile (what CI and
instructors' batches do), then checked three ways:

- the injected parameters took effect and the run card reports them;
- each cell tagged ``nbval-check-output`` printed what the stored notebook shows
  (after the substitutions of ``tests/nbval_sanitize.cfg``), as nbval would check;
- the chapter's key numbers, which it writes to ``<runs_dir>/chapters/<chapter>.json``,
  say that it worked (a trained model beats chance, the loss is what it claims ...).

Executing each chapter once here replaces running it under nbval as well.

The chapters run one after the other in a background process from the end of collection
on (``tests/conftest.py`` starts them and moves these tests to the end of the run), so that
they use the second core while the unit tests use the first; ``FER_COURSE_TEST_BACKGROUND=0``
runs each chapter in the foreground, when its tests come.
"""

from __future__ import annotations

import configparser
import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
# The ensemble chapter trains three stand-in members in smoke; one epoch each is enough there.
# Chapter 6 pastes test faces into photos to measure the face detector: 60 faces (the number
# its min_neighbors comparison uses anyway) instead of 300 run the same code.
EXTRA_PARAMETERS = {"03_ensembles": {"standby_epochs": 1}, "06_your_face": {"detection_faces": 60}}
# Chapters that get a runs folder of their own: chapter 3 trains its stand-in members with
# other settings (1 epoch) under the names of chapter 2's runs. The others share one, as a
# reader's runs/smoke is shared: chapter 6 loads the resnet18 that chapter 2 trained and the
# multitask-lam1 of chapter 5 (same recipe, same data) instead of training them again; run
# alone (-k 06_your_face), it trains them itself.
OWN_RUNS_DIR = {"03_ensembles"}
BACKGROUND_ENV = "FER_COURSE_TEST_BACKGROUND"


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


CELL_TIMEOUT_S = 900  # a cell that runs longer has hung: fail it, never wait for CI's limit


def run_chapter(chapter: Path, base: Path,
                background: BackgroundChapters | None = None) -> tuple[Path, Path]:
    """Execute ``chapter`` under papermill in ``base/<chapter>``, its runs in the shared
    ``base/runs/smoke`` (or its own): the executed notebook and its runs folder. For the
    ``background`` runner, papermill runs as a child process (log in ``papermill.log``);
    a failed cell raises with the end of that log."""
    work = base / chapter.stem
    work.mkdir(parents=True, exist_ok=True)
    own = chapter.stem in OWN_RUNS_DIR
    runs_dir = work / "runs" / "smoke" if own else base / "runs" / "smoke"
    out = work / chapter.name
    parameters = {"profile": "smoke", "runs_dir": str(runs_dir),
                  **EXTRA_PARAMETERS.get(chapter.stem, {})}
    if "live_widgets = " in chapter.read_text():  # a widget cell can stall papermill
        parameters["live_widgets"] = False
    if background:
        log = work / "papermill.log"
        with log.open("w") as stream:
            background.process = subprocess.Popen(
                [sys.executable, "-m", "papermill", str(chapter), str(out), "--cwd", str(BOOK),
                 "--no-progress-bar", "-k", "python3", "-y", json.dumps(parameters),
                 "--execution-timeout", str(CELL_TIMEOUT_S)],
                stdout=stream, stderr=subprocess.STDOUT)
            code = background.process.wait()
        if code != 0:
            raise RuntimeError(f"papermill failed on {chapter.name} (exit {code}); "
                               f"the end of {log}:\n{log.read_text()[-4000:]}")
    else:
        papermill.execute_notebook(str(chapter), str(out), cwd=str(BOOK), progress_bar=False,
                                   kernel_name="python3", parameters=parameters,
                                   execution_timeout=CELL_TIMEOUT_S)
    return out, runs_dir


class BackgroundChapters:
    """The chapters that the selected tests need, executed one after the other (in book
    order: later chapters reuse the runs of earlier ones) by a thread that waits on one
    papermill child process at a time, while the unit tests run."""

    def __init__(self, chapters: list[Path], base: Path) -> None:
        self.chapters, self.base = chapters, base
        self.finished = {c.stem: threading.Event() for c in chapters}
        self.outcome: dict[str, tuple[Path, Path] | BaseException] = {}
        self.stopped = False
        self.process: subprocess.Popen | None = None
        self.thread = threading.Thread(target=self._run_all, name="chapters", daemon=True)

    def _run_all(self) -> None:
        for chapter in self.chapters:
            if self.stopped:
                self.outcome[chapter.stem] = RuntimeError("the test session ended first")
            else:
                try:
                    self.outcome[chapter.stem] = run_chapter(chapter, self.base, self)
                except BaseException as error:  # handed to the chapter's tests
                    self.outcome[chapter.stem] = error
            self.finished[chapter.stem].set()

    def result(self, chapter: Path) -> tuple[Path, Path]:
        self.finished[chapter.stem].wait()
        outcome = self.outcome[chapter.stem]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def stop(self) -> None:
        """At the end of the session (also after -x or Ctrl-C): no chapter starts, a running
        one is stopped (its kernel exits with papermill, its parent)."""
        self.stopped = True
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


BACKGROUND: BackgroundChapters | None = None


def start_in_background(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Called by tests/conftest.py once the tests are selected."""
    global BACKGROUND
    if os.environ.get(BACKGROUND_ENV, "1") == "0":
        return
    wanted = {item.callspec.params["executed"] for item in items
              if hasattr(item, "callspec") and "executed" in item.callspec.params}
    if wanted:
        base = config._tmp_path_factory.mktemp("chapters")  # noqa: SLF001 - pytest's own
        BACKGROUND = BackgroundChapters([c for c in CHAPTERS if c in wanted], base)
        BACKGROUND.thread.start()


def stop_background() -> None:
    if BACKGROUND is not None:
        BACKGROUND.stop()


@pytest.fixture(scope="module")
def foreground_base(tmp_path_factory):
    """Where chapters run in the foreground; their weights are deleted after the last."""
    base = tmp_path_factory.mktemp("chapters")
    yield base
    shutil.rmtree(base / "runs", ignore_errors=True)


@pytest.fixture(scope="module", params=CHAPTERS, ids=[c.stem for c in CHAPTERS])
def executed(request, foreground_base):
    chapter: Path = request.param
    if BACKGROUND is not None and chapter.stem in BACKGROUND.finished:
        out, runs_dir = BACKGROUND.result(chapter)
    else:
        out, runs_dir = run_chapter(chapter, foreground_base)
    numbers_file = runs_dir / "chapters" / f"{chapter.stem}.json"
    numbers = json.loads(numbers_file.read_text()) if numbers_file.is_file() else None
    if chapter.stem in OWN_RUNS_DIR:  # its weights go; what the checks read stays
        for weights in runs_dir.rglob("*.pt"):
            weights.unlink()
    return (nbformat.read(chapter, as_version=4), nbformat.read(out, as_version=4), numbers,
            runs_dir)


@pytest.fixture(scope="module", autouse=True)
def no_weights_left_behind():
    """After the last chapter: the shared runs' weights go (the background's too)."""
    yield
    if BACKGROUND is not None and all(e.is_set() for e in BACKGROUND.finished.values()):
        shutil.rmtree(BACKGROUND.base / "runs", ignore_errors=True)


def test_parameters_are_injected_and_reported(executed) -> None:
    source, result, _, _ = executed
    tagged = [c for c in source.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "profile = None" in tagged[0].source
    injected = [c for c in result.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'profile = "smoke"' in injected[0].source
    printed = "\n".join(text_of(c) for c in result.cells if c.cell_type == "code")
    assert "smoke" in printed and "run card" in printed


def test_checked_outputs_match_the_stored_ones(executed) -> None:
    source, result, _, _ = executed
    fresh_cells = [c for c in result.cells
                   if "injected-parameters" not in c.metadata.get("tags", [])]
    assert len(fresh_cells) == len(source.cells)
    code = [(a, b) for a, b in zip(source.cells, fresh_cells) if a.cell_type == "code"]
    checked = [(a, b) for a, b in code if "nbval-check-output" in a.metadata.get("tags", [])]
    for stored, fresh in checked:
        assert text_of(fresh) == text_of(stored), stored.source[:80]


def test_no_cell_printed_an_error(executed) -> None:
    _, result, _, _ = executed
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


@functools.cache
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
    "03_ensembles": lambda n: n["members"] >= 3,
    # the code of the paper's Table 2 (686 numbers)
    "04_autoencoder": lambda n: n["code_shape"] == [1, 686],
    # Eq. 5: the decoder's gradient is λ times the MSE's, so λ = 2 doubles it, λ = 0 has none
    "05_multitask": lambda n: n["lam"] == EXAMPLE_LAM and close(n["ce"], EXAMPLE_CE)
    and close(n["mse"], EXAMPLE_MSE) and close(n["loss"], EXAMPLE_CE + EXAMPLE_LAM * EXAMPLE_MSE)
    and abs(n["decoder_grad_ratio"] - 2.0) < 1e-3 and n["decoder_grad_at_zero"] == 0.0,
    # the maps' values are checked against Grad-CAM by hand in tests/test_gradcam.py; here:
    # one map per detected face, square, and different for different classes
    "06_your_face": lambda n: n["photo_faces"] == 1
    and all(abs(sum(p) - 1) < 1e-6 for p in n["face_probabilities"])
    and n["cam_shape"][0] == n["photo_faces"] and n["cam_shape"][1] == n["cam_shape"][2]
    and n["cam_spread"] > 0
    and n["haar_features_24"] == 162_336
    # windows of a 640x480 photo the cascade scans: arithmetic, the same in smoke
    and n["windows_640x480"] == 5_681_469,
    # the one-cycle peak after a fifth of the steps; every ablation run of the smoke
    # defaults, the full-length one against the chapter's own network, an ensemble of the
    # two smoke members and one with two seeds of the variant
    "07_beat_the_paper": lambda n: abs(n["lr_peak_step"] - 0.2 * n["lr_steps"]) <= 2
    and set(n["ablation"]) == {"(nothing: the full recipe)", "balance", "smoothing", "erasing",
                               "affine", "dropout"}
    and set(n["at_length"]) == {"(nothing: the full recipe)", "affine"}
    and abs(n["at_length"]["(nothing: the full recipe)"]["test accuracy"]
            - n["test_accuracy"]) < 1e-6
    and n["mixed_variants"] == 2  # best-no-affine and best-seed1-no-affine
    and n["mixed_members"] == n["ensemble_members"] + n["mixed_variants"]
    and n["mixed_low"] <= n["mixed_test"]
    and n["ensemble_test"] is not None and 0 <= n["prior_power"] <= 1
    and set(n["student_test"]) == {"best-distilled", "best-distilled-vote3",
                                   "best-distilled-vote3-views8"}
    # test-time views: a set of the library's, scored for the network and the chosen student
    and n["views_chosen"] in {"mirror", "shift1px", "shift2px", "scale3", "rotate3"}
    and len(n["views_test"]) == 2 and "best" in n["views_test"],
}


def test_key_numbers_say_the_chapter_worked(executed, request) -> None:
    _, _, numbers, runs_dir = executed
    stem = request.node.callspec.id
    assert numbers is not None, f"{stem} wrote no chapters/{stem}.json"
    assert KEY_NUMBER_CHECKS[stem](numbers), numbers
    for reported, recomputed in RECOMPUTED.get(stem, lambda n, r: [])(numbers, runs_dir):
        assert close(reported, recomputed), (stem, reported, recomputed)


def stored_accuracy(run: Path, split: str) -> float:
    """A run's accuracy on ``split``, from its saved probabilities and labels alone."""
    import numpy as np

    with np.load(run / "predictions.npz") as saved:
        return float((saved[f"{split}_probs"].argmax(1) == saved[f"{split}_labels"]).mean())


def soft_vote_accuracy(runs: list[Path]) -> float:
    """The test accuracy of the mean of the runs' saved probabilities (the soft vote),
    computed here from the files, not by the library."""
    import numpy as np

    probs, labels = [], None
    for run in runs:
        with np.load(run / "predictions.npz") as saved:
            probs.append(saved["test_probs"])
            labels = saved["test_labels"] if labels is None else labels
            assert np.array_equal(labels, saved["test_labels"]), run
    return float((np.mean(probs, axis=0).argmax(1) == labels).mean())


# Key numbers the chapter reports, recomputed here from the files its runs left: a chapter
# that reported a number other than its run's fails, whatever it says about itself.
def stored_scores(run: Path, split: str = "test") -> dict:
    """Accuracy, macro-F1 and per-class recall of a run's saved probabilities, by numpy."""
    import numpy as np

    with np.load(run / "predictions.npz") as saved:
        predicted, labels = saved[f"{split}_probs"].argmax(1), saved[f"{split}_labels"]
    recall, f1 = [], []
    for c in range(7):
        hits = np.sum((predicted == c) & (labels == c))
        r = hits / max(np.sum(labels == c), 1)
        p = hits / max(np.sum(predicted == c), 1)
        recall.append(r)
        f1.append(0.0 if r + p == 0 else 2 * r * p / (r + p))
    return {"accuracy": float(np.mean(predicted == labels)), "recall": recall,
            "macro_f1": float(np.mean(f1))}


def last_history(run: Path, column: str) -> float:
    import pandas as pd

    return float(pd.read_csv(run / "history.csv")[column].iloc[-1])


def untrained_autoencoder_mse() -> float:
    """The validation MSE of chapter 4's untrained 500-number autoencoder on the smoke
    data, computed here by the engine's evaluation of a freshly seeded network."""
    from fer_course.data.synthetic import make_synthetic_fer
    from fer_course.engine.autoencoder_task import AutoencoderTask
    from fer_course.engine.loop import evaluate
    from fer_course.profiles import get_profile
    from fer_course.runs.recipes import autoencoder_recipe

    profile = get_profile("smoke")
    data = make_synthetic_fer(*profile.synthetic_sizes, seed=profile.seed)
    task = AutoencoderTask(autoencoder_recipe(profile, "reconstruct", latent_dim=500))
    return float(evaluate(task, data.val.images, data.val.labels)["mse"])


def autoencoder_part_parameters() -> dict:
    from fer_course.models import build_autoencoder, count_parameters

    model = build_autoencoder(686)
    return {p: count_parameters(getattr(model, p)) for p in ("encoder", "decoder", "classifier")}


def smoke_test_majority_share() -> float:
    from fer_course.data.synthetic import make_synthetic_fer
    from fer_course.profiles import get_profile

    profile = get_profile("smoke")
    labels = make_synthetic_fer(*profile.synthetic_sizes, seed=profile.seed).test.labels
    return float(labels.bincount().max() / len(labels))


def photo_band_sum(band: list) -> int:
    """The pixel sum of chapter 6's eye band in matplotlib's Grace Hopper photo, by numpy."""
    import matplotlib.cbook
    import numpy as np

    from fer_course.faces.detect import load_gray

    photo = load_gray(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    x, y, w, h = band
    return int(photo[y:y + h, x:x + w].astype(np.int64).sum())


def chapter7_recomputed(n: dict, runs: Path) -> list:
    scores = stored_scores(runs / n["run"])
    pairs = [(n["test_accuracy"], scores["accuracy"]), (n["macro_f1"], scores["macro_f1"]),
             (n["disgust_recall"], scores["recall"][1])]
    names = {"(nothing: the full recipe)": f"best-e{n['ablation_epochs']}"}
    for ingredient, row in n["ablation"].items():
        run = names.get(ingredient, f"best-e{n['ablation_epochs']}-no-{ingredient}")
        pairs.append((row["test accuracy"], round(stored_accuracy(runs / run, "test"), 6)))
    for student, accuracy in n["student_test"].items():  # from each student's predictions
        pairs.append((accuracy, stored_accuracy(runs / student, "test")))
        # set against its network on labels alone: same epochs and seed, no teacher
        alone = json.loads((runs / n["student_alone"][student] / "metrics.json").read_text())
        mine = json.loads((runs / student / "metrics.json").read_text())["settings"]
        pairs.append((alone["settings"]["epochs"], mine["epochs"]))
        pairs.append((alone["settings"]["seed"], mine["seed"]))
        pairs.append((alone["settings"]["distill"], 0.0))
    if n["mixed_rule"] == "soft":
        pairs.append((n["mixed_test"], soft_vote_accuracy([runs / m for m in n["mixed_names"]])))
    if n["ensemble_rule"] == "soft":
        pairs.append((n["ensemble_test"],
                      soft_vote_accuracy([runs / m for m in n["member_names"]])))
    return pairs


RECOMPUTED = {
    "04_autoencoder": lambda n, runs: [
        (n["untrained_val_mse"], untrained_autoencoder_mse()),
        *[(n["mse_by_latent"][d]["val"], last_history(runs / f"autoencoder-{d}", "val_mse"))
          for d in n["mse_by_latent"]],
        # training lowered the error of the 500-number code below the untrained network's
        (float(last_history(runs / "autoencoder-500", "val_mse") < untrained_autoencoder_mse()),
         1.0),
        (n["frozen_test_accuracy"], stored_accuracy(runs / "frozen-classifier-1000", "test")),
        (n["majority_test_rate"], smoke_test_majority_share()),
        *[(n["parameters_by_part"][p], count) for p, count in
          autoencoder_part_parameters().items()]],
    "05_multitask": lambda n, runs: [
        (n["ablation"][lam]["test"], stored_accuracy(runs / f"multitask-lam{lam}", "test"))
        for lam in n["ablation"]],
    "06_your_face": lambda n, runs: [
        (n["band_sum"], photo_band_sum(n["band"])),
        (n["test_accuracy"], stored_accuracy(runs / n["run"], "test"))],
    "07_beat_the_paper": chapter7_recomputed,
    "02_backbones": lambda n, runs: [
        (n["test_accuracy"], stored_accuracy(runs / "resnet18", "test")),
        (n["val_accuracy"], stored_accuracy(runs / "resnet18", "val"))],
    "03_ensembles": lambda n, runs: [
        (n["soft_vote_all_test"], soft_vote_accuracy([runs / m for m in n["member_names"]])),
        (n["members"], len(n["member_names"]))],
}
