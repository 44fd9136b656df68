"""``python -m fer_course.batch``: a chapter over many models or settings, the same as
``python -m fer_course batch``.

The runner lives in ``fer_course.ops.batch``. Its exit status is the runner's: 0 all done,
1 some model failed, 2 the batch could not start (also when the ``batch`` extra is missing).
"""

import sys

from fer_course.ops.cli import run_batch

if __name__ == "__main__":
    sys.exit(run_batch(sys.argv[1:]))
