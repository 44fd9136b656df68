"""Build hook: the stored runs whose weights ship travel inside the wheel.

``results/<profile>/<run>/`` holds every committed run; a run with ``weights.pt`` is one the
course ships (``load_pretrained``). Its weights, their checksum, metrics, history and run
card are copied into the built package as ``fer_course/shipped/<profile>/<run>/``, where an
installed ``fer_course`` finds them with ``importlib.resources`` (``fer_course.home``).
Predictions stay in the repository. An editable install reads ``results/`` in place.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED_FILES = ("weights.pt", "weights.json", "metrics.json", "history.csv", "run_card.json")


class BuildWithShippedRuns(build_py):
    """``build_py`` that also copies the shipped runs into ``fer_course/shipped``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        results = Path(__file__).resolve().parent / "results"
        target = Path(self.build_lib) / "fer_course" / "shipped"
        for weights in sorted(results.glob("*/*/weights.pt")):
            run = weights.parent
            if run.parent.name.endswith("-ablation"):  # kept for teachers, not shipped
                continue
            dest = target / run.parent.name / run.name
            dest.mkdir(parents=True, exist_ok=True)
            for name in SHIPPED_FILES:
                if (run / name).is_file():
                    shutil.copy2(run / name, dest / name)


setup(cmdclass={"build_py": BuildWithShippedRuns})
