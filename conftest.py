"""Root pytest setup: the unit tests and the notebooks (nbval) all run in the ``smoke`` profile."""

import os
import tempfile

# Set before nbval starts any kernel: kernels inherit this process's environment.
os.environ["FER_COURSE_PROFILE"] = "smoke"
os.environ.setdefault("MPLBACKEND", "Agg")
# Chapters write their run folders here, never into the working tree, and train afresh.
os.environ["FER_COURSE_RUNS_DIR"] = tempfile.mkdtemp(prefix="fer-course-test-runs-")
