"""Run cards and atomic writes: every result says what produced it, and no file is half-written.

A run card names the chapter, the profile and every knob, the data (source and split
sizes), the device, the library versions, when the run started and how long it took.

>>> from fer_course.profiles import get_profile
>>> card = RunCard.start("demo", get_profile("smoke"))
>>> card.profile["name"]
'smoke'
"""

from __future__ import annotations

import json
import os
import platform
import textwrap
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .atomic import atomic_open, atomic_write_text
from .devices import describe_device, pick_device
from .profiles import Profile


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """``atomic_write_text`` of ``obj`` as indented json."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries whose behaviour shapes results."""
    import numpy
    import torchvision

    return {
        "python": platform.python_version(),
        "fer_course": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
    }


WIDTH = 72  # characters: a printed card fits the book's column and needs no scrolling


@dataclass
class RunCard:
    """What produced a chapter's outputs. ``start`` it first, ``finish`` it last."""

    chapter: str
    profile: dict[str, Any]
    device: str
    versions: dict[str, str]
    started: str
    data: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float | None = None
    _t0: float = field(default_factory=time.perf_counter, repr=False)

    @classmethod
    def start(cls, chapter: str, profile: Profile | dict[str, Any],
              device: torch.device | str | None = None) -> RunCard:
        """A card for a run beginning now, on ``device`` (default: ``pick_device()``).
        ``profile`` is a ``Profile`` or any dict of the run's settings."""
        settings = profile.as_dict() if isinstance(profile, Profile) else dict(profile)
        return cls(
            chapter=chapter, profile=settings,
            device=describe_device(device or pick_device()), versions=library_versions(),
            started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        )

    def record_data(self, data: Any) -> RunCard:
        """Note the data set's source, split sizes and notes (a ``FERData``)."""
        return self.record_source(data.source, data.counts(), data.notes)

    def record_source(self, source: str, counts: dict[str, int], notes: Any = ()) -> RunCard:
        """Note the data by name and split sizes, e.g. as a run folder's settings give them."""
        self.data = {"source": source, "counts": dict(counts), "notes": list(notes)}
        return self

    def finish(self) -> RunCard:
        """Record the wall time since ``start``."""
        self.wall_time_s = round(time.perf_counter() - self._t0, 1)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the card as json, atomically."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunCard:
        """A card saved by ``save``: what produced a run folder, where and how long it took."""
        return cls(**json.loads(Path(path).read_text()))

    def __str__(self) -> str:
        p = self.profile
        lines = [f"run card · {self.chapter}"]
        if "description" in p:  # a chapter's card: the profile, not a run's knobs
            lines += textwrap.wrap(f"{p['name']}: {p['description']}", width=WIDTH,
                                   initial_indent="  profile   ", subsequent_indent=" " * 12)
        else:  # a run's card: its recipe
            lines += textwrap.wrap(", ".join(f"{k} {v}" for k, v in p.items()), width=WIDTH,
                                   initial_indent="  settings  ", subsequent_indent=" " * 12)
        if self.data:
            c = self.data["counts"]
            lines.append(f"  data      {self.data['source']}: train {c['train']:,} / "
                         f"val {c['val']:,} / test {c['test']:,}")
            lines += [f"            note: {n}" for n in self.data["notes"]]
        lines += [
            f"  device    {self.device}",
            *textwrap.wrap(", ".join(f"{k} {v}" for k, v in self.versions.items()), width=WIDTH,
                           initial_indent="  versions  ", subsequent_indent=" " * 12),
            f"  started   {self.started}",
        ]
        if self.wall_time_s is not None:
            lines.append(f"  wall time {self.wall_time_s:.1f} s")
        return "\n".join(lines)


class RunFolder:
    """The files one training run leaves behind, read and written in one place.

    ``checkpoint.pt`` (after every epoch), ``history.csv`` (one row per epoch),
    ``predictions.npz`` (val and test probabilities with labels), ``metrics.json``
    (written last: its presence marks a finished run) and ``run_card.json``.

    >>> import tempfile
    >>> run = RunFolder(Path(tempfile.mkdtemp()) / "resnet18")
    >>> run.is_finished()
    False
    """

    CHECKPOINT = "checkpoint.pt"
    HISTORY = "history.csv"
    METRICS = "metrics.json"
    PREDICTIONS = "predictions.npz"
    CARD = "run_card.json"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({self.path.name!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def is_finished(self) -> bool:
        return self.file(self.METRICS).is_file()

    def save_checkpoint(self, state: dict[str, Any]) -> Path:
        """``torch.save`` through a temporary file and a rename: a kill never corrupts it."""
        with atomic_open(self.file(self.CHECKPOINT), "wb") as f:
            torch.save(state, f)
        return self.file(self.CHECKPOINT)

    def load_checkpoint(self, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """The last checkpoint (tensors and plain values only), or ``None`` if there is none."""
        target = self.file(self.CHECKPOINT)
        if not target.is_file():
            return None
        return torch.load(target, map_location=map_location, weights_only=True)

    def write_history(self, rows: list[dict[str, Any]]) -> Path:
        import pandas as pd

        return atomic_write_text(self.file(self.HISTORY), pd.DataFrame(rows).to_csv(index=False))

    def read_history(self):
        """``history.csv`` as a DataFrame (one row per finished epoch)."""
        import pandas as pd

        return pd.read_csv(self.file(self.HISTORY))

    def write_metrics(self, metrics: dict[str, Any]) -> Path:
        return atomic_write_json(self.file(self.METRICS), metrics)

    def read_metrics(self) -> dict[str, Any]:
        return json.loads(self.file(self.METRICS).read_text())

    def write_predictions(self, **arrays: Any) -> Path:
        """Save arrays such as ``val_probs``, ``val_labels``, ``test_probs``, ``test_labels``."""
        import numpy as np

        with atomic_open(self.file(self.PREDICTIONS), "wb") as f:
            np.savez_compressed(f, **arrays)
        return self.file(self.PREDICTIONS)

    def read_predictions(self, data: Any = None) -> dict[str, Any]:
        """The saved arrays (a run folder keeps its labels; ``data`` is not needed)."""
        import numpy as np

        with np.load(self.file(self.PREDICTIONS)) as z:
            return {k: z[k] for k in z.files}


def find_runs(runs_dir: str | os.PathLike, setting: str | None = None) -> list[RunFolder]:
    """Every finished run directly under ``runs_dir``, sorted by name; with ``setting``,
    only runs whose settings have that key (``"arch"``: the backbone runs of ``fit``)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    runs = [RunFolder(p) for p in sorted(root.iterdir()) if RunFolder(p).is_finished()]
    if setting is not None:
        runs = [r for r in runs if setting in r.read_metrics().get("settings", {})]
    return runs


RUNS_DIR_ENV = "FER_COURSE_RUNS_DIR"


def default_runs_dir(profile_name: str) -> Path:
    """``$FER_COURSE_RUNS_DIR/<profile>`` if that variable is set, else ``runs/<profile>``.

    >>> default_runs_dir("smoke").name
    'smoke'
    """
    return Path(os.environ.get(RUNS_DIR_ENV, "runs")) / profile_name
