"""Execute the book's chapters in place, as the website shows them: the `cpu` profile, the
real FER-2013, nothing trained (`train_missing` false), the committed runs of `results/`.

The data is found the way a reader's is (`$FER2013_PATH`, `$FERPLUS_PATH`, `data/`), so
no path of this machine lands in a notebook. Runs folders go to an empty `runs/fresh/`,
so the chapters read only what a fresh clone has. Each chapter's wall time is printed and,
with `--times`, written as Markdown.

    FER2013_PATH=data/fer2013.npz python tools/execute_chapters.py
    python tools/execute_chapters.py --chapters 04,05 --times benchmarks/results/chapters.md
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", default=None, help="comma list of prefixes, e.g. 02,04")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--times", default=None, help="write the wall times here (Markdown)")
    parser.add_argument("--runs-dir", default="fresh",
                        help="the empty runs folder under runs/ (one per parallel execution)")
    args = parser.parse_args(argv)
    chapters = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    if args.chapters:
        wanted = tuple(args.chapters.split(","))
        chapters = [c for c in chapters if c.name.startswith(wanted)]
    os.environ["FER_COURSE_PROFILE"] = args.profile
    fresh = ROOT / "runs" / args.runs_dir  # an empty runs folder, as in a fresh clone (ignored)
    shutil.rmtree(fresh, ignore_errors=True)
    os.environ["FER_COURSE_RUNS_DIR"] = f"../runs/{args.runs_dir}"  # relative: no machine path
    rows, failed = [], []
    for chapter in chapters:
        t0 = time.time()
        notebook = nbformat.read(chapter, as_version=4)
        client = NotebookClient(notebook, timeout=1800, kernel_name="python3",
                                resources={"metadata": {"path": str(chapter.parent)}})
        try:  # train_missing stays None: false outside smoke, so nothing is trained
            client.execute()
            nbformat.write(notebook, chapter)
        except CellExecutionError as error:
            failed.append(chapter.name)
            print(f"{chapter.name}: FAILED: {str(error)[-2000:]}", file=sys.stderr)
        seconds = time.time() - t0
        rows.append((chapter.name, seconds))
        print(f"{chapter.name}: {seconds:.0f} s", flush=True)
    if args.times:
        cpu = platform.processor() or platform.machine()
        from fer_course.devices import cpu_model

        lines = [f"# Chapter execution times ({args.profile} profile, real FER-2013, no training)",
                 "", f"Machine: {os.cpu_count()} cores, {cpu_model() or cpu}.", "",
                 "| chapter | seconds |", "| --- | --- |",
                 *[f"| {name} | {s:.0f} |" for name, s in rows]]
        Path(args.times).write_text("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
