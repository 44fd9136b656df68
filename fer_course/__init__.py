"""fer_course: the helper library of the fer-course book.

The chapters in ``book/`` tell the story; this package does the work:
``profiles`` (how big a run is), ``data`` (FER-2013 readers, synthetic data),
``augment`` (batched augmentation on the training device), ``runs`` (run cards,
atomic writes), ``plots`` and ``widgets`` (what the chapters show).
"""

__version__ = "0.1.0"
