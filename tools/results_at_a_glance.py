"""The intro's generated blocks: what the site shows, and the results at a glance.

Every number comes from the runs committed in ``results/`` (read through
``fer_course.runs.RunStore``, never a local ``runs/`` folder) or from the paper's numbers in
``fer_course.paper``. Accuracies are recomputed from the committed predictions (the
labels are joined back from FER-2013 by csv row), with the chapters' own functions: the
ensembles are chosen on PublicTest as chapters 3 and 7 choose them. A run that is not
stored yet gives a "not stored yet" cell.

    python tools/results_at_a_glance.py --data data/fer2013.npz           # rewrite intro.md
    python tools/results_at_a_glance.py --data data/fer2013.npz --check   # exit 1 if stale

``tests/test_intro.py`` fails while the blocks in ``book/intro.md`` differ from what this
tool computes now.

>>> text = "<!-- begin generated: x -->\\nold\\n<!-- end generated: x -->"
>>> replace_block(text, "x", "new").splitlines()[1]
'new'
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fer_course.analysis import best_report, ensemble_report, view_report
from fer_course.analysis.ensemble import EnsembleMembers
from fer_course.paper import PAPER_BEST_ENSEMBLE, PAPER_MULTITASK, PAPER_TABLE5
from fer_course.runs import REGISTRY, RunCard, RunStore
from fer_course.runs.folder import RunFolder
from fer_course.runs.recipes import data_fingerprint
from fer_course.runs.registry import (
    DEFAULT_NETWORK,
    RECIPE_SEEDS,
    VOTE_VARIANTS,
    variant_pool,
)
from fer_course.runs.teachers import TEACHERS, targets_path, targets_seconds

INTRO = Path(__file__).resolve().parents[1] / "book" / "intro.md"
BLOCKS = ("site-profile", "results-at-a-glance")
NOT_STORED = "not stored yet"
CHAPTERS = {2: ("02_backbones.ipynb", "Chapter 2"), 3: ("03_ensembles.ipynb", "Chapter 3"),
            5: ("05_multitask.ipynb", "Chapter 5"), 7: ("07_beat_the_paper.ipynb", "Chapter 7")}
KIND_NAMES = {"BackboneRecipe": "backbones", "reconstruct": "autoencoder alone",
              "classify_frozen": "frozen-code classifier", "multitask": "multitask network",
              "BestRecipe": "the course's recipe"}
# chapter 7's distilled networks: the registry's runs taught by a teacher
STUDENTS = tuple(name for name, spec in REGISTRY.items() if "teacher" in spec.options)
ARCH_NAMES = {"resnet18": "ResNet18", "resnet34": "ResNet34", "resnet50": "ResNet50",
              "densenet121": "DenseNet121", "densenet169": "DenseNet169",
              "resnext50_32x4d": "ResNeXt50-32x4d", "resnext101_32x8d": "ResNeXt101-32x8d"}


def markers(name: str) -> tuple[str, str]:
    """The two HTML comments around generated block ``name`` of intro.md.

    >>> markers("x")[1]
    '<!-- end generated: x -->'
    """
    return f"<!-- begin generated: {name} -->", f"<!-- end generated: {name} -->"


def read_block(text: str, name: str) -> str:
    """The text between the markers of block ``name`` (each must occur exactly once).

    >>> read_block("<!-- begin generated: x -->\\nrow\\n<!-- end generated: x -->", "x")
    'row'
    """
    begin, end = markers(name)
    if text.count(begin) != 1 or text.count(end) != 1:
        raise ValueError(f"intro.md must hold {begin!r} and {end!r} exactly once each")
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def replace_block(text: str, name: str, block: str) -> str:
    """``text`` with the content of block ``name`` replaced by ``block``."""
    read_block(text, name)  # checks the markers
    begin, end = markers(name)
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: f"{begin}\n{block}\n{end}", text)


def training_minutes(run: RunFolder) -> float:
    """Minutes a run trained: its run card's wall time, or the sum of its epochs' seconds
    in ``history.csv`` where that is larger (the card of a run resumed by an older
    version of the engine counts its last process only)."""
    return run.training_seconds() / 60


def device_of(run: RunFolder) -> str:
    """The device named in the run card (``cpu (2 cores, AMD EPYC)``)."""
    return str(RunCard.load(run.file(RunFolder.CARD)).device)


@dataclass(frozen=True)
class Row:
    """One line of the table: who, how, PrivateTest accuracy, its interval, cost, chapter."""

    who: str
    how: str
    accuracy: str
    interval: str
    cost: str
    chapter: int

    def cells(self) -> list[str]:
        page, title = CHAPTERS[self.chapter]
        return [self.who, self.how, self.accuracy, self.interval, self.cost,
                f"[{title}]({page})"]


def course_row(who: str, how: str, correct: np.ndarray | None, minutes: float | None,
               device: str, chapter: int) -> Row:
    """A row for the course: accuracy of per-face ``correct`` with its bootstrap interval
    (``best_report.accuracy_interval``), or "not stored yet" when ``correct`` is None."""
    if correct is None:
        return Row(who, how, NOT_STORED, "—", "—", chapter)
    acc, low, high = best_report.accuracy_interval(correct)
    cost = f"{minutes:.0f} min on {device}" if minutes is not None else ""
    return Row(who, how, f"**{acc:.3f}**", f"{low:.3f} to {high:.3f}", cost, chapter)


def paper_rows() -> list[Row]:
    """The paper's three headline results (no intervals reported)."""
    arch = max(PAPER_TABLE5, key=lambda a: PAPER_TABLE5[a][2])
    return [
        Row("paper", f"best single backbone ({ARCH_NAMES.get(arch, arch)}): ImageNet "
            "weights, 224 px, 30 epochs", f"{PAPER_TABLE5[arch][2]:.3f}", "not reported",
            "a GPU", 2),
        Row("paper", f"majority vote of {PAPER_BEST_ENSEMBLE['members']} backbones, chosen "
            "on PrivateTest itself", f"{PAPER_BEST_ENSEMBLE['test']:.3f}", "not reported",
            "a GPU", 3),
        Row("paper", f"multitask network (latent {PAPER_MULTITASK['latent_dim']})",
            f"{PAPER_MULTITASK['test']:.3f}", "not reported", "a GPU", 5),
    ]


def _labels(run: RunFolder, data: Any) -> dict[str, np.ndarray]:
    return run.read_predictions(data)


def backbone_rows(store: RunStore, data: Any) -> list[Row]:
    """Chapter 2's best backbone (by PublicTest) and chapter 3's ensemble, cpu profile."""
    runs = store.all(setting="arch")
    if runs and data is not None:  # a FER+ run votes on other labels: not a member
        runs = [r for r in runs if r.read_settings().get("data_fingerprint")
                == data_fingerprint(data)]
    if not runs:
        return [course_row("course, `cpu`", "best backbone on PublicTest", None, None, "", 2),
                course_row("course, `cpu`", "ensemble of the backbones", None, None, "", 3)]
    members = EnsembleMembers.from_runs(runs, data)
    single = int(np.argmax(members.accuracies("val")))
    settings = runs[single].read_settings()
    arch = ARCH_NAMES.get(settings["arch"], settings["arch"])
    rows = [course_row(
        "course, `cpu`", f"best of {len(runs)} backbone runs on PublicTest "
        f"(`{runs[single].name}`, {arch}): random weights, {settings['image_size']} px, "
        f"{settings['epochs']} epochs", members.test_probs[single].argmax(-1)
        == members.test_labels, training_minutes(runs[single]), device_of(runs[single]), 2)]
    if len(runs) < 3:  # chapter 3's min_members
        rows.append(course_row("course, `cpu`", "ensemble of the backbones", None, None, "", 3))
        return rows
    choice = ensemble_report.best_on_validation(members, seed=0)
    chosen = [runs[i] for i in choice.members]
    rows.append(course_row(
        "course, `cpu`", f"{choice.rule} vote of the top {choice.k} of {len(runs)} backbone "
        "runs, rule and k chosen on PublicTest",
        choice.predictions(members, "test", seed=0) == members.test_labels,
        sum(training_minutes(r) for r in chosen), device_of(chosen[0]), 3))
    return rows


def multitask_row(store: RunStore, data: Any) -> Row:
    """Chapter 5's multitask network (``multitask-lam1``), cpu profile."""
    run = store.find("multitask-lam1")
    if run is None:
        return course_row("course, `cpu`", "multitask network", None, None, "", 5)
    p, s = _labels(run, data), run.read_settings()
    return course_row("course, `cpu`", f"multitask network (latent {s['latent_dim']}, "
                      f"λ = {s['lam']:g}): random weights, 48 px, {s['epochs']} epochs",
                      p["test_probs"].argmax(1) == p["test_labels"], training_minutes(run),
                      device_of(run), 5)


def best_rows(store: RunStore, data: Any) -> list[Row]:
    """Chapter 7: the ``best`` network, its distilled student (where stored), the vote of
    all its stored seeds, and that of the seeds with the stored runs without affine moves
    and the other variants that raise its PublicTest vote (chapter 7's second pool)."""
    run = store.find("best")
    if run is None:
        rows = [course_row("course, `best`", "the course's own network", None, None, "", 7)]
    else:
        p, s = _labels(run, data), run.read_settings()
        rows = [course_row("course, `best`", f"the course's own network (`best`): random "
                           f"weights, {s['image_size']} px, {s['epochs']} epochs",
                           p["test_probs"].argmax(1) == p["test_labels"],
                           training_minutes(run), device_of(run), 7)]
    for name in STUDENTS:
        student = store.find(name)
        if student is not None:
            rows.append(student_row(store, student, data))
            if name == DEFAULT_NETWORK and (viewed := viewed_row(store, student, data)):
                rows.append(viewed)
    found = {name: r for name in RECIPE_SEEDS if (r := store.find(name)) is not None}
    if len(found) < 2:
        rows.append(course_row("course, `best`", f"vote of the recipe's seeds ({len(found)} "
                               f"of {len(RECIPE_SEEDS)} stored)", None, None, "", 7))
        return rows
    variants = {name: r for name in variant_pool() if (r := store.find(name)) is not None}
    runs = {**found, **variants}
    predictions = {n: _labels(r, data) for n, r in runs.items()}  # read once for both votes
    rows.append(vote_row({n: predictions[n] for n in found}, runs,
                         f"vote of the recipe's {len(found)} stored seeds"))
    joined = []  # as chapter 7 decides: a member joins if the vote of all gains
    for name in VOTE_VARIANTS if variants else ():
        if (other := store.find(name)) is not None:
            p = _labels(other, data)
            before = {n: q["val_probs"] for n, q in predictions.items()}
            labels = p["val_labels"]
            if (best_report.vote_accuracy({**before, name: p["val_probs"]}, labels)
                    > best_report.vote_accuracy(before, labels)):
                predictions[name], runs[name] = p, other
                joined.append(f"`{name}`")
    if variants:
        parts = [f"the {len(found)} seeds", f"{len(variants)} run"
                 f"{'s' if len(variants) > 1 else ''} without affine moves", *joined]
        rows.append(vote_row(predictions, runs, f"vote of {', '.join(parts[:-1])} and "
                             f"{parts[-1]}"))
    return rows


def student_row(store: RunStore, student: RunFolder, data: Any) -> Row:
    """A distilled student, its training minutes counted with its teacher's (the summed
    minutes of the vote's members, ``runs.teachers.TEACHERS``)."""
    p, s = _labels(student, data), student.read_settings()
    members = [store.find(name) for name in TEACHERS[s["teacher"]]]
    teacher = sum(m.training_seconds() / 60 for m in members if m is not None)
    who = (f"`{s['teacher']}`" if len(members) == 1 else
           f"the vote of {', '.join(f'`{n}`' for n in TEACHERS[s['teacher']])}")
    how, views, extra = "through stored probabilities", s.get("teacher_views") or 0, ""
    if views:  # consistent teaching: the answers on the views cost minutes of their own
        answers = targets_path(s["teacher"], "best", views)
        teacher += (targets_seconds(answers) or 0) / 60 if answers.is_file() else 0
        how = f"through its stored answers on {views} views of each face, as the student sees them"
        extra = " (its answers on the views included)"
    shipped = ("; the course's default network, the shipped one best on PublicTest"
               if student.path.name == DEFAULT_NETWORK else "")
    return course_row(
        "course, `best`", f"the distilled student (`{student.path.name}`): the same network, "
        f"{s['epochs']} epochs, taught by {who} {how} "
        f"(α = {s['distill']:g}, T = {s['temperature']:g}); training time its own plus its "
        f"teacher's {teacher:.0f} min{extra}{shipped}",
        p["test_probs"].argmax(1) == p["test_labels"],
        training_minutes(student) + teacher, device_of(student), 7)


def viewed_row(store: RunStore, student: RunFolder, data: Any) -> Row | None:
    """The default network over the test-time views chapter 7 chooses on PublicTest
    (``view_report.chosen_views`` of ``best`` and that network in the stored table), where
    the set is more than the mirror and its predictions are stored."""
    table = store.results_dir / view_report.TABLE
    if not table.is_file():
        return None
    scored = pd.read_csv(table)
    scored = scored[scored["run"].isin(["best", student.path.name])]
    if scored.empty:
        return None
    views = view_report.chosen_views(scored)
    if views == "mirror" or not student.file(RunFolder.predictions_name(views)).is_file():
        return None
    p, own = student.read_predictions(data, views=views), student_row(store, student, data)
    passes = view_report.passes_of(scored, views)
    row = course_row("course, `best`", f"the default network (`{student.path.name}`) over the "
                     f"`{views}` test-time views chosen on PublicTest ({passes} forward passes "
                     "per face instead of 2; no training)",
                     p["test_probs"].argmax(1) == p["test_labels"], None, "", 7)
    return replace(row, cost=own.cost)


def vote_row(predictions: dict[str, dict[str, Any]], runs: dict[str, Any], what: str) -> Row:
    """The vote of the runs whose ``predictions`` are given (the rule chosen on PublicTest
    by ``best_report.seed_ensembles``, as chapter 7 does), with their summed minutes."""
    first = next(iter(predictions.values()))  # the same faces, in the same order, for all
    val_labels, test_labels = first["val_labels"], first["test_labels"]
    seeds = best_report.seed_ensembles({n: p["val_probs"] for n, p in predictions.items()},
                                       {n: p["test_probs"] for n, p in predictions.items()},
                                       val_labels, test_labels)
    voters = [runs[n] for n in predictions]
    return course_row(
        "course, `best`", f"{seeds.all_rule} {what} (rule chosen on PublicTest)",
        seeds.all_predicted == test_labels, sum(training_minutes(r) for r in voters),
        device_of(voters[0]), 7)


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    head = ["", "what", "PrivateTest accuracy", "95 % interval", "training", "chapter"]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---"] * len(head)) + " |"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def results_block(results_dir: Path, data: Any) -> str:
    """The results-at-a-glance table from the runs stored under ``results_dir``."""
    with tempfile.TemporaryDirectory() as empty:  # never a local runs/ folder
        cpu = RunStore("cpu", runs_dir=Path(empty) / "cpu", results_dir=results_dir / "cpu")
        best = RunStore("best", runs_dir=Path(empty) / "best", results_dir=results_dir / "best")
        rows = [*paper_rows(), *backbone_rows(cpu, data), multitask_row(cpu, data),
                *best_rows(best, data)]
    return markdown_table(rows)


def _span(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.0f} minutes" if round(low) == round(high) else f"{low:.0f} to {high:.0f} minutes"


def distinct_devices(names: Any) -> list[str]:
    """The devices, each once: a name that another one only details (the same CPU with
    its family and model numbers, recorded by a later version) is dropped.

    >>> distinct_devices(["cpu (2 cores, AMD EPYC)",
    ...                   "cpu (2 cores, AMD EPYC (family 25, model 17))"])
    ['cpu (2 cores, AMD EPYC (family 25, model 17))']
    """
    names = sorted(set(names))
    return [n for n in names
            if not any(o != n and o.startswith(n.removesuffix(")")) for o in names)]


def profile_block(results_dir: Path) -> str:
    """What the site shows: the stored runs per profile, their size, device and minutes."""
    lines = []
    for profile in ("cpu", "best"):
        folders = [results_dir / profile, results_dir / f"{profile}-ablation"]
        runs = [RunFolder(p) for f in folders if f.is_dir() for p in sorted(f.iterdir())
                if RunFolder(p).is_finished()]
        if not runs:
            lines.append(f"- `{profile}`: {NOT_STORED}.")
            continue
        minutes = [training_minutes(r) for r in runs]
        settings = [r.read_settings() for r in runs]
        epochs = sorted({int(s["epochs"]) for s in settings})
        by_kind: dict[str, set[int]] = {}
        for s in settings:
            by_kind.setdefault(KIND_NAMES.get(s.get("task", s.get("recipe")), "other runs"),
                               set()).add(int(s["epochs"]))
        per_kind = ", ".join(f"{kind} {'/'.join(map(str, sorted(e)))}"
                             for kind, e in by_kind.items())
        sizes = sorted({int(s.get("image_size", 48)) for s in settings})
        weights = sorted({str(s.get("weights")) for s in settings})
        devices = distinct_devices(device_of(r) for r in runs)
        start = "random weights" if weights == ["None"] else f"weights {', '.join(weights)}"
        lines.append(
            f"- `{profile}`: {len(runs)} runs on FER-2013's "
            f"{settings[0]['data_counts']['train']:,} training faces at "
            f"{'/'.join(map(str, sizes))} px, from {start}, "
            f"{' to '.join(map(str, sorted({epochs[0], epochs[-1]})))} epochs ({per_kind}); "
            "trained on "
            f"{' and '.join(devices)} in {_span(minutes)} each, "
            f"{sum(minutes) / 60:.1f} hours in all.")
    return "\n".join(lines)


def compute(results_dir: Path, data: Any) -> dict[str, str]:
    """Every generated block of intro.md, by name."""
    return {"site-profile": profile_block(results_dir),
            "results-at-a-glance": results_block(results_dir, data)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("FER2013_PATH"),
                        help="FER-2013 (csv, npz or folder); default $FER2013_PATH")
    parser.add_argument("--results", type=Path, default=None,
                        help="the results folder (default: the repository's results/)")
    parser.add_argument("--intro", type=Path, default=INTRO)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when intro.md is out of date")
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("the accuracies need FER-2013's labels: pass --data or set FER2013_PATH")
    from fer_course.data import load_fer2013
    from fer_course.runs.store import results_root

    data = load_fer2013(args.data)
    blocks = compute(args.results or results_root(), data)
    text = args.intro.read_text()
    new = text
    for name, block in blocks.items():
        new = replace_block(new, name, block)
    if args.check:
        print("up to date" if new == text else f"{args.intro} is out of date")
        return 0 if new == text else 1
    args.intro.write_text(new)
    print("\n\n".join(blocks.values()))
    return 0


__all__ = ["BLOCKS", "NOT_STORED", "compute", "markers", "read_block", "replace_block",
           "training_minutes"]

if __name__ == "__main__":
    sys.exit(main())
