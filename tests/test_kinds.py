"""The table of model kinds: every kind builds, loads and feeds its network the one way, and
every run the registry or the results name has a kind in it."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from fer_course.models import build_backbone
from fer_course.models.autoencoder import build_autoencoder
from fer_course.models.small_cnn import FlipAveraged, SmallFaceNet
from fer_course.profiles import get_profile
from fer_course.runs import REGISTRY, RunFolder, results_root, run_spec
from fer_course.runs.kinds import MODEL_KINDS, kind_of_module, kind_of_settings

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = {"backbone": {"arch": "resnet18"}, "reconstruct": {"latent_dim": 200},
           "classify_frozen": {"latent_dim": 200, "encoder_run": "autoencoder-200"},
           "multitask": {"lam": 1.0}, "best": {}}


def test_every_registry_run_and_committed_run_has_a_kind() -> None:
    assert {spec.kind for spec in REGISTRY.values()} <= set(MODEL_KINDS)
    committed = [p for p in results_root().glob("*/*") if RunFolder(p).is_finished()]
    assert committed
    for path in committed:
        settings = RunFolder(path).read_settings()
        kind = kind_of_settings(settings)
        assert kind.recipe_type.__name__ == settings["recipe"], path
        assert kind.name == run_spec(path.name).kind, path


@pytest.mark.parametrize("name", list(MODEL_KINDS))
def test_a_kind_builds_loads_and_feeds_its_network(name: str) -> None:
    kind = MODEL_KINDS[name]
    recipe = kind.recipe(get_profile("smoke"), OPTIONS[name])
    assert isinstance(recipe, kind.recipe_type)
    settings = {"recipe": type(recipe).__name__, **asdict(recipe)}
    assert kind_of_settings(settings) is kind
    torch.manual_seed(0)
    network = kind.build(settings, 7).eval()
    loaded = kind.load(settings, network.state_dict()).eval()
    faces = torch.randint(0, 256, (2, 48, 48), dtype=torch.uint8)
    x = kind.prepare(faces, kind.input_size(settings))
    with torch.no_grad():
        a, b = network(x), loaded(x)
    a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
    assert a.shape == (2, 7)
    if settings.get("tta"):  # scored as the mean over the face and its mirror image
        assert isinstance(loaded, FlipAveraged)
    else:
        assert torch.allclose(a, b)


def test_a_bare_network_is_recognised_by_its_class() -> None:
    best = SmallFaceNet(7, widths=(4, 4, 4, 4))
    assert kind_of_module(best).name == kind_of_module(FlipAveraged(best)).name == "best"
    assert kind_of_module(build_autoencoder(200)).name == "multitask"
    assert kind_of_module(build_backbone("vgg11")).name == "backbone"


def test_the_best_kind_is_stored_under_its_own_profile() -> None:
    assert run_spec("best-seed3").profile_under(get_profile("cpu")).name == "best"
    assert run_spec("resnet18").profile_under(get_profile("cpu")).name == "cpu"


def test_the_architecture_page_names_the_kinds_and_files_that_exist() -> None:
    page = (ROOT / "fer_course" / "ARCHITECTURE.md").read_text()
    for name in MODEL_KINDS:
        assert f"`{name}`" in page, f"the page does not name the kind {name}"
    for path in set(re.findall(r"`(fer_course/[\w/]+\.py)`", page)):
        assert (ROOT / path).is_file(), f"the page names {path}, which does not exist"
