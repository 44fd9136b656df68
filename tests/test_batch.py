"""``fer_course.ops.batch``: a chapter notebook run once per model, failures recorded, reruns skip,
through submitit's local, debug and SLURM executors.

The fixture notebook is a test double of a chapter: it rejects unknown backbones, "trains"
``epochs`` epochs of ``epoch_s`` seconds with a checkpoint after each (resuming from it like
the engine) and writes fake metrics (plus what its kernel saw) where the real chapter writes
its run. The SLURM test runs against the stand-in commands of ``tests/fake_slurm/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from fer_course.ops.batch import SKIPPED, check_notebook, main, parse_value, run_batch
from fer_course.ops.progress import Progress
from fer_course.runs.folder import RunFolder

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "02_backbones.ipynb"

PARAMETERS = ('profile = None\narch = "resnet18"\nruns_dir = "runs"\ndata_path = None\n'
              'epochs = 1\nepoch_s = 0')
CHECK = ('if arch not in {"resnet18", "vgg11", "resnet34", "sleepy"}:\n'
         '    raise ValueError(f"unknown backbone {arch}")')
# Written with json alone, where the real chapter's RunFolder.write_metrics writes: importing
# fer_course (torch, torchvision) would add seconds to every kernel and test nothing here.
WRITE = """import json, os, time
from pathlib import Path
if arch == "sleepy":
    time.sleep(120)
folder = Path(runs_dir) / arch
folder.mkdir(parents=True, exist_ok=True)
checkpoint = folder / "checkpoint.json"
start = json.loads(checkpoint.read_text())["epoch"] if checkpoint.exists() else 0
with open(folder / "attempts.txt", "a") as f:
    f.write(f"{start}\\n")
for epoch in range(start, epochs):
    with open(folder / "epochs.txt", "a") as f:
        f.write(f"{epoch}\\n")
    time.sleep(epoch_s)
    (folder / "tmp.json").write_text(json.dumps({"epoch": epoch + 1}))
    os.replace(folder / "tmp.json", checkpoint)
    rows = "".join(f"{e + 1},{epoch_s}\\n" for e in range(epoch + 1))
    (folder / "tmp.csv").write_text("epoch,seconds\\n" + rows)  # like the engine's history.csv
    os.replace(folder / "tmp.csv", folder / "history.csv")
(folder / "metrics.json").write_text(json.dumps({
    "train": {"accuracy": 0.9}, "val": {"accuracy": 0.7}, "test": {"accuracy": 0.6},
    "wall_time_s": 1.5, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "cwd": os.getcwd(),
    "epochs": epochs, "profile": profile, "data_path": data_path,
}))"""


def make_notebook(folder: Path, tagged: bool = True) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PARAMETERS), nbformat.v4.new_code_cell(CHECK),
                nbformat.v4.new_code_cell(WRITE)]
    if tagged:
        nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / "chapter" / "fake.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


def read_summary(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "summary.csv").set_index("model")


def metrics(out: Path, model: str) -> dict:
    return RunFolder(out / "runs" / model).read_metrics()


def test_failures_are_recorded_and_reruns_skip_finished(tmp_path: Path, capsys) -> None:
    notebook, out = make_notebook(tmp_path), tmp_path / "batch"
    data = tmp_path / "fer2013.csv"
    data.write_text("emotion,pixels,Usage\n")
    argv = [str(notebook), "--profile", "smoke", "--models", "resnet18,vgg11,nope",
            "--out", str(out), "--data-path", str(data), "-p", "epochs", "2",
            "--cluster", "local", "--poll-s", "0.2"]
    assert main(argv) == 1

    summary = read_summary(out)
    assert list(summary.index) == ["resnet18", "vgg11", "nope"]
    assert list(summary["status"]) == ["ok", "ok", "failed"]
    assert summary.loc["vgg11", "test_acc"] == pytest.approx(0.6)
    assert "ValueError: unknown backbone nope" in summary.loc["nope", "error"]
    assert "Traceback" not in summary.loc["nope", "error"]
    for model in summary.index:
        assert (out / summary.loc[model, "notebook"]).is_file()
    assert "unknown backbone nope" in capsys.readouterr().out  # the printed table

    seen = metrics(out, "resnet18")
    assert seen["epochs"] == 2 and seen["profile"] == "smoke"
    assert seen["data_path"] == str(data.resolve())
    assert seen["cwd"] == str(notebook.parent)  # relative paths work inside the notebook
    executed = nbformat.read(out / "notebooks" / "resnet18.ipynb", as_version=4)
    injected = next(c for c in executed.cells
                    if "injected-parameters" in c.metadata.get("tags", []))
    assert "epochs = 2" in injected.source and 'arch = "resnet18"' in injected.source
    assert f'runs_dir = "{out / "runs"}"' in injected.source

    t0, stamp = time.perf_counter(), (out / "notebooks" / "vgg11.ipynb").stat().st_mtime_ns
    assert main(argv) == 1
    assert (out / "notebooks" / "vgg11.ipynb").stat().st_mtime_ns == stamp  # no kernel ran
    summary = read_summary(out)
    assert list(summary["status"]) == [SKIPPED, SKIPPED, "failed"]
    assert summary.loc["resnet18", "val_acc"] == pytest.approx(0.7)
    assert "unknown backbone nope" in summary.loc["nope", "error"]
    assert time.perf_counter() - t0 < 60


def test_one_job_per_gpu_sees_only_its_gpu(tmp_path: Path) -> None:
    notebook, out = make_notebook(tmp_path), tmp_path / "batch"
    summary = run_batch(notebook, ["resnet18", "vgg11"], out, gpus=["0", "1"], log=None,
                        poll_s=0.2)
    assert list(summary["status"]) == ["ok", "ok"]
    assert {metrics(out, m)["cuda"] for m in ("resnet18", "vgg11")} <= {"0", "1"}
    assert metrics(out, "resnet18")["profile"] is None  # no --profile: the notebook's default


def test_a_job_past_its_timeout_fails_and_the_batch_goes_on(tmp_path: Path) -> None:
    notebook, out = make_notebook(tmp_path), tmp_path / "batch"
    summary = run_batch(notebook, ["sleepy"], out, timeout_s=5, log=None, poll_s=0.2)
    assert summary.loc[0, "status"] == "failed"
    assert "TimeoutError" in summary.loc[0, "error"]
    assert summary.loc[0, "seconds"] < 60


def test_notebook_errors_come_before_any_run(tmp_path: Path, capsys) -> None:
    untagged = make_notebook(tmp_path, tagged=False)
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        run_batch(untagged, ["resnet18"], tmp_path / "batch")
    assert main([str(untagged), "--models", "resnet18", "--out", str(tmp_path / "b")]) == 2
    assert "no cell tagged 'parameters'" in capsys.readouterr().err
    missing = tmp_path / "nowhere.ipynb"
    assert main([str(missing), "--out", str(tmp_path / "b")]) == 2
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "batch").exists() and not (tmp_path / "b").exists()


def test_parameter_checks(tmp_path: Path) -> None:
    notebook = make_notebook(tmp_path)
    assert check_notebook(notebook) == {"profile", "arch", "runs_dir", "data_path", "epochs",
                                        "epoch_s"}
    with pytest.raises(ValueError, match="set by the batch"):
        run_batch(notebook, ["resnet18"], tmp_path / "batch", extra={"arch": "vgg11"})
    with pytest.raises(ValueError, match="model names"):
        run_batch(notebook, ["../escape"], tmp_path / "batch")
    assert [parse_value(v) for v in ("2", "0.5", "null", "true", "imagenet")] == [
        2, 0.5, None, True, "imagenet"]
    assert json.loads('"x"') == parse_value('"x"')


def test_chapter_two_takes_the_batch_parameters() -> None:
    """The batch sets these on the real chapter (which tests/test_chapters.py executes once;
    the runner itself is exercised on the test double above)."""
    assert {"profile", "arch", "runs_dir", "data_path", "train_missing"} <= check_notebook(
        CHAPTER)


def test_debug_executor_runs_in_process_and_isolates_the_bad_model(tmp_path: Path,
                                                                    capsys) -> None:
    notebook, out = make_notebook(tmp_path), tmp_path / "batch"
    argv = [str(notebook), "--profile", "smoke", "--models", "resnet18,vgg11,nope",
            "--out", str(out), "--cluster", "debug"]
    assert main(argv) == 1
    summary = read_summary(out)
    assert list(summary["status"]) == ["ok", "ok", "failed"]
    assert summary.loc["resnet18", "train_acc"] == pytest.approx(0.9)
    assert summary.loc["nope", "error"].startswith("ValueError: unknown backbone nope")
    assert metrics(out, "vgg11")["profile"] == "smoke"
    lines = printed(capsys)
    assert lines == [  # one job, then the next, each announced
        "3 job(s) to run on debug, 0 skipped; logs in logs/",
        "resnet18: started; log logs/resnet18.log, run runs/resnet18",
        "[1/3] resnet18: ok, test_acc 0.600, in",
        "vgg11: started; log logs/vgg11.log, run runs/vgg11",
        "[2/3] vgg11: ok, test_acc 0.600, in",
        "nope: started; log logs/nope.log, run runs/nope",
        "[3/3] nope: failed, ValueError: unknown backbone nope, in",
        "batch finished in: 2 ok, 1 failed"]
    assert "unknown backbone nope" in (out / "logs" / "nope.log").read_text()

    argv[argv.index("resnet18,vgg11,nope")] = "resnet18,vgg11"
    assert main([*argv, "--quiet"]) == 0  # the finished two are skipped, without a word
    assert printed(capsys) == ["batch finished in: 2 skipped (finished)"]

    argv[argv.index("resnet18,vgg11")] = "resnet18"
    assert main([*argv, "-p", "epochs", "2"]) == 0  # a finished run made with other parameters
    lines = printed(capsys)
    assert lines[0].startswith("resnet18: parameters or recipe differ from its run's "
                               "(epochs unset -> 2): run moved to stale/resnet18-")
    assert lines[1:] == ["1 job(s) to run on debug, 0 skipped; logs in logs/",
                         "resnet18: started; log logs/resnet18.log, run runs/resnet18",
                         "[1/1] resnet18: ok, test_acc 0.600, in",
                         "batch finished in: 1 ok"]
    assert metrics(out, "resnet18")["epochs"] == 2
    (stale,) = (out / "stale").glob("resnet18-*")
    assert RunFolder(stale).read_metrics()["epochs"] == 1


def printed(capsys) -> list[str]:
    """The lines stdout got up to the summary table, each checked for its time stamp and
    returned without it, durations cut to their ``in``."""
    lines = capsys.readouterr().out.splitlines()
    end = next(i for i, line in enumerate(lines) if "batch finished in" in line)
    stamp = re.compile(r"^\[\d\d:\d\d:\d\d\] ")
    assert all(stamp.match(line) for line in lines[: end + 1]), lines
    assert lines[end + 1].split() == ["model", "status", "seconds", "train_acc", "val_acc",
                                      "test_acc", "notebook", "error"]  # then the table
    return [re.sub(r" in [\d.]+ (s|min)( \d+ s)?", " in", stamp.sub("", line))
            for line in lines[: end + 1]]


def test_progress_tells_state_changes_and_a_heartbeat_with_the_epoch(tmp_path: Path) -> None:
    """With a clock the test moves: a SLURM job waits, runs, and trains for minutes."""
    class Handle:
        job_id, state = "4200_0", "PENDING"

    class Job:
        model, log, run_dir = "resnet18", tmp_path / "logs" / "resnet18.log", tmp_path / "run"

    now = [0.0]
    lines: list[str] = []
    progress = Progress(2, tmp_path, heartbeat_s=120, epochs=30, write=lines.append,
                        clock=lambda: now[0])
    job, handle = Job(), Handle()
    progress.started(job, handle)
    progress.polled(job, handle)
    now[0], handle.state = 60.0, "RUNNING"
    progress.polled(job, handle)
    now[0] = 120.0
    progress.polled(job, handle)  # a minute since its last line: no heartbeat yet
    job.run_dir.mkdir()
    (job.run_dir / "history.csv").write_text("epoch,seconds\n1,50\n2,50\n3,50\n")
    now[0] = 300.0
    progress.polled(job, handle)
    progress.ended({"model": "resnet18", "status": "failed", "seconds": 301.0,
                    "error": "DeadKernelError: Kernel died\nmore"})
    assert [line[11:] for line in lines] == [
        "resnet18: started as job 4200_0; log logs/resnet18.log, run run",
        "resnet18: pending",
        "resnet18: running (was pending)",
        "resnet18: running 4 min, epoch 3/30 done",
        "[1/2] resnet18: failed, DeadKernelError: Kernel died, in 5 min 1 s"]
    assert all(re.match(r"^\[\d\d:\d\d:\d\d\] ", line) for line in lines)


def stand_in_slurm(tmp_path: Path, monkeypatch) -> Path:
    """tests/fake_slurm/ first on PATH (copied, executable); returns its state folder."""
    bin_dir = tmp_path / "bin"
    shutil.copytree(Path(__file__).parent / "fake_slurm", bin_dir)
    for command in bin_dir.iterdir():
        command.chmod(command.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(tmp_path / "slurm"))
    return tmp_path / "slurm"


def wait_for(condition, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_slurm_array_is_submitted_and_a_preempted_job_resumes(tmp_path: Path, monkeypatch,
                                                              capsys) -> None:
    state = stand_in_slurm(tmp_path, monkeypatch)
    notebook, out = make_notebook(tmp_path), tmp_path / "batch"
    config = tmp_path / "slurm.yaml"
    config.write_text("partition: gpu\ntime: '1:00:00'\ngpus_per_job: 1\ncpus_per_task: 8\n"
                      "mem: 16G\narray_parallelism: 2\nsetup: [echo ready]\n")
    argv = [str(notebook), "--profile", "smoke", "--models", "resnet18,vgg11,nope",
            "--out", str(out), "--cluster", "slurm", "--slurm-config", str(config),
            "--cpus-per-task", "2", "-p", "epochs", "6", "-p", "epoch_s", "0.5",
            "--poll-s", "0.5"]
    codes: list[int] = []
    batch = threading.Thread(target=lambda: codes.append(main(argv)))
    batch.start()
    try:  # preempt resnet18 (task 0) after two epochs, as SLURM does near a time limit
        checkpoint = out / "runs" / "resnet18" / "checkpoint.json"
        wait_for(lambda: checkpoint.is_file() and json.loads(checkpoint.read_text())["epoch"] >= 2)
        (script,) = state.glob("*.sh")
        subprocess.run(["scancel", f"{script.stem}_0", "--signal=USR2"], check=True)
    finally:
        batch.join(timeout=180)
    assert codes == [1]

    text = script.read_text()  # the one sbatch script: an array of 3, 2 at a time
    assert "#SBATCH --array=0-2%2" in text
    for flag in ("--partition=gpu", "--time=60", "--gpus-per-node=1", "--cpus-per-task=2",
                 "--mem=16G", "--signal=USR2@120"):
        assert f"#SBATCH {flag}\n" in text
    assert "\necho ready\n" in text
    assert f"{sys.executable} -u -m submitit.core._submit {out / 'cluster' / '%j'}" in text
    assert (state / "next_id").read_text().strip() == str(int(script.stem) + 1)  # one sbatch

    summary = read_summary(out)
    assert list(summary["status"]) == ["ok", "ok", "failed"]
    assert "ValueError: unknown backbone nope" in summary.loc["nope", "error"]
    assert summary.loc["resnet18", "test_acc"] == pytest.approx(0.6)
    assert (state / "requeued").read_text().split() == [f"{script.stem}_0"]
    run = out / "runs" / "resnet18"
    first, resumed = (int(x) for x in (run / "attempts.txt").read_text().split())
    assert first == 0 and resumed >= 2  # the rerun started from the checkpoint
    started = (run / "epochs.txt").read_text().split()
    assert len(started) <= 6 + 1 and sorted(set(started)) == [str(e) for e in range(6)]
    assert (out / "runs" / "vgg11" / "attempts.txt").read_text().split() == ["0"]
    lines = printed(capsys)
    for task, model in enumerate(["resnet18", "vgg11", "nope"]):
        assert (f"{model}: submitted as job {script.stem}_{task}; log logs/{model}.log, "
                f"run runs/{model}") in lines
    ends = sorted(line.split("] ", 1)[1] for line in lines if re.match(r"\[\d/3\] ", line))
    assert ends == ["nope: failed, ValueError: unknown backbone nope, in",
                    "resnet18: ok, test_acc 0.600, in", "vgg11: ok, test_acc 0.600, in"]


def test_the_local_executor_logs_in_one_flat_folder(tmp_path: Path) -> None:
    """A per-job folder ("%j") races on this executor: its controller may open its log
    before submitit has made the job's folder, and the job fails (seen in a full run)."""
    from fer_course.ops.cluster import make_executor

    executor = make_executor("local", tmp_path / "cluster")
    assert executor.folder == (tmp_path / "cluster").resolve()


def test_cluster_options_and_their_errors(tmp_path: Path, capsys, monkeypatch) -> None:
    notebook = make_notebook(tmp_path)
    config = tmp_path / "slurm.json"
    config.write_text('{"partition": "a100", "time": "2-00:00:00", "gpus": 2}')
    base = [str(notebook), "--models", "resnet18", "--out", str(tmp_path / "b")]
    assert main([*base, "--cluster", "slurm", "--slurm-config", str(config)]) == 2
    assert "unknown SLURM option(s) ['gpus']" in capsys.readouterr().err
    assert main([*base, "--cluster", "slurm", "--gpus", "0"]) == 2
    assert "--gpus is for --cluster local" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun here
    assert main([*base, "--cluster", "slurm"]) == 2
    assert "srun" in capsys.readouterr().err
    assert not (tmp_path / "b" / "runs").exists()


def test_a_finished_run_of_another_recipe_is_not_skipped(tmp_path: Path) -> None:
    """Same parameters, but the recipe the registry makes now differs from the one the
    run recorded (a profile changed in the code): the batch reports it, not its numbers."""
    from dataclasses import asdict

    from fer_course.atomic import atomic_write_json
    from fer_course.ops.batch import changed_identity
    from fer_course.profiles import get_profile
    from fer_course.runs import run_spec

    run = RunFolder(tmp_path / "resnet18")
    run.path.mkdir()
    recipe = json.loads(json.dumps(asdict(run_spec("resnet18").recipe(get_profile("smoke")))))
    atomic_write_json(run.file(RunFolder.METRICS), {"settings": recipe})
    parameters = {"profile": "smoke", "runs_dir": str(tmp_path)}
    assert changed_identity("resnet18", parameters, run) == []
    assert changed_identity("resnet18", {**parameters, "epochs": 7}, run) == [
        f"epochs {recipe['epochs']} -> 7"]
    atomic_write_json(run.file(RunFolder.METRICS), {"settings": {**recipe, "lr": 9.0}})
    assert changed_identity("resnet18", parameters, run) == [
        f"lr 9.0 -> {json.dumps(recipe['lr'])}"]
