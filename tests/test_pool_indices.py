"""``fer_course.analysis.pool_indices``: decoding a face's code with other pooling indices."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fer_course.analysis.pool_indices import (
    decode_with_indices,
    encode_faces,
    index_bits,
    index_swap_errors,
    index_swap_figure,
    top_left_indices,
)
from fer_course.augment import eval_transform
from fer_course.engine.autoencoder_task import INPUT, reconstruct
from fer_course.models import build_autoencoder

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_autoencoder(200).eval()


def faces(n: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 48, 48), dtype=torch.uint8, generator=g)


def test_own_indices_give_the_ordinary_reconstruction(model) -> None:
    x = faces()
    assert torch.allclose(decode_with_indices(model, x, x), reconstruct(model, x), atol=1e-6)


def test_swapping_indices_changes_the_output_but_not_its_shape(model) -> None:
    x = faces()
    own = decode_with_indices(model, x, x)
    swapped = decode_with_indices(model, x, x.roll(-1, 0))
    assert swapped.shape == own.shape == (3, 3, 48, 48)
    for i in range(3):
        assert not torch.allclose(swapped[i], own[i])


def test_given_index_maps_are_the_ones_unpooled(model) -> None:
    x = faces(2)
    latent, own = encode_faces(model, x)
    neutral = top_left_indices(own)
    with torch.no_grad():
        expected = model.decode(latent, neutral)
    decoded = decode_with_indices(model, x, neutral)
    assert torch.allclose(decoded, expected)
    assert not torch.allclose(decoded, decode_with_indices(model, x, x))


def test_one_index_face_per_code_face(model) -> None:
    with pytest.raises(ValueError, match="one index face per code face"):
        decode_with_indices(model, faces(3), faces(2))
    with pytest.raises(ValueError, match="other shapes"):
        decode_with_indices(model, faces(2), top_left_indices(encode_faces(model, faces(1))[1]))


def test_top_left_indices_match_the_encoders_shapes_and_windows(model) -> None:
    _, indices = encode_faces(model, faces(2))
    neutral = top_left_indices(indices)
    for own, fixed in zip(indices, neutral):
        assert fixed.shape == own.shape and fixed.dtype == own.dtype
        width = 2 * own.shape[-1]
        # each index, own or neutral, lies in the same 2x2 window of the input plane
        assert torch.equal(own // width // 2, fixed // width // 2)
        assert torch.equal(own % width // 2, fixed % width // 2)
        assert bool((fixed // width % 2 == 0).all() and (fixed % 2 == 0).all())


def test_top_left_indices_are_what_a_pool_returns_for_top_left_maxima() -> None:
    x = torch.zeros(2, 3, 8, 8)
    x[..., ::2, ::2] = 1.0  # the maximum of every 2x2 window at its top-left pixel
    _, indices = nn.MaxPool2d(2, 2, return_indices=True)(x)
    assert torch.equal(top_left_indices((indices,))[0], indices)


def test_swap_errors_are_consistent(model) -> None:
    x = faces(4)
    table = index_swap_errors(model, x, batch_size=3)
    target = eval_transform(x, INPUT)
    own = float(((reconstruct(model, x) - target) ** 2).mean())
    assert table.loc["A's code, A's indices", "MSE to face A"] == pytest.approx(own, rel=1e-5)
    assert table.loc["face B itself", "MSE to face B"] == 0.0
    # face i's donor is face i + 1 (cyclically): B's own pixels as a picture of A
    apart = float(((target.roll(-1, 0) - target) ** 2).mean())
    assert table.loc["face B itself", "MSE to face A"] == pytest.approx(apart, rel=1e-5)
    assert table["MSE to face A"].notna().all()


def test_the_figure_has_a_row_per_decoding(model) -> None:
    fig = index_swap_figure(model, faces(3))
    assert len(fig.axes) == 6 * 3
    assert fig.get_size_inches()[0] <= 7.0
    assert len(index_swap_figure(model, faces(6), columns=2).axes) == 6 * 2


def test_index_bits_of_the_papers_encoder(model) -> None:
    _, indices = encode_faces(model, faces(1))
    assert index_bits(indices) == 2 * (32 * 24 * 24 + 64 * 12 * 12 + 128 * 6 * 6 + 256 * 3 * 3)
