"""``python -m fer_course``: the command line (``fer_course.ops.cli``)."""

import sys

from fer_course.ops.cli import main

if __name__ == "__main__":
    sys.exit(main())
