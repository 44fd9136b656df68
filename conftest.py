"""Root pytest setup: the unit tests and the notebooks (nbval) all run in the ``smoke`` profile."""

import os

# Set before nbval starts any kernel: kernels inherit this process's environment.
os.environ["FER_COURSE_PROFILE"] = "smoke"
os.environ.setdefault("MPLBACKEND", "Agg")
