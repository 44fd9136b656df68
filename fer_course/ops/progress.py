"""What a running batch says: one line per event, stamped with the time, flushed at once.

:class:`Progress` announces each job's start (job id, log, run folder), its scheduler state
when that changes, a heartbeat for a long job (minutes running and the epochs its run
folder's ``history.csv`` records), its end (status, reason, accuracy, duration) and the
skipped ones. ``quiet`` keeps only what :meth:`Progress.say` is told to say ``always``.

>>> lines = []
>>> p = Progress(2, "batch", write=lines.append, clock=lambda: 0.0)
>>> p.ended({"model": "vgg11", "status": "ok", "seconds": 75.0, "test_acc": 0.6123})
>>> lines[0][11:]
'[1/2] vgg11: ok, test_acc 0.612, in 1 min 15 s'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEARTBEAT_S = 120.0
QUIET_STATES = {"", "UNKNOWN", "QUEUED", "DONE", "FINISHED"}  # nothing to tell, or the end


def stamped(text: str, when: float | None = None) -> str:
    """``text`` after the local time as ``[HH:MM:SS]``.

    >>> stamped("hello", when=0.0)[0], stamped("hello", when=0.0)[9:]
    ('[', '] hello')
    """
    return time.strftime("[%H:%M:%S] ", time.localtime(when)) + text


def duration(seconds: float) -> str:
    """A duration for people: seconds below a minute, then minutes, then hours.

    >>> duration(4.25), duration(75), duration(240), duration(3 * 3600 + 300)
    ('4.2 s', '1 min 15 s', '4 min', '3 h 05 min')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes >= 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes} min {secs} s" if secs and minutes < 10 else f"{minutes} min"


def epochs_done(run_dir: str | os.PathLike) -> int | None:
    """Epochs a run folder's ``history.csv`` records (one row each), ``None`` without one.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "history.csv").write_text("epoch,loss\\n1,0.9\\n2,0.8\\n")
    >>> epochs_done(folder), epochs_done(folder / "missing")
    (2, None)
    """
    try:
        lines = Path(run_dir, "history.csv").read_text().splitlines()
    except (OSError, UnicodeDecodeError):  # not there yet, or mid-rename
        return None
    return max(0, sum(1 for line in lines if line.strip()) - 1)


def print_flush(line: str) -> None:
    """``print`` that reaches a pipe or a SLURM log at once."""
    print(line, flush=True)


@dataclass
class _Watched:
    since: float
    run_dir: Path
    state: str = ""
    beat: float = 0.0


@dataclass
class Progress:
    """Prints a batch's events through ``write``, one stamped line each.

    ``total`` counts the batch's models (for the ``[i/n]`` of each end); ``epochs``, where
    the batch knows it, completes a heartbeat's ``epoch 3/30``; a job running longer than
    ``heartbeat_s`` since its last line gets one. ``clock`` measures durations.
    """

    total: int
    out: str | os.PathLike
    quiet: bool = False
    heartbeat_s: float = HEARTBEAT_S
    epochs: int | None = None
    write: Callable[[str], None] = print_flush
    clock: Callable[[], float] = time.monotonic
    ended_count: int = 0
    _jobs: dict[str, _Watched] = field(default_factory=dict)

    def say(self, text: str, always: bool = False) -> None:
        """Write ``text`` stamped with the time, unless quiet (and not ``always``)."""
        if always or not self.quiet:
            self.write(stamped(text))

    def where(self, path: str | os.PathLike) -> str:
        """``path`` relative to the batch's folder where it lies inside it."""
        try:
            return Path(path).relative_to(Path(self.out)).as_posix()
        except ValueError:
            return str(path)

    def skipped(self, row: dict[str, Any]) -> None:
        """A model left out because its run is finished."""
        self.ended(row)

    def started(self, job: Any, handle: Any) -> None:
        """``job`` (a ``ChapterJob``) was submitted as ``handle`` (a submitit job)."""
        self._jobs[job.model] = _Watched(self.clock(), Path(job.run_dir), beat=self.clock())
        job_id = getattr(handle, "job_id", None)
        ident = "" if not job_id or str(job_id).startswith("DEBUG_") else f" as job {job_id}"
        verb = "submitted" if type(handle).__name__ == "SlurmJob" else "started"  # queues first
        self.say(f"{job.model}: {verb}{ident}; log {self.where(job.log)}, "
                 f"run {self.where(job.run_dir)}")

    def polled(self, job: Any, handle: Any) -> None:
        """A look at a running job: a line if its state changed or a heartbeat is due."""
        watched = self._jobs.get(job.model)
        if watched is None:
            return
        try:
            state = str(handle.state).upper()
        except Exception:  # noqa: BLE001 - a scheduler hiccup is no reason to stop the batch
            state = "UNKNOWN"
        now = self.clock()
        if state != watched.state and state not in QUIET_STATES:
            if state == "RUNNING" and watched.state in ("PENDING", "REQUEUED"):
                watched.since = now  # its clock starts when it runs
            if watched.state or state != "RUNNING":  # running from the start: nothing new
                previous = f" (was {watched.state.lower()})" if watched.state else ""
                self.say(f"{job.model}: {state.lower()}{previous}")
                watched.beat = now
        if state not in QUIET_STATES:
            watched.state = state
        if now - watched.beat >= self.heartbeat_s:
            watched.beat = now
            self.say(self.heartbeat(job.model, now - watched.since, watched))

    def heartbeat(self, model: str, seconds: float, watched: _Watched) -> str:
        """``resnet18: running 4 min, epoch 3/30 done`` (what is known of it)."""
        verb = "pending" if watched.state == "PENDING" else "running"
        text = f"{model}: {verb} {duration(seconds)}"
        done = epochs_done(watched.run_dir)
        if done is not None:
            text += f", epoch {done}/{self.epochs} done" if self.epochs else (
                f", {done} epochs done")
        return text

    def ended(self, row: dict[str, Any]) -> None:
        """A job's row: ``[i/n] model: status, reason or accuracy, duration``."""
        self.ended_count += 1
        self._jobs.pop(row["model"], None)
        parts = [f"[{self.ended_count}/{self.total}] {row['model']}: {row['status']}"]
        if row.get("error"):
            parts.append(str(row["error"]).splitlines()[0])
        for split in ("test", "val"):
            value = row.get(f"{split}_acc")
            if isinstance(value, (int, float)) and value == value:  # not NaN
                parts.append(f"{split}_acc {value:.3f}")
                break
        seconds = row.get("seconds")
        if isinstance(seconds, (int, float)) and seconds == seconds:
            took = "trained in" if str(row["status"]).startswith("skipped") else "in"
            parts.append(f"{took} {duration(float(seconds))}")
        self.say(", ".join(parts))
