"""A teacher's targets for distillation: its log-probabilities on every training face,
computed once and stored with the runs, so a student can be retrained without the teacher.

A teacher is a vote of finished runs with weights (``TEACHERS``): the log of the mean of
their (mirror-averaged) probabilities on each clean training face.
``fer_course.engine.inference.write_teacher_targets`` computes them; ``save_targets``
stores them by csv row in ``results/<profile>/teachers/<teacher>.npz`` (float16 log
probabilities and the rows: predictions, no image or label); ``teacher_targets`` reads them
back in the order of the training faces a run uses and says which rows are missing.

>>> import tempfile, numpy as np
>>> from fer_course.data import make_synthetic_fer
>>> data = make_synthetic_fer(14, 7, 7)
>>> path = f"{tempfile.mkdtemp()}/t.npz"
>>> logp = np.log(np.full((14, 7), 1 / 7))
>>> _ = save_targets(path, data.train.rows, logp)
>>> teacher_targets(path, data.train.rows).shape
torch.Size([14, 7])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_course.atomic import atomic_open
from fer_course.home import results_root

__all__ = ["TEACHERS", "save_targets", "targets_path", "teacher_file", "teacher_targets"]

TEACHERS: dict[str, tuple[str, ...]] = {
    "best": ("best",),  # a born-again student's teacher: the network itself
    # the best vote of three on PublicTest (0.705) among those holding both runs whose
    # weights were kept when it was chosen (best, best-seed1), with a no-affine variant
    "vote3": ("best", "best-seed1", "best-seed1-no-affine"),
}
"""Every teacher by name: the runs (of the ``best`` profile) whose vote it is."""


def targets_path(teacher: str, profile_name: str = "best") -> Path:
    """Where the stored targets of ``teacher`` are kept.

    >>> targets_path("best").parts[-3:]
    ('best', 'teachers', 'best.npz')
    """
    return results_root() / profile_name / "teachers" / f"{teacher}.npz"


def teacher_file(teacher: str, runs_dir: str | os.PathLike) -> Path | None:
    """The stored targets of ``teacher`` for the runs of the folder ``runs_dir``
    (``runs/<profile>``): its own ``teachers/`` first, then the committed ones of that
    profile; ``None`` where neither exists.

    >>> import tempfile
    >>> teacher_file("best", tempfile.mkdtemp()) is None
    True
    """
    runs_dir = Path(runs_dir)
    for path in (runs_dir / "teachers" / f"{teacher}.npz",
                 targets_path(teacher, runs_dir.name)):
        if path.is_file():
            return path
    return None


def save_targets(path: str | os.PathLike, rows: Any, logp: Any) -> Path:
    """Store log-probabilities ``logp [N, C]`` of the faces of csv ``rows`` (atomically)."""
    rows, logp = np.asarray(rows, np.int64), np.asarray(logp, np.float32)
    if logp.ndim != 2 or len(rows) != len(logp):
        raise ValueError(f"{len(rows)} rows but targets of shape {logp.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, train_rows=rows, train_logp=logp.astype(np.float16))
    return path


def teacher_targets(path: str | os.PathLike, rows: Sequence[int] | Any) -> torch.Tensor:
    """The stored log-probabilities at ``path`` in the order of csv ``rows`` (float32)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no teacher targets at {path}: write them first with "
                                "fer_course.engine.inference.write_teacher_targets")
    with np.load(path) as stored:
        where = {int(r): i for i, r in enumerate(stored["train_rows"])}
        logp = stored["train_logp"].astype(np.float32)
    wanted = np.asarray(rows, np.int64)
    missing = [int(r) for r in wanted if int(r) not in where]
    if missing:
        raise ValueError(f"{path} has no targets for {len(missing)} training rows "
                         f"(first: {missing[:5]}): it was made on other data")
    return torch.from_numpy(logp[[where[int(r)] for r in wanted]])
