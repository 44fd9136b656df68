"""Run cards and atomic writes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fer_course.atomic import atomic_write_json, atomic_write_text
from fer_course.profiles import get_profile
from fer_course.runs.cards import RunCard


def test_run_card_names_profile_data_device_versions_and_time(small_synthetic, tmp_path) -> None:
    outer = time.perf_counter()
    card = RunCard.start("test chapter", get_profile("smoke", epochs=2), device="cpu")
    time.sleep(0.25)
    card.record_data(small_synthetic).finish()
    outer = time.perf_counter() - outer
    text = str(card)
    assert "profile   smoke: synthetic data" in text and "settings" not in text  # no knobs
    assert "synthetic (seed 1): train 140 / val 35 / test 35" in text
    assert "cpu (" in text and "torch " in text
    assert f"wall time {card.wall_time_s:.1f} s" in text
    saved = json.loads(card.save(tmp_path / "card.json").read_text())
    assert saved["profile"]["epochs"] == 2
    assert saved["data"]["counts"] == {"train": 140, "val": 35, "test": 35}
    # the time from start to finish, to 0.1 s: at least the sleep, at most what was measured
    assert 0.2 <= saved["wall_time_s"] <= round(outer, 1) + 0.1
    assert saved["wall_time_s"] == round(saved["wall_time_s"], 1)
    run_card = RunCard.start("resnet18", {"arch": "resnet18", "epochs": 2}, device="cpu")
    assert "settings  arch resnet18, epochs 2" in str(run_card)  # a run's card: its recipe
    assert "_t0" not in saved


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path: Path, monkeypatch) -> None:
    target = atomic_write_json(tmp_path / "metrics.json", {"acc": 0.5})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("fer_course.atomic.os.replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "half")
    assert json.loads(target.read_text()) == {"acc": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left over


def test_a_long_run_card_says_minutes() -> None:
    card = RunCard.start("test chapter", get_profile("smoke"), device="cpu")
    card.wall_time_s = 2224.7  # from 90 s on, in minutes: the unit the pages use
    assert "wall time 37.1 min" in str(card)
