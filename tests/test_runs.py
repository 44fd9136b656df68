"""Run cards and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_course.atomic import atomic_write_text
from fer_course.profiles import get_profile
from fer_course.runs import RunCard, atomic_write_json


def test_run_card_names_profile_data_device_versions_and_time(small_synthetic, tmp_path) -> None:
    card = RunCard.start("test chapter", get_profile("smoke", epochs=2), device="cpu")
    card.record_data(small_synthetic).finish()
    text = str(card)
    assert "profile   smoke: synthetic data" in text and "settings" not in text  # no knobs
    assert "synthetic (seed 1): train 140 / val 35 / test 35" in text
    assert "cpu (" in text and "torch " in text and "wall time" in text
    saved = json.loads(card.save(tmp_path / "card.json").read_text())
    assert saved["profile"]["epochs"] == 2
    assert saved["data"]["counts"] == {"train": 140, "val": 35, "test": 35}
    assert saved["wall_time_s"] >= 0
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
