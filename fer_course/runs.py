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
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .devices import describe_device, pick_device
from .profiles import Profile


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename: all or nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
    def start(cls, chapter: str, profile: Profile, device: torch.device | str | None = None,
              ) -> RunCard:
        """A card for a run beginning now, on ``device`` (default: ``pick_device()``)."""
        return cls(
            chapter=chapter, profile=profile.as_dict(),
            device=describe_device(device or pick_device()), versions=library_versions(),
            started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        )

    def record_data(self, data: Any) -> RunCard:
        """Note the data set's source, split sizes and notes (a ``FERData``)."""
        self.data = {"source": data.source, "counts": data.counts(), "notes": list(data.notes)}
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

    def __str__(self) -> str:
        p = self.profile
        lines = [
            f"run card · {self.chapter}",
            f"  profile   {p['name']}: {p['description']}",
            f"  knobs     image {p['image_size']} px, {p['epochs']} epochs, "
            f"batch {p['batch_size']}, lr {p['lr']}, seed {p['seed']}",
        ]
        if self.data:
            c = self.data["counts"]
            lines.append(f"  data      {self.data['source']}: train {c['train']:,} / "
                         f"val {c['val']:,} / test {c['test']:,}")
            lines += [f"            note: {n}" for n in self.data["notes"]]
        lines += [
            f"  device    {self.device}",
            *textwrap.wrap(", ".join(f"{k} {v}" for k, v in self.versions.items()), width=78,
                           initial_indent="  versions  ", subsequent_indent=" " * 12),
            f"  started   {self.started}",
        ]
        if self.wall_time_s is not None:
            lines.append(f"  wall time {self.wall_time_s:.1f} s")
        return "\n".join(lines)
