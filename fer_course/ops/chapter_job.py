"""One chapter run for one model as a submitit job: papermill in a child process, resumable.

A :class:`ChapterJob` executes the notebook with ``arch=<model>`` into
``<out>/notebooks/<model>.ipynb``, keeps papermill's output in ``<out>/logs/<model>.log``
and returns a small row (status, seconds, notebook, error); it never raises, so one bad
model cannot stop the others. It is ``Checkpointable``: when the scheduler preempts it or
its time runs out, ``checkpoint`` stops papermill and hands submitit the same job to
requeue. The rerun continues from the run folder's checkpoint (the engine checkpoints
after every epoch), so at most the epoch in progress is lost.

>>> job = ChapterJob("book/02_backbones.ipynb", "resnet18", "batch", {"profile": "smoke"})
>>> job.checkpoint().function is job
True
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from submitit.core.utils import DelayedSubmission
from submitit.helpers import Checkpointable

from fer_course.atomic import atomic_write_text

KERNEL = "python3"
STOP_S = 30.0  # papermill's time to shut its kernel down after an interrupt
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def papermill_command(notebook: Path, output: Path, parameters: dict[str, Any]) -> list[str]:
    """The ``python -m papermill`` command line of one job (parameters as one yaml string).

    >>> papermill_command(Path("nb.ipynb"), Path("out.ipynb"), {"arch": "vgg11"})[-1]
    '{arch: vgg11}\\n'
    """
    import yaml  # a papermill dependency; its dump reads back exactly (floats, quoted strings)

    return [sys.executable, "-m", "papermill", str(notebook), str(output),
            "--kernel", KERNEL, "--cwd", str(notebook.parent), "--no-progress-bar",
            "--parameters_yaml", yaml.safe_dump(parameters, default_flow_style=True)]


def stop(proc: subprocess.Popen, wait_s: float = STOP_S, read: bool = True) -> str:
    """Interrupt ``proc`` (papermill then shuts its kernel down), kill it after ``wait_s``;
    return what it printed. ``read=False`` leaves its pipe alone: inside a signal handler
    the interrupted ``communicate`` owns it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT if os.name == "posix" else signal.SIGTERM)
    if not read:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        return ""
    try:
        output, _ = proc.communicate(timeout=wait_s)
        return output or ""
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        return output or ""


def error_message(executed: Path, returncode: int | None, output: str, limit: int = 300) -> str:
    """One line saying why a job failed: the notebook's ``ename: evalue`` if it has one.

    >>> error_message(Path("none.ipynb"), 1, "Traceback\\nValueError: bad arch\\n")
    'ValueError: bad arch'
    """
    text = ""
    if returncode is not None and executed.is_file():
        import nbformat  # only a failed job pays for it

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
    return one_line(text, limit)


def one_line(text: str, limit: int = 300) -> str:
    """``text`` without colour codes, on one line, cut to ``limit`` characters.

    >>> one_line("a\\n  b", limit=10), one_line("x" * 12, limit=5)
    ('a b', 'xxxx…')
    """
    text = " ".join(_ANSI.sub("", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ChapterJob(Checkpointable):
    """Execute ``notebook`` for ``model`` into ``out``; calling it returns a summary row.

    ``env`` overrides variables of the papermill process (``None`` removes one), e.g.
    ``{"CUDA_VISIBLE_DEVICES": "1"}``; ``timeout_s`` fails the job after that many seconds.
    """

    def __init__(self, notebook: str | os.PathLike, model: str, out: str | os.PathLike,
                 parameters: dict[str, Any], timeout_s: float | None = None,
                 env: dict[str, str | None] | None = None) -> None:
        self.notebook, self.model, self.out = Path(notebook), model, Path(out)
        self.parameters = {**parameters, "arch": model}
        self.timeout_s, self.env = timeout_s, dict(env or {})
        self._proc: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"ChapterJob({self.notebook.name!r}, {self.model!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_proc": None}  # a running child never travels in a pickle

    def with_env(self, env: dict[str, str | None]) -> ChapterJob:
        """The same job with ``env`` added to its overrides."""
        return ChapterJob(self.notebook, self.model, self.out, self.parameters,
                          self.timeout_s, {**self.env, **env})

    @property
    def executed(self) -> Path:
        return self.out / "notebooks" / f"{self.model}.ipynb"

    def __call__(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        row: dict[str, Any] = {"model": self.model, "status": "failed", "error": None}
        try:
            code, output = self._execute()
            atomic_write_text(self.out / "logs" / f"{self.model}.log", output)
            if code == 0:
                row["status"] = "ok"
            else:
                row["error"] = error_message(self.executed, code, output)
        except Exception as err:  # noqa: BLE001 - the row says what went wrong, the batch goes on
            row["error"] = one_line(f"{type(err).__name__}: {err}")
        row["seconds"] = round(time.perf_counter() - t0, 1)
        if self.executed.is_file():
            row["notebook"] = self.executed.relative_to(self.out).as_posix()
        return row

    def _execute(self) -> tuple[int | None, str]:
        self.executed.unlink(missing_ok=True)  # a stale one would be mistaken for this run's
        self.executed.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        cmd = papermill_command(self.notebook, self.executed, self.parameters)
        self._proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      text=True, errors="replace")
        try:
            output, _ = self._proc.communicate(timeout=self.timeout_s)
            return self._proc.returncode, output
        except subprocess.TimeoutExpired:
            output = stop(self._proc)
            return None, output + f"\nTimeoutError: no result after {self.timeout_s} s\n"
        except BaseException:  # Ctrl-C, or submitit leaving after a requeue: no orphan child
            stop(self._proc, wait_s=5, read=False)
            raise
        finally:
            self._proc = None

    def checkpoint(self, *args: Any, **kwargs: Any) -> DelayedSubmission:
        """Stop papermill (the run folder keeps the last finished epoch) and requeue this job."""
        if self._proc is not None:  # called from submitit's signal handler, mid-communicate
            stop(self._proc, read=False)
        return DelayedSubmission(self, *args, **kwargs)
