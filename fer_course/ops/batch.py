"""Run one chapter notebook over many models with papermill, one submitit job per model.

Each job executes the notebook with ``profile``, ``arch=<model>``, ``runs_dir=<out>/runs``
(plus ``data_path`` and any extra parameters) into ``<out>/notebooks/<model>.ipynb``. A
model whose run folder ``<out>/runs/<model>/`` is finished is skipped; a failed job is
recorded and the others go on. ``<out>/summary.csv`` lists every model's outcome. The
parameters each run was made with are kept in ``<out>/parameters/<model>.json``: a run
made with other ones, or whose recorded recipe is not the one the registry makes of its
model now (``changed_identity``), is moved to ``<out>/stale/`` and made again, not
skipped. While the jobs run, the batch prints one timestamped line per event (start, state change, a
heartbeat with the epoch for long jobs, end), see :mod:`fer_course.ops.progress`. The jobs
run on this machine (``--cluster local``: one per GPU, or one after another) or as a SLURM
job array (``--cluster slurm``), see :mod:`fer_course.ops.cluster`.

    python -m fer_course batch book/02_backbones.ipynb --profile paper \\
        --models resnet18,vgg11 --out batch --gpus 0,1 -p epochs 10
    python -m fer_course batch book/02_backbones.ipynb --profile paper --out batch \\
        --cluster slurm --partition gpu --time 4:00:00 --array-parallelism 8

>>> parse_value("2"), parse_value("null"), parse_value("1e-3"), parse_value("imagenet")
(2, None, 0.001, 'imagenet')
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nbformat

from fer_course.atomic import atomic_write_json, atomic_write_text
from fer_course.ops.chapter_job import ChapterJob
from fer_course.ops.cluster import CLUSTERS, SlurmOptions, make_executor, run_jobs, slurm_options
from fer_course.ops.progress import HEARTBEAT_S, Progress, duration, print_flush, stamped
from fer_course.runs.folder import RunFolder

COLUMNS = ["model", "status", "seconds", "train_acc", "val_acc", "test_acc", "notebook", "error"]
SKIPPED = "skipped (finished)"
POLL_S = {"local": 5.0, "slurm": 10.0, "debug": 1.0}  # seconds between looks at running jobs
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_value(text: str) -> Any:
    """``text`` read as json (numbers, ``null``, ``true``, lists) if it is json, else as is.

    >>> parse_value("true"), parse_value("[1, 2]"), parse_value("runs/x")
    (True, [1, 2], 'runs/x')
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def split_list(text: str | None) -> list[str] | None:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; ``None`` stays ``None``."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def check_notebook(path: str | os.PathLike) -> set[str] | None:
    """Fail early unless ``path`` is a notebook with a cell tagged ``parameters``.

    Returns the names assigned in that cell, or ``None`` if its source does not parse.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"notebook not found: {path}")
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not tagged:
        raise ValueError(f"{path} has no cell tagged 'parameters': papermill would inject the "
                         "batch's parameters above every cell instead of overriding its defaults")
    try:
        tree = ast.parse(tagged[0].source)
    except SyntaxError:
        return None
    names: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def read_accuracies(run: RunFolder) -> dict[str, float | None]:
    """``train_acc``, ``val_acc``, ``test_acc`` (and ``seconds``) from a finished run."""
    metrics = run.read_metrics()
    out: dict[str, float | None] = {
        f"{split}_acc": (metrics.get(split) or {}).get("accuracy")
        for split in ("train", "val", "test")
    }
    out["seconds"] = metrics.get("wall_time_s")
    return out


def changed_parameters(recorded: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    """How ``wanted`` differs from the ``recorded`` parameters of a run (``None``: no record,
    nothing to compare); ``runs_dir`` is left out, so a moved batch folder is no change.

    >>> changed_parameters({"epochs": 2, "arch": "vgg11"}, {"epochs": 3, "arch": "vgg11",
    ...                    "lr": 0.1, "runs_dir": "b/runs"})
    ['epochs 2 -> 3', 'lr unset -> 0.1']
    """
    if recorded is None:
        return []
    wanted = json.loads(json.dumps(without_runs_dir(wanted)))  # tuples read back as lists
    recorded = without_runs_dir(recorded)

    def shown(d: dict[str, Any], key: str) -> str:
        return json.dumps(d[key]) if key in d else "unset"

    keys = sorted(set(recorded) | set(wanted))
    return [f"{key} {shown(recorded, key)} -> {shown(wanted, key)}" for key in keys
            if recorded.get(key, ...) != wanted.get(key, ...)]


def changed_identity(model: str, parameters: dict[str, Any], run: RunFolder) -> list[str]:
    """How the finished ``run`` of batch model ``model`` differs from the run its job would
    make now: the registry's recipe of ``model`` under the job's profile and the
    parameters that are profile fields, against the recipe the run recorded. A model the
    registry does not name, or a run that recorded no recipe, gives ``[]`` (nothing to
    compare).

    >>> changed_identity("no such model!", {}, RunFolder("nowhere"))
    []
    """
    from dataclasses import fields

    from fer_course.profiles import Profile, get_profile
    from fer_course.runs.registry import registry_mismatch, run_spec

    try:
        spec = run_spec(model)
    except ValueError:
        return []
    settings = run.read_settings()
    if not settings:
        return []
    names = {f.name for f in fields(Profile)} - {"name"}
    overrides = {k: v for k, v in parameters.items() if k in names and v is not None}
    profile = spec.profile_under(get_profile(parameters.get("profile"), **overrides))
    diff = registry_mismatch(spec, profile, settings)
    return [f"{key} {json.dumps(old)} -> {json.dumps(new)}" for key, (old, new) in diff.items()]


def without_runs_dir(parameters: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parameters.items() if k != "runs_dir"}


def read_record(path: Path) -> dict[str, Any] | None:
    """The parameters recorded at ``path`` (``None``: no record, or not a readable one)."""
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def set_aside(folder: Path, stale: Path) -> Path:
    """Move ``folder`` to ``stale/<name>-<date>-<time>`` (numbered if that is taken)."""
    target = stale / f"{folder.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while target.exists():
        n += 1
        target = target.with_name(f"{folder.name}-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    stale.mkdir(parents=True, exist_ok=True)
    return Path(shutil.move(str(folder), str(target)))


def run_batch(notebook: str | os.PathLike, models: Sequence[str] | None,
              out: str | os.PathLike, profile: str | None = None,
              gpus: Sequence[str | int] | None = None, data_path: str | os.PathLike | None = None,
              extra: dict[str, Any] | None = None, timeout_s: float | None = None,
              log: Callable[[str], None] | None = print_flush, cluster: str = "local",
              slurm: SlurmOptions | None = None, quiet: bool = False,
              poll_s: float | None = None, heartbeat_s: float = HEARTBEAT_S):
    """Run ``notebook`` once per model; return the summary (also written to ``summary.csv``).

    ``models=None`` means the paper's 17 backbones. ``cluster`` says where the jobs run
    (``"local"``, ``"slurm"`` with ``slurm``'s resources, or ``"debug"``: in this process).
    Locally with ``gpus`` one job runs per listed GPU at a time, each seeing only its GPU
    (``CUDA_VISIBLE_DEVICES``); without, one after another. An existing ``data_path`` is
    made absolute (the notebook runs in its own folder). A notebook with a
    ``train_missing`` parameter gets ``True``: a batch asks for training. A skipped model's
    ``seconds`` is its run's recorded ``wall_time_s``; submitit's files go to
    ``<out>/cluster/``. A finished run whose recorded parameters differ from these is
    moved to ``<out>/stale/`` and run again.

    ``log`` gets each event's line (``None``: silence; ``quiet``: only what is not about
    one job); running jobs are looked at every ``poll_s`` seconds (default
    :data:`POLL_S`), a job gets a heartbeat line after ``heartbeat_s`` without one.

    >>> run_batch("missing.ipynb", ["resnet18"], "batch")
    Traceback (most recent call last):
    ...
    FileNotFoundError: notebook not found: missing.ipynb
    """
    import pandas as pd

    names = check_notebook(notebook)
    notebook = Path(notebook).resolve()
    if models is None:
        from fer_course.models import PAPER_BACKBONES

        models = PAPER_BACKBONES
    models = list(dict.fromkeys(models))  # drop repeats, keep the order
    bad = [m for m in models if not _MODEL_NAME.match(m)]
    if bad or not models:
        raise ValueError(f"model names must be letters, digits, '_', '.', '-': got {bad or models}")
    clash = sorted({"arch", "runs_dir"} & set(extra or {}))
    if clash:
        raise ValueError(f"{clash} are set by the batch itself; do not pass them as extras")
    if cluster not in CLUSTERS:
        raise ValueError(f"unknown cluster {cluster!r}; choose one of {CLUSTERS}")
    if gpus and cluster != "local":
        raise ValueError("--gpus is for --cluster local; on SLURM ask for --gpus-per-job")
    out = Path(out).resolve()
    parameters: dict[str, Any] = {"runs_dir": str(out / "runs")}
    if names is not None and "train_missing" in names:
        parameters["train_missing"] = True  # a batch is an explicit request to train
    if profile is not None:
        parameters["profile"] = profile
    if data_path is not None:
        given = Path(data_path)
        parameters["data_path"] = str(given.resolve()) if given.exists() else str(data_path)
    parameters.update(extra or {})
    unknown = sorted(set(parameters) - names) if names is not None else []
    if unknown:
        warnings.warn(f"{notebook.name}'s parameters cell does not define {unknown}; "
                      "the notebook may ignore them", stacklevel=2)

    epochs = parameters.get("epochs")
    progress = Progress(len(models), out, quiet=quiet, heartbeat_s=heartbeat_s,
                        epochs=epochs if isinstance(epochs, int) else None,
                        write=log or (lambda line: None))
    rows: dict[str, dict[str, Any]] = {}
    todo: list[ChapterJob] = []
    changed: dict[str, list[str]] = {}  # model -> how its finished run's parameters differ
    for model in models:
        run = RunFolder(out / "runs" / model)
        job = ChapterJob(notebook, model, out, parameters, timeout_s)
        if run.path.exists():
            changed[model] = changed_parameters(read_record(out / "parameters" / f"{model}.json"),
                                                job.parameters)
        if run.is_finished() and not changed.get(model):  # same parameters, same recipe?
            changed[model] = changed_identity(model, job.parameters, run)
        if run.is_finished() and not changed.get(model):
            executed = out / "notebooks" / f"{model}.ipynb"
            rows[model] = {"model": model, "status": SKIPPED, **read_accuracies(run),
                           "notebook": executed.relative_to(out).as_posix()
                           if executed.is_file() else None}
        else:
            todo.append(job)
    for model in (m for m in models if m in rows):
        progress.skipped(rows[model])

    def finished(row: dict[str, Any]) -> None:
        run = RunFolder(out / "runs" / row["model"])
        if row["status"] == "ok":
            if run.is_finished():
                row.update({k: v for k, v in read_accuracies(run).items() if k != "seconds"})
            else:
                row["error"] = f"no {RunFolder.METRICS} in runs/{row['model']}"
        rows[row["model"]] = row
        progress.ended(row)

    if todo:
        executor = make_executor(cluster, out / "cluster", slurm)
        for job in todo:
            if changed.get(job.model):
                aside = set_aside(job.run_dir, out / "stale")
                progress.say(f"{job.model}: parameters or recipe differ from its run's "
                             f"({'; '.join(changed[job.model])}): run moved to "
                             f"{progress.where(aside)}, running it again")
            atomic_write_json(out / "parameters" / f"{job.model}.json", job.parameters)
        slots = None
        if cluster == "local":  # one job per GPU; without GPUs the jobs see what this shell sees
            slots = ([{"CUDA_VISIBLE_DEVICES": str(g)} for g in gpus] if gpus else
                     [{"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")}])
        elif cluster == "debug":  # in this process: one job, then the next, each announced
            slots = [{}]
        progress.say(f"{len(todo)} job(s) to run on {cluster}, {len(rows)} skipped; "
                     f"logs in {progress.where(out / 'logs')}/", always=True)
        run_jobs(executor, todo, slots, on_row=finished, watch=progress,
                 poll_s=poll_s if poll_s is not None else POLL_S[cluster])
    summary = pd.DataFrame([rows[m] for m in models], columns=COLUMNS)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    return summary


def format_summary(summary) -> str:
    """The summary as an aligned text table (accuracies to 3 places, blanks for missing)."""
    import pandas as pd

    shown = summary.copy()
    for col in ("seconds", "train_acc", "val_acc", "test_acc"):
        spec = ".1f" if col == "seconds" else ".3f"
        shown[col] = [format(v, spec) if pd.notna(v) else "" for v in shown[col]]
    return shown.astype(object).fillna("").to_string(index=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fer_course batch",
        description="Run a chapter notebook once per model with papermill, through submitit.")
    parser.add_argument("notebook", help="the chapter notebook, e.g. book/02_backbones.ipynb")
    parser.add_argument("--profile", help="profile passed to the notebook (default: its own)")
    parser.add_argument("--models", type=split_list,
                        help="comma-separated names (default: the paper's 17 backbones)")
    parser.add_argument("--out", required=True,
                        help="folder for runs/, notebooks/, logs/, cluster/, summary.csv")
    parser.add_argument("--data-path", help="passed to the notebook as data_path")
    parser.add_argument("--timeout-s", type=float, help="fail a job after this many seconds")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"),
                        help="extra notebook parameter; VALUE is read as json if it is json")
    parser.add_argument("--cluster", choices=CLUSTERS, default="local",
                        help="local: this machine (default); slurm: one job array; "
                             "debug: in this process")
    parser.add_argument("--gpus", type=split_list,
                        help="local: comma-separated GPU ids, one job at a time on each")
    slurm = parser.add_argument_group("SLURM (--cluster slurm; --time also bounds local jobs)")
    slurm.add_argument("--slurm-config", help="yaml or json file with the options below "
                       "(keys: partition, time, gpus_per_job, array_parallelism, cpus_per_task, "
                       "mem, account, qos, constraint, setup, signal_delay_s, max_requeues); "
                       "the command line wins")
    slurm.add_argument("--partition")
    slurm.add_argument("--time", help="each job's limit (90, 4:00:00, 1-00:00:00); then it "
                       "requeues and resumes from its checkpoint (default 4:00:00)")
    slurm.add_argument("--gpus-per-job", type=int, help="default 1; 0 for CPU jobs")
    slurm.add_argument("--array-parallelism", type=int, help="jobs of the array at once")
    slurm.add_argument("--cpus-per-task", type=int)
    slurm.add_argument("--mem", help="memory per job in SLURM's notation, e.g. 32G")
    slurm.add_argument("--account")
    slurm.add_argument("--qos")
    shown = parser.add_argument_group("what the batch prints while it runs")
    shown.add_argument("--quiet", action="store_true",
                       help="no line per job (start, state, heartbeat, end): the final table only")
    shown.add_argument("--poll-s", type=float, help="seconds between looks at running jobs "
                       f"(default {POLL_S['local']:g} local, {POLL_S['slurm']:g} SLURM)")
    shown.add_argument("--heartbeat-s", type=float, default=HEARTBEAT_S,
                       help="a running job's progress line after this many quiet seconds "
                            "(default %(default)g)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry: 0 if every job succeeded or was skipped, 1 if any failed, 2 if
    the batch could not start."""
    args = build_parser().parse_args(argv)
    extra = {name: parse_value(value) for name, value in args.parameter}
    t0 = time.monotonic()
    try:
        if args.poll_s is not None and args.poll_s <= 0:
            raise ValueError(f"--poll-s must be a positive number of seconds, not {args.poll_s:g}")
        options = slurm_options(
            args.slurm_config, partition=args.partition, time=args.time,
            gpus_per_job=args.gpus_per_job, array_parallelism=args.array_parallelism,
            cpus_per_task=args.cpus_per_task, mem=args.mem, account=args.account, qos=args.qos)
        summary = run_batch(args.notebook, args.models, args.out, profile=args.profile,
                            gpus=args.gpus, data_path=args.data_path, extra=extra,
                            timeout_s=args.timeout_s, cluster=args.cluster, slurm=options,
                            quiet=args.quiet, poll_s=args.poll_s, heartbeat_s=args.heartbeat_s)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    counts = summary["status"].value_counts()
    tally = ", ".join(f"{n} {status}" for status, n in counts.items())
    print(stamped(f"batch finished in {duration(time.monotonic() - t0)}: {tally}"))
    print(format_summary(summary))
    print(f"summary written to {Path(args.out) / 'summary.csv'}", flush=True)
    return int((summary["status"] == "failed").any())


if __name__ == "__main__":
    sys.exit(main())
