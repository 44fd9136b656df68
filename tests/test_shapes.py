"""``layer_shapes``: the autoencoder's layer table (Tables 2-4) measured from the model."""

from __future__ import annotations

import pytest
from torch import nn

from fer_course.models import build_autoencoder, count_parameters
from fer_course.models.shapes import COLUMNS, layer_shapes

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def table():
    return layer_shapes(build_autoencoder(686))


def test_columns_and_parts_in_model_order(table) -> None:
    assert list(table.columns) == COLUMNS
    assert list(dict.fromkeys(table["part"])) == ["encoder", "decoder", "classifier"]


def test_the_papers_sizes_at_the_ends_of_each_part(table) -> None:
    last = table.groupby("part", sort=False)["output shape"].last()
    assert last["encoder"] == [1, 686]
    assert last["decoder"] == [1, 3, 48, 48]
    assert last["classifier"] == [1, 7]


def test_pools_halve_and_unpools_double_the_side(table) -> None:
    pools = table[table["type"] == "MaxPool2d"]["output shape"].tolist()
    unpools = table[table["type"] == "MaxUnpool2d"]["output shape"].tolist()
    assert [s[-1] for s in pools] == [24, 12, 6, 3]
    assert [s[-1] for s in unpools] == [6, 12, 24, 48]
    assert [s[1] for s in unpools] == [s[1] for s in reversed(pools)]  # mirror order


def test_parameters_add_up_to_each_part(table) -> None:
    model = build_autoencoder(686)
    sums = table.groupby("part")["parameters"].sum()
    for part in ("encoder", "decoder", "classifier"):
        assert sums[part] == count_parameters(getattr(model, part))


def test_training_mode_is_restored_and_hooks_removed() -> None:
    model = build_autoencoder(200).train()
    layer_shapes(model)
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())


def test_a_plain_module_and_a_batch_shape() -> None:
    table = layer_shapes(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), input_shape=(5, 4))
    assert table["part"].tolist() == ["", ""]
    assert table["output shape"].tolist() == [[5, 3], [5, 3]]
    single = layer_shapes(nn.Linear(4, 2), input_shape=(1, 4))
    assert single["output shape"].tolist() == [[1, 2]]
