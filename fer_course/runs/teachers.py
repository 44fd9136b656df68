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

Consistent teaching: the student sees each face moved, zoomed, mirrored and partly erased,
so targets of the clean face ask it to match an answer to another picture. ``views`` of
every face are drawn once from seeds (``view_draws``), the teacher answers each of them
(``write_teacher_view_targets``), and the student, in epoch ``e``, sees view ``e mod
views`` of every face with the teacher's answer to that very picture
(``teacher_view_targets``); only the noise inside an erased rectangle is drawn afresh.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_course.atomic import atomic_open
from fer_course.augment.small_faces import FaceAugment, draw_augment
from fer_course.home import results_root

__all__ = ["TEACHERS", "save_targets", "save_view_targets", "targets_path", "targets_seconds",
           "teacher_file", "teacher_targets", "teacher_view_targets", "view_draws"]

VIEW_SEED = 7_000_000
"""View ``k``'s random choices come from a generator seeded ``VIEW_SEED + k``."""

TEACHERS: dict[str, tuple[str, ...]] = {
    "best": ("best",),  # a born-again student's teacher: the network itself
    # the best vote of three on PublicTest (0.705) among those holding both runs whose
    # weights were kept when it was chosen (best, best-seed1), with a no-affine variant
    "vote3": ("best", "best-seed1", "best-seed1-no-affine"),
}
"""Every teacher by name: the runs (of the ``best`` profile) whose vote it is."""


def targets_name(teacher: str, views: int = 0) -> str:
    """The file name of ``teacher``'s targets: on the clean faces, or on ``views`` views.

    >>> targets_name("vote3"), targets_name("vote3", 6)
    ('vote3.npz', 'vote3.views6.npz')
    """
    return f"{teacher}.views{views}.npz" if views else f"{teacher}.npz"


def targets_path(teacher: str, profile_name: str = "best", views: int = 0) -> Path:
    """Where the stored targets of ``teacher`` are kept.

    >>> targets_path("best").parts[-3:]
    ('best', 'teachers', 'best.npz')
    """
    return results_root() / profile_name / "teachers" / targets_name(teacher, views)


def teacher_file(teacher: str, runs_dir: str | os.PathLike, views: int = 0) -> Path | None:
    """The stored targets of ``teacher`` (on ``views`` views, or the clean faces) for the
    runs of the folder ``runs_dir`` (``runs/<profile>``): its own ``teachers/`` first,
    then the committed ones of that profile; ``None`` where neither exists.

    >>> import tempfile
    >>> teacher_file("best", tempfile.mkdtemp()) is None
    True
    """
    runs_dir = Path(runs_dir)
    for path in (runs_dir / "teachers" / targets_name(teacher, views),
                 targets_path(teacher, runs_dir.name, views)):
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


def view_draws(n: int, augment: FaceAugment, view: int) -> torch.Tensor:
    """The random choices (``draw_augment``) of view ``view`` of ``n`` faces in stored
    order: the same on every machine, so only the teacher's answers need storing.

    >>> torch.equal(view_draws(4, FaceAugment(), 1), view_draws(4, FaceAugment(), 1))
    True
    """
    return draw_augment(n, augment, torch.Generator().manual_seed(VIEW_SEED + view))


def save_view_targets(path: str | os.PathLike, rows: Any, view_logp: Any,
                      augment: FaceAugment, seconds: float) -> Path:
    """Store a teacher's log-probabilities ``view_logp [views, N, C]`` on the views of
    the faces of csv ``rows`` (atomically), with the augmentation that drew the views and
    the ``seconds`` the teacher took."""
    rows, logp = np.asarray(rows, np.int64), np.asarray(view_logp, np.float32)
    if logp.ndim != 3 or logp.shape[1] != len(rows):
        raise ValueError(f"{len(rows)} rows but view targets of shape {logp.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, train_rows=rows, view_logp=logp.astype(np.float16),
                            augment=json.dumps(asdict(augment)), seconds=float(seconds))
    return path


def targets_seconds(path: str | os.PathLike) -> float | None:
    """The seconds the teacher took to answer the views stored at ``path`` (``None`` for
    targets on the clean faces, which do not record it).

    >>> import tempfile
    >>> p = save_view_targets(f"{tempfile.mkdtemp()}/v.npz", [1], np.zeros((2, 1, 7)),
    ...                       FaceAugment(), 61.5)
    >>> targets_seconds(p)
    61.5
    """
    with np.load(path) as stored:
        return float(stored["seconds"]) if "seconds" in stored.files else None


def teacher_view_targets(path: str | os.PathLike, rows: Sequence[int] | Any, views: int,
                         augment: FaceAugment) -> tuple[torch.Tensor, torch.Tensor]:
    """The stored answers on ``views`` views at ``path`` in the order of csv ``rows``,
    ``[N, views, C]``, and the views' random choices ``[N, views, len(DRAWN)]``. The
    file must hold at least ``views`` views, drawn with the same ``augment``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no teacher targets on views at {path}: write them first "
                                "with fer_course.engine.inference.write_teacher_view_targets")
    with np.load(path) as stored:
        stored_rows, logp = stored["train_rows"], stored["view_logp"]
        drawn_with = json.loads(str(stored["augment"]))
    if drawn_with != json.loads(json.dumps(asdict(augment))):
        raise ValueError(f"{path} holds views drawn with {drawn_with}, not with the "
                         f"run's augmentation {asdict(augment)}")
    if len(logp) < views:
        raise ValueError(f"{path} holds {len(logp)} views; the run asks for {views}")
    where = {int(r): i for i, r in enumerate(stored_rows)}
    wanted = np.asarray(rows, np.int64)
    missing = [int(r) for r in wanted if int(r) not in where]
    if missing:
        raise ValueError(f"{path} has no targets for {len(missing)} training rows "
                         f"(first: {missing[:5]}): it was made on other data")
    order = torch.as_tensor([where[int(r)] for r in wanted])
    drawn = torch.stack([view_draws(len(stored_rows), augment, k)[order]
                         for k in range(views)], 1)
    answers = torch.from_numpy(logp[:views].astype(np.float32)).permute(1, 0, 2)
    return answers[order].contiguous(), drawn
