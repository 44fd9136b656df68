"""The paper's CNN autoencoder and classifier (Tables 2-4) and the choices its module documents."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fer_course.models.autoencoder import (
    FEATURE_SHAPE,
    MultitaskAutoencoder,
    build_autoencoder,
    classification_loss,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def model() -> MultitaskAutoencoder:
    torch.manual_seed(0)
    return build_autoencoder(latent_dim=686).eval()


def images(batch: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, 48, 48, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("latent_dim", [200, 500, 686, 1000])
def test_forward_shapes_for_the_papers_latent_sizes(latent_dim: int) -> None:
    model = build_autoencoder(latent_dim).eval()
    with torch.no_grad():
        logits, reconstruction = model(images())
        latent, indices = model.encode(images())
    assert model.latent_dim == latent_dim
    assert logits.shape == (2, 7) and reconstruction.shape == (2, 3, 48, 48)
    assert latent.shape == (2, latent_dim) and len(indices) == 4
    assert model.classifier[0].in_features == latent_dim


def test_four_pools_with_indices_four_unpools_and_a_2304_wide_latent_layer(model) -> None:
    pools = [m for m in model.encoder.modules() if isinstance(m, nn.MaxPool2d)]
    unpools = [m for m in model.decoder.modules() if isinstance(m, nn.MaxUnpool2d)]
    assert len(pools) == 4 and all(pool.return_indices for pool in pools)
    assert len(unpools) == 4
    assert model.encoder.to_latent.in_features == 2304 == 256 * 3 * 3
    assert model.decoder.from_latent.out_features == 2304
    last_pool_out = []
    pools[-1].register_forward_hook(lambda m, args, out: last_pool_out.append(out[0].shape))
    with torch.no_grad():
        model.encode(images())
    assert last_pool_out == [torch.Size([2, *FEATURE_SHAPE])]
    # the fourth pool follows the two 256-channel convolutions
    last_convs = [m for m in model.encoder.stages[-1] if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in last_convs] == [(128, 256), (256, 256)]


def test_each_unpool_mirrors_the_encoder_pool_at_its_scale(model) -> None:
    pooled, unpooled = [], []
    hooks = [pool.register_forward_hook(
        lambda m, args, out: pooled.append((args[0].shape, out[0].shape)))
        for pool in model.encoder.pools]
    hooks += [unpool.register_forward_hook(
        lambda m, args, out: unpooled.append((args[0].shape, out.shape)))
        for unpool in model.decoder.unpools]
    with torch.no_grad():
        model(images())
    for hook in hooks:
        hook.remove()
    assert [tuple(out[1:]) for _, out in pooled] == [
        (32, 24, 24), (64, 12, 12), (128, 6, 6), (256, 3, 3)]
    # decoder unpool k takes what encoder pool (3 - k) gave and returns what it took
    assert [(a, b) for b, a in reversed(pooled)] == unpooled


def test_the_decoder_follows_table_3(model) -> None:
    deconvs = [(m.in_channels, m.out_channels) for m in model.decoder.modules()
               if isinstance(m, nn.ConvTranspose2d)]
    assert deconvs == [(256, 256), (256, 128), (128, 128), (128, 64), (64, 64), (64, 32),
                       (32, 32), (32, 3)]
    stage_outputs = [stage[-3].out_channels for stage in model.decoder.stages]
    assert stage_outputs == [256, 128, 64, 32]
    assert all(m.kernel_size == (3, 3) and m.stride == (1, 1) and m.padding == (1, 1)
               for m in model.decoder.modules() if isinstance(m, nn.ConvTranspose2d))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.decoder.modules()) == 7


def test_reconstruction_is_the_linear_output_of_the_last_deconvolution(model) -> None:
    last = model.decoder.to_image[-1]
    assert isinstance(last, nn.ConvTranspose2d) and last.out_channels == 3
    assert not any(isinstance(m, (nn.Sigmoid, nn.Tanh)) for m in model.decoder.modules())
    seen = []
    hook = last.register_forward_hook(lambda m, args, out: seen.append(out))
    with torch.no_grad():
        _, reconstruction = model(images())
    hook.remove()
    assert torch.equal(seen[0], reconstruction)
    assert (reconstruction < 0).any()  # nothing squashes it into [0, 1]


def test_the_decoder_unpools_at_the_encoders_indices(model) -> None:
    with torch.no_grad():
        latent, indices = model.encode(images())
        reference = model.decode(latent, indices)
        # move every maximum of the 6x6 unpool to its neighbour in the same 2x2 window
        moved = (*indices[:-1], indices[-1] ^ 1)
        assert not torch.allclose(model.decode(latent, moved), reference)
        other_face = model.encode(images(seed=1))[1]
        assert not torch.allclose(model.decode(latent, other_face), reference)
        assert torch.equal(model.decode(latent, indices), reference)


def test_unpooled_activations_are_nonzero_only_at_the_argmax_positions(model) -> None:
    calls = []
    hooks = [unpool.register_forward_hook(lambda m, args, out: calls.append((*args, out)))
             for unpool in model.decoder.unpools]
    with torch.no_grad():
        _, indices = model.encode(images())
        model(images())
    for hook in hooks:
        hook.remove()
    assert len(calls) == 4
    for level, (features, used, out) in enumerate(calls):
        assert torch.equal(used, indices[-1 - level])
        flat_out = out.flatten(2)
        at_argmax = torch.zeros_like(flat_out, dtype=torch.bool).scatter_(
            2, used.flatten(2), True)
        assert not flat_out[~at_argmax].any()
        assert torch.equal(flat_out.gather(2, used.flatten(2)), features.flatten(2))


def test_classifier_returns_logits_and_trains_with_softmax_cross_entropy(model) -> None:
    kinds = [type(m) for m in model.classifier]
    assert kinds == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert model.classifier[2].p == 0.5 and model.classifier[0].out_features == 512
    assert not any(isinstance(m, nn.Sigmoid) for m in model.modules())
    logits = torch.tensor([[3.0, -1.0, 0.5, 0, 0, 0, 0], [-2.0, 0, 0, 0, 0, 0, 4.0]])
    labels = torch.tensor([0, 6])
    # softmax cross-entropy by hand: log(sum_j e^z_j) - z_label, averaged over the batch
    by_hand = ((math.log(math.exp(3) + math.exp(-1) + math.exp(0.5) + 4) - 3)
               + (math.log(math.exp(-2) + 5 + math.exp(4)) - 4)) / 2
    assert float(classification_loss(logits, labels)) == pytest.approx(by_hand, rel=1e-6)


def test_paper_sigmoid_variant_outputs_probabilities_for_binary_cross_entropy() -> None:
    torch.manual_seed(0)
    model = build_autoencoder(200, paper_sigmoid=True).eval()
    assert isinstance(model.classifier[-1], nn.Sigmoid) and model.paper_sigmoid
    with torch.no_grad():
        scores, _ = model(images(4))
    assert ((scores > 0) & (scores < 1)).all()
    labels = torch.tensor([0, 3, 6, 3])
    one_hot = F.one_hot(labels, 7).float()
    # Eq. 2 with the sign of its second term corrected, summed over classes
    per_image = -(one_hot * scores.log() + (1 - one_hot) * (1 - scores).log()).sum(1)
    loss = classification_loss(scores, labels, paper_sigmoid=True)
    assert torch.allclose(loss, per_image.mean(), atol=1e-6)
    assert torch.allclose(loss, 7 * nn.BCELoss()(scores, one_hot), atol=1e-6)


def test_both_heads_send_gradients_to_the_encoder() -> None:
    torch.manual_seed(0)
    model = build_autoencoder(200).train()
    x, y = images(4), torch.tensor([0, 1, 2, 3])
    first_conv = model.encoder.stages[0][0].weight

    logits, _ = model(x)
    classification_loss(logits, y).backward()
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.decoder.parameters())

    model.zero_grad(set_to_none=True)
    _, reconstruction = model(x)
    F.mse_loss(reconstruction, x).backward()
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0
    assert model.decoder.from_latent.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.classifier.parameters())


def test_eval_mode_is_deterministic_and_train_mode_uses_dropout(model) -> None:
    with torch.no_grad():
        first, second = model(images()), model(images())
        assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
        model.train()
        try:
            torch.manual_seed(1)
            dropped = model.classifier(torch.ones(1, 686))
            torch.manual_seed(2)
            assert not torch.equal(dropped, model.classifier(torch.ones(1, 686)))
        finally:
            model.eval()


def test_interpolation_starts_and_ends_at_the_two_reconstructions(model) -> None:
    face_a, face_b = images(1, seed=3)[0], images(1, seed=4)[0]
    path = model.interpolate(face_a, face_b, steps=5)
    with torch.no_grad():
        ends = model.decode(*model.encode(torch.stack([face_a, face_b])))
    assert path.shape == (5, 3, 48, 48)
    assert torch.allclose(path[0], ends[0], atol=1e-5)
    assert torch.allclose(path[-1], ends[1], atol=1e-5)
    steps = (path[1:] - path[:-1]).flatten(1).norm(dim=1)
    assert (steps > 0).all()
    with pytest.raises(ValueError, match="steps"):
        model.interpolate(face_a, face_b, steps=1)


def test_bad_inputs_are_explained() -> None:
    with pytest.raises(ValueError, match="latent_dim"):
        build_autoencoder(0)
    with pytest.raises(ValueError, match=r"\[B, 3, 48, 48\]"):
        build_autoencoder(200)(torch.zeros(1, 3, 224, 224))
    with pytest.raises(ValueError, match=r"\[B, 3, 48, 48\]"):
        build_autoencoder(200)(torch.zeros(1, 1, 48, 48))
