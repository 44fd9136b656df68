"""``python -m fer_course.batch``: a chapter over many models or settings.

The runner lives in ``fer_course.ops.batch``; this name is the command users type. Its exit
status is the runner's: 0 all done, 1 some model failed, 2 the batch could not start.
"""

import sys

from fer_course.ops.batch import main

if __name__ == "__main__":
    sys.exit(main())
