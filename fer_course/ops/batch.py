"""Run one chapter notebook over many models with papermill, one job per model (or per GPU).

Each job executes the notebook with ``profile``, ``arch=<model>``, ``runs_dir=<out>/runs``
(plus ``data_path`` and any extra parameters) into ``<out>/notebooks/<model>.ipynb``. A
model whose run folder ``<out>/runs/<model>/`` is finished is skipped; a failed job is
recorded and the others go on. ``<out>/summary.csv`` lists every model's outcome.

    python -m fer_course.ops.batch book/02_backbones.ipynb --profile paper \\
        --models resnet18,vgg11 --out batch --gpus 0,1 -p epochs 10

>>> parse_value("2"), parse_value("null"), parse_value("1e-3"), parse_value("imagenet")
(2, None, 0.001, 'imagenet')
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat

from fer_course.atomic import atomic_write_text
from fer_course.runs.folder import RunFolder

KERNEL = "python3"
COLUMNS = ["model", "status", "seconds", "train_acc", "val_acc", "test_acc", "notebook", "error"]
SKIPPED = "skipped (finished)"
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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


def papermill_command(notebook: Path, output: Path, parameters: dict[str, Any]) -> list[str]:
    """The ``python -m papermill`` command line of one job (parameters as one yaml string)."""
    import yaml  # a papermill dependency; its dump reads back exactly (floats, quoted strings)

    return [sys.executable, "-m", "papermill", str(notebook), str(output),
            "--kernel", KERNEL, "--cwd", str(notebook.parent), "--no-progress-bar",
            "--parameters_yaml", yaml.safe_dump(parameters, default_flow_style=True)]


def run_command(cmd: list[str], gpu: str | None,
                timeout_s: float | None) -> tuple[int | None, str]:
    """Run ``cmd`` (seeing only ``gpu`` if given); return its exit code and merged output.

    On timeout papermill gets an interrupt first, so that it shuts its kernel down, and the
    exit code is ``None``.
    """
    env = dict(os.environ)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace")
    try:
        output, _ = proc.communicate(timeout=timeout_s)
        return proc.returncode, output
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT if os.name == "posix" else signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        return None, output + f"\nTimeoutError: no result after {timeout_s} s\n"
    except BaseException:  # Ctrl-C reaches the child too; do not leave it behind
        proc.kill()
        proc.wait()
        raise


def error_message(executed: Path, returncode: int | None, output: str, limit: int = 300) -> str:
    """One line saying why a job failed: the notebook's ``ename: evalue`` if it has one."""
    text = ""
    if returncode is not None and executed.is_file():
        try:
            nb = nbformat.read(executed, as_version=4)
        except Exception:  # a half-written notebook: fall back to the log
            nb = None
        errors = [(c, o) for c in (nb.cells if nb else []) for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        failing = [e for e in errors if e[0].metadata.get("papermill", {}).get("exception")]
        if failing or errors:
            out = (failing or errors)[-1][1]
            text = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
    if not text:
        lines = [ln.strip() for ln in _ANSI.sub("", output).splitlines() if ln.strip()]
        text = lines[-1] if lines else f"papermill exited with code {returncode}"
        if returncode == 138:  # papermill's exit code for a dead kernel
            text = f"DeadKernelError: {text}"
    text = " ".join(_ANSI.sub("", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_one(notebook: Path, model: str, out: Path, parameters: dict[str, Any],
            gpus: queue.Queue, timeout_s: float | None = None) -> dict[str, Any]:
    """One summary row: skip a finished run, else execute ``notebook`` for ``model``.

    The job waits for a free GPU id (or ``None``) from ``gpus`` and hands it back after.
    """
    run = RunFolder(out / "runs" / model)
    executed = out / "notebooks" / f"{model}.ipynb"
    row: dict[str, Any] = {**dict.fromkeys(COLUMNS), "model": model}
    if run.is_finished():
        row.update(status=SKIPPED, **read_accuracies(run))
    else:
        executed.unlink(missing_ok=True)  # a stale one would be mistaken for this run's
        executed.parent.mkdir(parents=True, exist_ok=True)
        cmd = papermill_command(notebook, executed, {**parameters, "arch": model})
        gpu, t0 = gpus.get(), time.perf_counter()
        try:
            code, output = run_command(cmd, gpu, timeout_s)
        finally:
            gpus.put(gpu)
        atomic_write_text(out / "logs" / f"{model}.log", output)
        if code != 0:
            row.update(status="failed", error=error_message(executed, code, output))
        elif run.is_finished():
            row.update(status="ok", **read_accuracies(run))
        else:
            row.update(status="ok", error=f"no {RunFolder.METRICS} in runs/{model}")
        row["seconds"] = round(time.perf_counter() - t0, 1)
    if executed.is_file():
        row["notebook"] = executed.relative_to(out).as_posix()
    return row


def run_batch(notebook: str | os.PathLike, models: Sequence[str] | None,
              out: str | os.PathLike, profile: str | None = None,
              gpus: Sequence[str | int] | None = None, data_path: str | os.PathLike | None = None,
              extra: dict[str, Any] | None = None, timeout_s: float | None = None,
              log: Callable[[str], None] | None = print):
    """Run ``notebook`` once per model; return the summary (also written to ``summary.csv``).

    ``models=None`` means the paper's 17 backbones. With ``gpus`` one job runs per listed GPU
    at a time, each seeing only its GPU (``CUDA_VISIBLE_DEVICES``); without, one after another.
    An existing ``data_path`` is made absolute (the notebook runs in its own folder). A
    notebook with a ``train_missing`` parameter gets ``True``: a batch asks for training. A
    skipped model's ``seconds`` is its run's recorded ``wall_time_s``.

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

    free_gpus: queue.Queue[str | None] = queue.Queue()
    for gpu in gpus or [None]:
        free_gpus.put(None if gpu is None else str(gpu))
    lock, done = threading.Lock(), []

    def job(model: str) -> dict[str, Any]:
        row = run_one(notebook, model, out, parameters, free_gpus, timeout_s)
        with lock:
            done.append(model)
            if log:
                note = f" ({row['error']})" if row["error"] else ""
                log(f"[{len(done)}/{len(models)}] {model}: {row['status']}{note}")
        return row

    if len(gpus or []) < 2:
        rows = [job(m) for m in models]
    else:
        pool = ThreadPoolExecutor(max_workers=len(gpus))
        try:
            rows = list(pool.map(job, models))
        finally:  # after Ctrl-C, start no further jobs
            pool.shutdown(wait=True, cancel_futures=True)
    summary = pd.DataFrame(rows, columns=COLUMNS)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    return summary


def format_summary(summary) -> str:
    """The summary as an aligned text table (accuracies to 3 places, blanks for missing)."""
    import pandas as pd

    shown = summary.copy()
    for col in ("seconds", "train_acc", "val_acc", "test_acc"):
        spec = ".1f" if col == "seconds" else ".3f"
        shown[col] = [format(v, spec) if pd.notna(v) else "" for v in shown[col]]
    return shown.fillna("").to_string(index=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fer_course.ops.batch",
        description="Run a chapter notebook once per model with papermill.")
    parser.add_argument("notebook", help="the chapter notebook, e.g. book/02_backbones.ipynb")
    parser.add_argument("--profile", help="profile passed to the notebook (default: its own)")
    parser.add_argument("--models", type=split_list,
                        help="comma-separated names (default: the paper's 17 backbones)")
    parser.add_argument("--out", required=True, help="folder for runs/, notebooks/, summary.csv")
    parser.add_argument("--gpus", type=split_list,
                        help="comma-separated GPU ids: one job at a time on each, in parallel")
    parser.add_argument("--data-path", help="passed to the notebook as data_path")
    parser.add_argument("--timeout-s", type=float, help="stop a job after this many seconds")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"),
                        help="extra notebook parameter; VALUE is read as json if it is json")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry: 0 if every job succeeded or was skipped, 1 if any failed."""
    args = build_parser().parse_args(argv)
    extra = {name: parse_value(value) for name, value in args.parameter}
    try:
        summary = run_batch(args.notebook, args.models, args.out, profile=args.profile,
                            gpus=args.gpus, data_path=args.data_path, extra=extra,
                            timeout_s=args.timeout_s)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    print(f"summary written to {Path(args.out) / 'summary.csv'}")
    return int((summary["status"] == "failed").any())


if __name__ == "__main__":
    sys.exit(main())
