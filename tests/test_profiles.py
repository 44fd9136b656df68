"""The profile switch: names, the environment variable, explicit overrides."""

from __future__ import annotations

import pytest

from fer_course.models.backbones import PAPER_BACKBONES, min_input_size
from fer_course.profiles import ENV_VAR, PROFILES, get_profile


def test_every_profile_is_complete_and_named_after_its_key() -> None:
    assert set(PROFILES) == {"smoke", "cpu", "paper", "colab", "best"}
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert profile.data in {"synthetic", "fer2013"}


def test_paper_profile_is_the_papers_recipe() -> None:
    paper = get_profile("paper")
    assert (paper.image_size, paper.epochs, paper.batch_size) == (224, 30, 64)
    assert (paper.lr, paper.momentum, paper.weight_decay, paper.lr_factor) == (
        1e-2, 0.9, 5e-4, 0.5)
    assert paper.weights == "imagenet"
    assert get_profile("smoke").data == "synthetic"


def test_colab_profile_is_the_papers_recipe_shrunk_in_size_and_epochs_only() -> None:
    colab, paper = get_profile("colab"), get_profile("paper")
    kept = ("data", "batch_size", "lr", "momentum", "weight_decay", "lr_factor", "weights",
            "train_limit", "max_rotation", "label_smoothing", "precision")
    assert {k: getattr(colab, k) for k in kept} == {k: getattr(paper, k) for k in kept}
    assert colab.weights == "imagenet" and colab.train_limit is None
    assert colab.image_size < paper.image_size and colab.epochs < paper.epochs
    # the plateau cut stays reachable: patience scaled with the epochs
    assert colab.plateau_patience < colab.epochs
    assert all(min_input_size(arch) <= colab.image_size for arch in PAPER_BACKBONES)


def test_environment_variable_chooses_the_default(monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "colab")
    assert get_profile().name == "colab"
    monkeypatch.setenv(ENV_VAR, "paper")
    assert get_profile().name == "paper"
    assert get_profile(None).name == "paper"
    assert get_profile("cpu").name == "cpu"  # an explicit name beats the environment


def test_without_environment_the_default_is_the_stored_profile(monkeypatch) -> None:
    """cpu on any machine: the committed runs are cpu runs, so Colab's GPU shows them too."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    import torch

    for gpu in (False, True):
        monkeypatch.setattr(torch.cuda, "is_available", lambda gpu=gpu: gpu)
        assert get_profile().name == "cpu"


def test_explicit_parameters_override_and_none_is_ignored() -> None:
    p = get_profile("paper", epochs=2, batch_size=None, lr=0.1)
    assert (p.epochs, p.batch_size, p.lr) == (2, 64, 0.1)
    assert PROFILES["paper"].epochs == 30  # the registry is untouched


def test_bad_names_are_explained(monkeypatch) -> None:
    with pytest.raises(ValueError,
                       match=r"unknown profile 'fast'; choose one of \['best', 'colab', 'cpu'"):
        get_profile("fast")
    monkeypatch.setenv(ENV_VAR, "gpu")
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        get_profile()
    with pytest.raises(ValueError, match=r"unknown profile field\(s\) \['epoch'\]"):
        get_profile("smoke", epoch=3)
