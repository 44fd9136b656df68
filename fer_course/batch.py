"""``python -m fer_course.batch``: a chapter over many models or settings.

The runner lives in ``fer_course.ops.batch``; this name is the command users type.
"""

from fer_course.ops.batch import main

if __name__ == "__main__":
    main()
