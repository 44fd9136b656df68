"""Run cards: every result says what produced it.

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

from fer_course.atomic import atomic_write_json
from fer_course.devices import describe_device, pick_device, runtime_note
from fer_course.profiles import Profile
from fer_course.version import __version__


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
    notes: list[str] = field(default_factory=list)  # how the run was made, where it matters
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
        if "description" in p:  # a chapter's card: what the device means for the profile
            note = runtime_note(p["name"], self.device.split(" ")[0])
            lines += textwrap.wrap(note, width=WIDTH, initial_indent="  runtime   ",
                                   subsequent_indent=" " * 12) if note else []
        if self.wall_time_s is not None:  # minutes from 90 s on: the unit the pages use
            seconds = self.wall_time_s
            lines.append(f"  wall time {seconds / 60:.1f} min" if seconds >= 90
                         else f"  wall time {seconds:.1f} s")
        lines += textwrap.wrap("; ".join(self.notes), width=WIDTH, initial_indent="  note      ",
                               subsequent_indent=" " * 12) if self.notes else []
        return "\n".join(lines)
