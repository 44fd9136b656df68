"""The paper's backbones: names, heads, input sizes and every way of loading weights."""

from __future__ import annotations

from urllib.error import URLError

import pytest
import torch
import torchvision
from torch import nn

from fer_course.models import (
    BACKBONE_FAMILIES,
    BACKBONES,
    PAPER_BACKBONES,
    PAPER_DISPLAY_NAMES,
    WeightsUnavailableError,
    build_backbone,
    classifier_head,
    count_parameters,
    min_input_size,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a shared 2-core machine two threads spin-wait on each other
    and made this file 2-5 times slower (measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def forward(model: nn.Module, size: int) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(torch.randn(2, 3, size, size))


def test_paper_backbones_are_table_5_in_order() -> None:
    assert len(PAPER_BACKBONES) == 17
    assert PAPER_BACKBONES[:2] == ("resnet18", "resnet34")
    assert PAPER_BACKBONES[-4:] == ("vgg11", "vgg13", "vgg16", "vgg19")
    assert PAPER_DISPLAY_NAMES["resnext101_32x8d"] == "ResNeXt101"
    assert PAPER_DISPLAY_NAMES["wide_resnet50_2"] == "Wide ResNet50"
    assert set(BACKBONES) == set(PAPER_BACKBONES) | {f"vgg{d}_bn" for d in (11, 13, 16, 19)}
    assert not any(name.endswith("_bn") for name in PAPER_BACKBONES)
    assert set(BACKBONE_FAMILIES.values()) == {"resnet", "resnext", "wide_resnet", "densenet",
                                               "vgg"}


@pytest.mark.parametrize("name", PAPER_BACKBONES)
def test_every_paper_backbone_runs_at_32_pixels_with_a_7_way_head(name: str) -> None:
    model = build_backbone(name, weights=None)
    head = classifier_head(model)
    assert isinstance(head, nn.Linear) and head.out_features == 7
    last_linear = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    assert last_linear is head
    assert forward(model, 32).shape == (2, 7)


def test_other_class_counts_and_the_rest_of_the_vgg_classifier() -> None:
    assert forward(build_backbone("resnet18", num_classes=3), 32).shape == (2, 3)
    vgg = build_backbone("vgg11_bn", num_classes=3)
    assert [type(m) for m in vgg.classifier][:6] == [
        nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout]
    assert vgg.classifier[3].out_features == 4096 and classifier_head(vgg).out_features == 3
    with pytest.raises(ValueError, match="num_classes"):
        build_backbone("resnet18", num_classes=0)


@pytest.mark.parametrize(
    "name", ["resnet18", "resnext50_32x4d", "wide_resnet50_2", "densenet121", "vgg11_bn"])
def test_min_input_size_is_the_smallest_that_works(name: str) -> None:
    model = build_backbone(name)
    smallest = min_input_size(name)
    assert forward(model, smallest).shape == (2, 7)
    if smallest > 1:
        with pytest.raises(RuntimeError):
            forward(model, smallest - 1)


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown backbone 'resnet19'") as error:
        build_backbone("resnet19")
    assert all(name in str(error.value) for name in BACKBONES)
    with pytest.raises(ValueError, match="valid names"):
        min_input_size("alexnet")


def test_count_parameters_counts_the_new_head() -> None:
    model = build_backbone("resnet18")
    assert count_parameters(model) == 11_689_512 - 1000 * 513 + 7 * 513
    model.fc.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == count_parameters(model) - 7 * 513


def test_imagenet_head_file_loads_then_the_head_is_replaced(tmp_path) -> None:
    saved = torchvision.models.resnet18().state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(saved, path)
    model = build_backbone("resnet18", weights=path)
    assert torch.equal(model.conv1.weight, saved["conv1.weight"])
    assert torch.equal(model.layer4[1].bn2.running_var, saved["layer4.1.bn2.running_var"])
    assert model.fc.out_features == 7
    assert build_backbone("resnet18", weights=str(path)).fc.out_features == 7


def test_checkpoint_dicts_and_a_fine_tuned_head_load(tmp_path) -> None:
    fine_tuned = build_backbone("resnet18", num_classes=7)
    state = {f"module.{key}": value for key, value in fine_tuned.state_dict().items()}
    for key in ("model", "state_dict"):
        path = tmp_path / f"{key}.pt"
        torch.save({key: state, "epoch": 3}, path)
        model = build_backbone("resnet18", weights=path)
        assert torch.equal(model.fc.weight, fine_tuned.fc.weight)  # the 7-way head is kept
        assert torch.equal(model.conv1.weight, fine_tuned.conv1.weight)
    assert build_backbone("resnet18", num_classes=3, weights=path).fc.out_features == 3


def test_old_densenet_key_names_load(tmp_path) -> None:
    saved = torchvision.models.densenet121().state_dict()
    old_style = {key.replace("norm1.", "norm.1.").replace("conv2.", "conv.2."): value
                 for key, value in saved.items()}
    assert "features.denseblock1.denselayer1.norm.1.weight" in old_style
    torch.save(old_style, tmp_path / "densenet121.pth")
    model = build_backbone("densenet121", weights=tmp_path / "densenet121.pth")
    assert torch.equal(model.features.denseblock4.denselayer16.conv2.weight,
                       saved["features.denseblock4.denselayer16.conv2.weight"])


def test_wrong_architecture_file_names_the_file(tmp_path) -> None:
    path = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34().state_dict(), path)
    with pytest.raises(ValueError, match=r"resnet34\.pth: not a state dict of resnet18") as error:
        build_backbone("resnet18", weights=path)
    assert "unexpected" in str(error.value) and "layer1.2" in str(error.value)


def test_unreadable_or_missing_files_are_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        build_backbone("resnet18", weights=tmp_path / "nowhere.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_text("not torch")
    with pytest.raises(ValueError, match="garbage.pth"):
        build_backbone("resnet18", weights=garbage)
    not_tensors = tmp_path / "list.pth"
    torch.save([1, 2], not_tensors)
    with pytest.raises(ValueError, match="list.pth: holds a list"):
        build_backbone("resnet18", weights=not_tensors)


@pytest.mark.parametrize("failure", [URLError("no route to host"), OSError("offline"),
                                     RuntimeError("invalid hash value")])
def test_offline_imagenet_download_says_how_to_proceed(monkeypatch, failure) -> None:
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", fail)
    with pytest.raises(WeightsUnavailableError) as error:
        build_backbone("resnet18", weights="imagenet")
    message = str(error.value)
    assert 'weights="path/to/resnet18.pth"' in message
    assert "torchvision.models.resnet18(weights=\"DEFAULT\").state_dict()" in message
    assert "weights=None" in message and "Colab" in message
    assert error.value.__cause__ is failure


def test_imagenet_uses_torchvision_default_weights(monkeypatch) -> None:
    reference = torchvision.models.resnet50().state_dict()
    requested = []

    def serve(weights, *args, **kwargs):
        requested.append(weights)
        return reference

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", serve)
    model = build_backbone("resnet50", weights="imagenet")
    assert torch.equal(model.conv1.weight, reference["conv1.weight"])
    assert model.fc.out_features == 7
    build_backbone("resnet50", weights="IMAGENET1K_V1")
    assert [w.name for w in requested] == ["IMAGENET1K_V2", "IMAGENET1K_V1"]
