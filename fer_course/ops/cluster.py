"""Where a batch's jobs run, through submitit: this machine, a SLURM cluster, or in process.

``local``: one job at a time per listed GPU (each sees only its GPU), or one after another
without GPUs. ``slurm``: all jobs as one job array (``sbatch``), its resources from
:class:`SlurmOptions`. ``debug``: in this process, one after another (for tests).
A job that submitit reports as lost (cancelled, killed, requeued too often) becomes a
failed row; the others go on.

>>> parse_minutes("90"), parse_minutes("1:30:00"), parse_minutes("1-00:00:00")
(90, 90, 1440)
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import submitit

from fer_course.ops.chapter_job import ChapterJob, one_line

CLUSTERS = ("local", "slurm", "debug")
LOCAL_TIME_MIN = 60 * 24 * 30  # no limit on one machine unless one is asked for
SLURM_TIME_MIN = 240
_ERROR_LINE = re.compile(r"^[A-Za-z_.]*(Error|Exception|Interrupt)\b.*")


def parse_minutes(text: str | int) -> int:
    """SLURM's time formats (``M``, ``H:MM:SS``, ``D-HH:MM:SS``, ``D-HH``) as whole minutes.

    >>> parse_minutes(45), parse_minutes("2:00"), parse_minutes("0-12")
    (45, 2, 720)
    """
    text = str(text).strip()
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:  # D-HH, D-HH:MM, D-HH:MM:SS
        parts += [0] * (3 - len(parts))
        hours, minutes, seconds = parts
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    elif len(parts) == 2:  # MM:SS, as SLURM reads it
        hours, (minutes, seconds) = 0, parts
    else:
        hours, minutes, seconds = 0, parts[0], 0
    total = (int(days or 0) * 24 + hours) * 60 + minutes + (1 if seconds else 0)
    if total <= 0:
        raise ValueError(f"a time limit must be positive: {text!r}")
    return total


@dataclass(frozen=True)
class SlurmOptions:
    """The resources of every job of a SLURM array (``None``: the cluster's default).

    ``time_min`` is each job's limit (SLURM: 240 if not given; this machine: none): at its
    end the job requeues and resumes, at most ``max_requeues`` times. ``setup`` lines run
    before the job (``module load ...``).

    >>> SlurmOptions(partition="gpu", time_min=120).executor_parameters()["time"]
    120
    """

    partition: str | None = None
    time_min: int | None = None
    gpus_per_job: int = 1
    array_parallelism: int | None = None
    cpus_per_task: int | None = None
    mem: str | None = None  # SLURM's notation: "32G", "16000M"
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    setup: tuple[str, ...] = field(default_factory=tuple)
    signal_delay_s: int = 120  # the signal comes this long before the limit
    max_requeues: int = 3

    def executor_parameters(self) -> dict[str, Any]:
        """The keyword arguments of ``SlurmExecutor.update_parameters``."""
        params: dict[str, Any] = {
            "job_name": "fer-course", "time": self.time_min or SLURM_TIME_MIN,
            "partition": self.partition,
            "gpus_per_node": self.gpus_per_job or None, "cpus_per_task": self.cpus_per_task,
            "mem": self.mem, "account": self.account, "qos": self.qos,
            "constraint": self.constraint, "array_parallelism": self.array_parallelism,
            "setup": list(self.setup) or None, "signal_delay_s": self.signal_delay_s,
            "stderr_to_stdout": True,
        }
        return {k: v for k, v in params.items() if v is not None}


CONFIG_KEYS = {f.name for f in dataclasses.fields(SlurmOptions)} | {"time"}


def slurm_options(config: str | os.PathLike | None = None, **overrides: Any) -> SlurmOptions:
    """Options from a yaml or json file (keys as in :class:`SlurmOptions`; ``time`` in
    SLURM's notation), then ``overrides`` that are not ``None``.

    >>> slurm_options(partition="gpu", time="2:00:00", gpus_per_job=None).time_min
    120
    """
    values: dict[str, Any] = {}
    if config is not None:
        import yaml  # a papermill dependency; it reads json too

        loaded = yaml.safe_load(Path(config).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{config}: expected a mapping of SLURM options")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = sorted(set(values) - CONFIG_KEYS)
    if unknown:
        raise ValueError(f"unknown SLURM option(s) {unknown}; known: {sorted(CONFIG_KEYS)}")
    if "time" in values:
        values["time_min"] = parse_minutes(values.pop("time"))
    if isinstance(values.get("setup"), str):
        values["setup"] = [values["setup"]]
    if "setup" in values:
        values["setup"] = tuple(values["setup"])
    return SlurmOptions(**values)


def make_executor(cluster: str, folder: str | os.PathLike,
                  options: SlurmOptions | None = None) -> submitit.Executor:
    """The submitit executor of ``cluster`` (one of :data:`CLUSTERS`), logging in ``folder``.

    >>> import tempfile
    >>> type(make_executor("debug", tempfile.mkdtemp())).__name__
    'DebugExecutor'
    """
    options = options or SlurmOptions()
    folder = Path(folder)
    if cluster == "debug":
        return submitit.DebugExecutor(folder)
    if cluster == "local":
        # one flat folder: with "%j" the controller can open its log before submitit has
        # made the job's folder (the job id is the controller's pid, known only after it
        # starts), and the job fails with FileNotFoundError
        executor = submitit.LocalExecutor(folder, max_num_timeout=options.max_requeues)
        executor.update_parameters(timeout_min=options.time_min or LOCAL_TIME_MIN,
                                   stderr_to_stdout=True, signal_delay_s=options.signal_delay_s)
        return executor
    if cluster == "slurm":
        try:
            executor = submitit.SlurmExecutor(folder / "%j", max_num_timeout=options.max_requeues)
        except RuntimeError as err:  # no srun on PATH
            raise ValueError(f"--cluster slurm needs SLURM's commands here: {err}") from err
        executor.update_parameters(**options.executor_parameters())
        return executor
    raise ValueError(f"unknown cluster {cluster!r}; choose one of {CLUSTERS}")


def lost_job_error(err: BaseException) -> str:
    """One line from submitit's report of a job that gave no result.

    >>> lost_job_error(RuntimeError("Job 12 failed\\nTraceback\\n  x\\nKeyError: 'a'\\nlogs"))
    "KeyError: 'a'"
    """
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    named = [ln for ln in lines if _ERROR_LINE.match(ln)]
    text = named[-1] if named else (lines[0] if lines else "")
    return one_line(f"{type(err).__name__}: {text}" if not named else text)


class Watcher(Protocol):
    """What :func:`run_jobs` tells about its jobs besides their rows (see ``Progress``)."""

    def started(self, job: ChapterJob, handle: submitit.Job) -> None: ...

    def polled(self, job: ChapterJob, handle: submitit.Job) -> None: ...


def run_jobs(executor: submitit.Executor, jobs: Sequence[ChapterJob],
             slots: Sequence[dict[str, str | None]] | None = None,
             on_row: Callable[[dict[str, Any]], None] | None = None,
             poll_s: float = 0.2, watch: Watcher | None = None) -> list[dict[str, Any]]:
    """Run ``jobs`` on ``executor``; their rows in the order of ``jobs``.

    With ``slots`` (one environment override per slot, e.g. per GPU) at most one job runs
    per slot and each job gets its slot's override; without, all are submitted at once
    (a job array on SLURM). ``on_row`` sees each row as its job ends; ``watch`` each job as
    it is submitted and at each look at it while it runs, every ``poll_s`` seconds (the
    loop sleeps in between). Ctrl-C cancels what was submitted.
    """
    if poll_s <= 0:
        raise ValueError(f"poll_s must be positive (seconds between looks at the jobs): {poll_s}")
    rows: list[dict[str, Any] | None] = [None] * len(jobs)
    waiting = list(range(len(jobs)))
    running: dict[int, tuple[submitit.Job, int | None]] = {}  # index -> (job, slot)
    free = list(range(len(slots))) if slots is not None else []

    def collect(i: int, job: submitit.Job) -> None:
        try:
            row = job.result()
        except Exception as err:  # noqa: BLE001 - lost on the cluster: recorded, the rest go on
            row = {"model": jobs[i].model, "status": "failed", "error": lost_job_error(err)}
        rows[i] = row
        if on_row:
            on_row(row)

    try:
        if slots is None:
            submitted = executor.submit_array(list(jobs))
            running = {i: (job, None) for i, job in enumerate(submitted)}
            waiting = []
            if watch:
                for i, job in enumerate(submitted):
                    watch.started(jobs[i], job)
        while waiting or running:
            while waiting and free:
                i, slot = waiting.pop(0), free.pop(0)
                running[i] = (executor.submit(jobs[i].with_env(slots[slot])), slot)
                if watch:
                    watch.started(jobs[i], running[i][0])
            for i, (job, slot) in list(running.items()):
                if job.done():
                    collect(i, job)
                    del running[i]
                    if slot is not None:
                        free.append(slot)
                elif watch and not isinstance(job, submitit.DebugJob):
                    watch.polled(jobs[i], job)
            if running and not (waiting and free):  # a freed slot takes its next job at once
                time.sleep(poll_s)
    except BaseException:  # Ctrl-C: nothing submitted is left running
        for job, _ in running.values():
            job.cancel(check=False)
        raise
    return [r for r in rows if r is not None]
