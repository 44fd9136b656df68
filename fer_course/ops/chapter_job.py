"""One chapter run for one model as a submitit job: papermill in a child process, resumable.

A :class:`ChapterJob` executes the notebook with ``arch=<model>`` into
``<out>/notebooks/<model>.ipynb``, writes papermill's output to ``<out>/logs/<model>.log``
as it comes (``tail -f`` it while the job runs) and returns a small row (status, seconds,
notebook, error); it never raises, so one bad model cannot stop the others. It is
``Checkpointable``: when the scheduler preempts it or its time runs out, ``checkpoint``
stops papermill and hands submitit the same job to requeue. The rerun continues from the
run folder's checkpoint (the engine checkpoints after every epoch), so at most the epoch
in progress is lost.

>>> job = ChapterJob("book/02_backbones.ipynb", "resnet18", "batch", {"profile": "smoke"})
>>> job.checkpoint().function is job
True
"""

from __future__ import annotations

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


def stop(proc: subprocess.Popen, wait_s: float = STOP_S) -> None:
    """Interrupt ``proc`` (papermill then shuts its kernel down), kill it after ``wait_s``.

    It waits by polling, never in a blocking ``wait``: called from a signal handler that
    interrupted one, a blocking wait would deadlock on the lock that wait holds.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT if os.name == "posix" else signal.SIGTERM)
    if not wait_polling(proc, wait_s):
        proc.kill()
        wait_polling(proc, 10.0)


def wait_polling(proc: subprocess.Popen, timeout_s: float | None,
                 interval_s: float = 0.1) -> bool:
    """Wait for ``proc`` to end by polling; whether it ended within ``timeout_s``.

    >>> wait_polling(subprocess.Popen([sys.executable, "-c", "pass"]), 30)
    True
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while proc.poll() is None:
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True


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

    @property
    def log(self) -> Path:
        """Papermill's output, written while the job runs (the last attempt's, on a requeue)."""
        return self.out / "logs" / f"{self.model}.log"

    @property
    def run_dir(self) -> Path:
        """The run folder the notebook writes (``<runs_dir>/<model>``)."""
        return Path(self.parameters.get("runs_dir", self.out / "runs")) / self.model

    def __call__(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        row: dict[str, Any] = {"model": self.model, "status": "failed", "error": None}
        try:
            code, output = self._execute()
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
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        env.setdefault("PYTHONUNBUFFERED", "1")  # the log gets each line as it is printed
        cmd = papermill_command(self.notebook, self.executed, self.parameters)
        with open(self.log, "wb") as sink:
            self._proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL)
        try:  # by polling, so that submitit's signal handler can stop it meanwhile
            ended = wait_polling(self._proc, self.timeout_s, 0.2)
            code = self._proc.returncode if ended else None
            if not ended:
                stop(self._proc)
                with open(self.log, "a") as sink:
                    sink.write(f"\nTimeoutError: no result after {self.timeout_s} s\n")
        except BaseException:  # Ctrl-C, or submitit leaving after a requeue: no orphan child
            stop(self._proc, wait_s=5)
            raise
        finally:
            self._proc = None
        return code, self.log.read_text(errors="replace")

    def checkpoint(self, *args: Any, **kwargs: Any) -> DelayedSubmission:
        """Stop papermill (the run folder keeps the last finished epoch) and requeue this job."""
        if self._proc is not None:  # from submitit's signal handler, amid the polling
            stop(self._proc)
        return DelayedSubmission(self, *args, **kwargs)
