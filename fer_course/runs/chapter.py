"""A chapter's set-up in one call: its profile, its data, where its runs live, the run
store, whether it may train, and its run card (printed, so every page states its run).

>>> chapter = start_chapter("01 · data", "smoke", print_card=False)
>>> cfg, data, store, card, runs_dir, train_missing = chapter
>>> cfg.name, data.source.startswith("synthetic"), train_missing
('smoke', True, True)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from fer_course.data import load_profile_data
from fer_course.data.types import FERData
from fer_course.profiles import Profile, default_profile_name, get_profile
from fer_course.runs.cards import RunCard
from fer_course.runs.folder import default_runs_dir
from fer_course.runs.store import RunStore, resolve_train_missing

__all__ = ["Chapter", "start_chapter"]


class Chapter(NamedTuple):
    """What a chapter works with (unpacks in this order)."""

    cfg: Profile
    data: FERData
    store: RunStore  # local runs first, then the committed results
    card: RunCard
    runs_dir: Path
    train_missing: bool


def start_chapter(title: str, profile: str | None = None, *,
                  data_path: str | os.PathLike | None = None,
                  runs_dir: str | os.PathLike | None = None, train_missing: Any = None,
                  own_profile: str | None = None, print_card: bool = True,
                  **overrides: Any) -> Chapter:
    """Set up the chapter ``title`` from its parameters.

    ``profile`` (``None``: ``$FER_COURSE_PROFILE``, else ``own_profile`` where the chapter
    has one and the default is not ``smoke``) with ``overrides`` (``None`` ignored);
    ``data_path`` as ``load_profile_data`` takes it; ``runs_dir`` (``None``: the runs
    folder of the profile under the course's home); ``train_missing`` as
    ``resolve_train_missing`` reads it. The run card's data lines are printed.
    """
    if profile is None and own_profile is not None and default_profile_name() != "smoke":
        profile = own_profile
    cfg = get_profile(profile, **{k: v for k, v in overrides.items() if v is not None})
    runs = Path(runs_dir) if runs_dir else default_runs_dir(cfg.name)
    card = RunCard.start(title, cfg)
    data = load_profile_data(cfg, data_path)
    card.record_data(data)
    if print_card:
        print(card)
    return Chapter(cfg, data, RunStore(cfg.name, runs), card, runs,
                   resolve_train_missing(train_missing, cfg.name))
