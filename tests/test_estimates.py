"""T4 time estimated from multiply-adds: counted right, ordered sensibly, marked as
estimates, and the ``colab`` profile within its stated budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_course.engine.estimates import (
    T4_EFFECTIVE_FLOPS,
    estimate_minutes,
    estimate_note,
    estimate_table,
    multiply_adds,
    run_flops,
)
from fer_course.engine.named_runs import training_estimate
from fer_course.models.backbones import PAPER_BACKBONES, build_backbone
from fer_course.models.shapes import network_profile
from fer_course.profiles import COLAB_SESSION_MINUTES, get_profile
from fer_course.runs import RunStore, results_root, run_spec

COLAB, PAPER = get_profile("colab"), get_profile("paper")


def test_resnet18_costs_the_known_1_8_gmacs_at_224_px() -> None:
    assert multiply_adds("resnet18", 224) == pytest.approx(1.8e9, rel=0.05)
    assert multiply_adds("vgg16", 224) == pytest.approx(15.5e9, rel=0.05)


def test_the_meta_device_count_agrees_with_a_real_forward_pass() -> None:
    real = network_profile(build_backbone("resnet18", num_classes=7), (1, 3, 64, 64))
    assert multiply_adds("resnet18", 64) == real["multiply_adds"]


def test_every_estimate_is_positive_and_ordered_by_cost() -> None:
    table = estimate_table(COLAB)
    assert table.arch.tolist() == [*PAPER_BACKBONES, "total"]
    minutes = table.set_index("arch").minutes
    assert (minutes > 0).all()
    assert minutes["vgg19"] > minutes["vgg11"] > minutes["resnet18"]
    assert minutes["resnet152"] > minutes["resnet50"] > minutes["resnet18"]
    assert minutes["wide_resnet101_2"] == minutes.drop("total").max()
    assert minutes["total"] == pytest.approx(minutes.drop("total").sum())


def test_estimates_are_marked_as_such() -> None:
    table = estimate_table(COLAB)
    assert not table.measured.any() and table.attrs["measured"] is False
    assert table.attrs["note"] == estimate_note() and "not yet measured" in estimate_note()
    assert f"{T4_EFFECTIVE_FLOPS / 1e12:g} TFLOP/s" in estimate_note()


def test_colab_fits_its_session_and_paper_takes_about_a_day() -> None:
    colab = estimate_table(COLAB).minutes.iloc[-1]
    paper = estimate_table(PAPER).minutes.iloc[-1]
    assert colab <= COLAB_SESSION_MINUTES
    assert paper > 8 * colab
    assert 15 * 60 < paper < 40 * 60  # about a day of T4 time at 224 px, 30 epochs
    # 12 TFLOP/s would make it about 20 hours; the assumed throughput is lower
    at_12 = sum(estimate_minutes(arch, PAPER, 12e12) for arch in PAPER_BACKBONES)
    assert at_12 == pytest.approx(20 * 60, rel=0.1)


def test_fewer_images_and_epochs_cost_proportionally_less() -> None:
    half = get_profile("colab", train_limit=28709 // 2)
    assert run_flops("resnet18", half) < 0.55 * run_flops("resnet18", COLAB)
    one = run_flops("resnet18", get_profile("colab", epochs=1))
    two = run_flops("resnet18", get_profile("colab", epochs=2))
    assert two < 2 * one  # the final evaluation is paid once


def test_training_estimate_uses_the_estimate_under_gpu_profiles(tmp_path: Path,
                                                                monkeypatch) -> None:
    card = {"chapter": "resnet18", "profile": {}, "device": "cpu (2 cores, Test CPU)",
            "versions": {}, "started": "", "wall_time_s": 600.0}
    (tmp_path / "cpu" / "resnet18").mkdir(parents=True)
    (tmp_path / "cpu" / "resnet18" / "run_card.json").write_text(json.dumps(card))
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path))
    cpu = get_profile("cpu")
    assert training_estimate("resnet18", cpu) == "about 10 minutes on cpu (2 cores, Test CPU)"
    assert training_estimate("vgg11", cpu) == "no stored run of vgg11 to time it by"
    vgg = training_estimate("vgg11-seed3", COLAB)
    assert vgg.startswith("about 8 minutes on a T4 GPU") and vgg.endswith(
        f"({estimate_note()})")
    r18 = training_estimate("resnet18", PAPER)
    assert r18.startswith("the stored cpu run took about 10 minutes") and "30 epochs" in r18
    assert r18.endswith(f"expect about 21 minutes on a T4 GPU ({estimate_note()})")
    assert training_estimate("no-such-arch", COLAB) == "no stored run of no-such-arch to time it by"


def test_colab_runs_are_stored_under_their_own_name_and_none_are_committed() -> None:
    assert run_spec("vgg19").profile_under(COLAB).name == "colab"
    assert run_spec("best-seed1").profile_under(COLAB).name == "best"
    store = RunStore("colab")
    assert store.runs_dir.name == "colab" and store.results_dir.name == "colab"
    assert not (results_root() / "colab").exists()


def test_the_estimate_warns_where_this_cpu_lacks_the_stored_runs_bf16(tmp_path: Path,
                                                                       monkeypatch) -> None:
    from fer_course.engine import named_runs

    card = {"chapter": "best", "profile": {"precision_used": "bf16"},
            "device": "cpu (2 cores, Test CPU)", "versions": {}, "started": "",
            "wall_time_s": 3000.0}
    (tmp_path / "best" / "best").mkdir(parents=True)
    (tmp_path / "best" / "best" / "run_card.json").write_text(json.dumps(card))
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path))
    monkeypatch.setattr(named_runs.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(named_runs, "cpu_has_bf16", lambda: False)
    assert training_estimate("best", get_profile("best")) == (
        "about 50 minutes on cpu (2 cores, Test CPU); it computed in bf16, which "
        f"this CPU lacks: in fp32 expect about {named_runs.FP32_SLOWDOWN:g} times as long")
    monkeypatch.setattr(named_runs, "cpu_has_bf16", lambda: True)
    assert training_estimate("best", get_profile("best")) == (
        "about 50 minutes on cpu (2 cores, Test CPU)")
