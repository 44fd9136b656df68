"""The seed paper's CNN autoencoder with a classifier on its latent code (Tables 2, 3 and 4).

``build_autoencoder(latent_dim)`` returns a ``MultitaskAutoencoder``: an ``encoder``
(Table 2) maps a ``[B, 3, 48, 48]`` image to a ``[B, latent_dim]`` code, a ``decoder``
(Table 3) maps the code back to an image and a ``classifier`` (Table 4) maps it to 7
emotion scores. ``forward(x)`` returns ``(logits, reconstruction)``, so the same module
serves the paper's two uses: the autoencoder trained alone, then a classifier on its
frozen code (Section 4.2.1), and the multitask network trained on both losses at once
(Section 4.2.2, Eq. 3).

The tables leave some things open or contradict themselves; the choices made here:

1. Four max pools, not three. Table 2 lists three ``MaxPool2d(2, 2)`` but ends in
   ``Linear(256*3*3, latent)``; three pools take 48 px to 6, a fourth is needed to reach
   3, and Table 3 has four ``MaxUnPool2d``. The fourth pool follows the two 256-channel
   convolutions, so the encoder pools after 32, 64, 128 and 256 channels (48 -> 24 -> 12
   -> 6 -> 3) and flattens 256 * 3 * 3 = 2304 features.
2. Each unpool of the decoder uses the indices of the encoder's pool at the same scale,
   in mirror order: the first unpool (3 -> 6, 256 channels) uses the last pool's indices.
   The channel counts of Table 3 match at every scale (256, 128, 64, 32).
3. The reconstruction is linear: the last ``ConvTranspose2d(32, 3)`` has no batch norm and
   no activation, as in Table 3. The decoder reconstructs exactly the (normalised) tensor
   fed to the encoder, to be compared with it by MSE; a sigmoid would confine it to
   ``[0, 1]``, which normalised images leave.
4. The classifier returns logits by default: Table 4 ends in a sigmoid and Eq. 2 is a
   binary cross-entropy (printed with a sign slip: its second term should be
   ``-(1 - y) log(1 - y_hat)``), but Eq. 4's gradient ``(y_hat - y)`` and the text's
   "cross-entropy loss between our emotional prediction and training label" fit the
   usual softmax cross-entropy on one label per image, which ``classification_loss``
   computes. ``paper_sigmoid=True`` appends Table 4's sigmoid; ``classification_loss``
   then applies Eq. 2 (corrected): binary cross-entropy on one-hot targets, summed over
   the 7 classes and averaged over the batch.
5. The two linear layers at the bottleneck (Table 2's last, Table 3's first) have no
   activation, as the tables print them.

Interpolating between two faces: max unpooling puts each value back where the encoder's
maximum was, so the pooling indices carry "where" information that the latent code does
not, and a decoded code always depends on some face's indices. ``interpolate`` blends the
two faces' unpoolings with the same weight as the codes: at weight ``t`` each unpool
gives ``(1 - t) * unpool(z, indices_a) + t * unpool(z, indices_b)``. Both ends are then
exactly the reconstructions of the two faces and the path between them is continuous;
using one face's indices throughout would not end on the other face's reconstruction.
``decode(latent, indices)`` with one face's indices remains available.

>>> from fer_course.models.backbones import count_parameters
>>> model = build_autoencoder(latent_dim=686).eval()
>>> logits, reconstruction = model(torch.zeros(2, 3, 48, 48))
>>> logits.shape, reconstruction.shape
(torch.Size([2, 7]), torch.Size([2, 3, 48, 48]))
>>> count_parameters(model.encoder), count_parameters(model.decoder), count_parameters(model)
(2755406, 2756259, 5867000)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIZE = 48
"""Side of the square images the autoencoder takes and returns."""

FEATURE_SHAPE: tuple[int, int, int] = (256, 3, 3)
"""Shape of the encoder's last feature map, flattened into the latent layer."""

ENCODER_CHANNELS: tuple[int, ...] = (32, 64, 128, 256)
"""Channels of the encoder's four stages; each stage ends in a 2x2 max pool."""

NUM_CLASSES = 7

PoolingIndices = tuple[torch.Tensor, ...]
"""The encoder's four max-pool index maps, in encoder order (48 -> 24 first)."""


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def _deconv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(in_channels, out_channels, 3, stride=1, padding=1),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


class ConvEncoder(nn.Module):
    """Table 2 with four pools: ``[B, 3, 48, 48]`` -> ``([B, latent_dim], indices)``.

    >>> latent, indices = ConvEncoder(200)(torch.zeros(2, 3, 48, 48))
    >>> latent.shape, [tuple(i.shape[1:]) for i in indices]
    (torch.Size([2, 200]), [(32, 24, 24), (64, 12, 12), (128, 6, 6), (256, 3, 3)])
    """

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        widths = (3, *ENCODER_CHANNELS)
        self.stages = nn.ModuleList(
            nn.Sequential(*_conv_bn_relu(c_in, c_out), *_conv_bn_relu(c_out, c_out))
            for c_in, c_out in zip(widths[:-1], widths[1:])
        )
        self.pools = nn.ModuleList(
            nn.MaxPool2d(2, 2, return_indices=True) for _ in ENCODER_CHANNELS
        )
        self.to_latent = nn.Linear(FEATURE_SHAPE[0] * FEATURE_SHAPE[1] * FEATURE_SHAPE[2],
                                   latent_dim)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, PoolingIndices]:
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(
                f"the autoencoder takes [B, 3, {IMAGE_SIZE}, {IMAGE_SIZE}] "
                f"images, got {list(images.shape)} (repeat gray images "
                "to 3 channels; do not resize)"
            )
        features, indices = images, []
        for stage, pool in zip(self.stages, self.pools):
            features, stage_indices = pool(stage(features))
            indices.append(stage_indices)
        return self.to_latent(features.flatten(1)), tuple(indices)


class ConvDecoder(nn.Module):
    """Table 3: ``([B, latent_dim], encoder indices)`` -> ``[B, 3, 48, 48]``, linear output.

    >>> encoder, decoder = ConvEncoder(200), ConvDecoder(200)
    >>> decoder(*encoder(torch.zeros(2, 3, 48, 48))).shape
    torch.Size([2, 3, 48, 48])
    """

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.from_latent = nn.Linear(latent_dim,
                                     FEATURE_SHAPE[0] * FEATURE_SHAPE[1] * FEATURE_SHAPE[2])
        # Each stage ends with the channels the mirrored encoder pool had: 256, 128, 64, 32.
        self.stages = nn.ModuleList([
            nn.Sequential(*_deconv_bn_relu(256, 256)),
            nn.Sequential(*_deconv_bn_relu(256, 128)),
            nn.Sequential(*_deconv_bn_relu(128, 128), *_deconv_bn_relu(128, 64)),
            nn.Sequential(*_deconv_bn_relu(64, 64), *_deconv_bn_relu(64, 32)),
        ])
        self.unpools = nn.ModuleList(nn.MaxUnpool2d(2, 2) for _ in self.stages)
        self.to_image = nn.Sequential(
            *_deconv_bn_relu(32, 32), nn.ConvTranspose2d(32, 3, 3, stride=1, padding=1)
        )

    def forward(self, latent: torch.Tensor, indices: PoolingIndices,
                blend_indices: PoolingIndices | None = None,
                blend_weight: float | torch.Tensor = 0.0) -> torch.Tensor:
        """Decode ``latent``; each unpool uses the mirrored entry of ``indices``.

        With ``blend_indices``, each unpool mixes ``(1 - w)`` of the unpooling with
        ``indices`` and ``w`` of the one with ``blend_indices``; ``w = blend_weight`` is a
        number or one weight per image.
        """
        if len(indices) != len(self.unpools):
            raise ValueError(f"expected {len(self.unpools)} pooling index maps, got "
                             f"{len(indices)}")
        features = self.from_latent(latent).view(-1, *FEATURE_SHAPE)
        if blend_indices is not None:
            weight = torch.as_tensor(blend_weight, dtype=features.dtype,
                                     device=features.device).reshape(-1, 1, 1, 1)
        for level, (stage, unpool) in enumerate(zip(self.stages, self.unpools)):
            features = stage(features)
            mirrored = -1 - level  # the first unpool undoes the encoder's last pool
            unpooled = unpool(features, indices[mirrored])
            if blend_indices is not None:
                other = unpool(features, blend_indices[mirrored])
                unpooled = (1 - weight) * unpooled + weight * other
            features = unpooled
        return self.to_image(features)


def build_classifier(latent_dim: int, num_classes: int = NUM_CLASSES,
                     paper_sigmoid: bool = False) -> nn.Sequential:
    """Table 4: Linear(latent, 512), ReLU, Dropout(0.5), Linear(512, 7) [, Sigmoid].

    >>> build_classifier(686, paper_sigmoid=True)[-1]
    Sigmoid()
    """
    layers: list[nn.Module] = [nn.Linear(latent_dim, 512), nn.ReLU(inplace=True),
                               nn.Dropout(0.5), nn.Linear(512, num_classes)]
    if paper_sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


class MultitaskAutoencoder(nn.Module):
    """Encoder, decoder and classifier sharing one latent code; see the module docstring.

    >>> model = MultitaskAutoencoder(500).eval()
    >>> latent, indices = model.encode(torch.zeros(1, 3, 48, 48))
    >>> model.latent_dim, model.decode(latent, indices).shape
    (500, torch.Size([1, 3, 48, 48]))
    """

    def __init__(self, latent_dim: int = 686, num_classes: int = NUM_CLASSES,
                 paper_sigmoid: bool = False) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {latent_dim}")
        self.latent_dim = latent_dim
        self.paper_sigmoid = paper_sigmoid
        self.encoder = ConvEncoder(latent_dim)
        self.decoder = ConvDecoder(latent_dim)
        self.classifier = build_classifier(latent_dim, num_classes, paper_sigmoid)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, PoolingIndices]:
        """The latent code ``[B, latent_dim]`` and the four pooling index maps."""
        return self.encoder(images)

    def decode(self, latent: torch.Tensor, indices: PoolingIndices) -> torch.Tensor:
        """The image ``[B, 3, 48, 48]`` of ``latent``, unpooled at ``indices``."""
        return self.decoder(latent, indices)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scores [B, 7], reconstruction [B, 3, 48, 48])``; scores are logits unless
        ``paper_sigmoid``, then per-class probabilities."""
        latent, indices = self.encode(images)
        return self.classifier(latent), self.decoder(latent, indices)

    @torch.no_grad()
    def interpolate(self, face_a: torch.Tensor, face_b: torch.Tensor,
                    steps: int = 8) -> torch.Tensor:
        """``[steps, 3, 48, 48]`` images decoded from codes going from ``face_a`` to ``face_b``.

        Each face is ``[3, 48, 48]`` or ``[1, 3, 48, 48]``; unpooling blends both faces'
        indices with the codes' weight (module docstring). Call it in eval mode.

        >>> model = build_autoencoder(200).eval()
        >>> model.interpolate(torch.zeros(3, 48, 48), torch.ones(3, 48, 48), steps=5).shape
        torch.Size([5, 3, 48, 48])
        """
        if steps < 2:
            raise ValueError(f"steps must be at least 2 (the two faces), got {steps}")
        pair = torch.stack([face_a.reshape(3, IMAGE_SIZE, IMAGE_SIZE),
                            face_b.reshape(3, IMAGE_SIZE, IMAGE_SIZE)])
        latent, indices = self.encode(pair)
        weight = torch.linspace(0, 1, steps, device=latent.device, dtype=latent.dtype)
        codes = torch.lerp(latent[0].expand(steps, -1), latent[1].expand(steps, -1),
                           weight[:, None])

        def repeated(face: int) -> PoolingIndices:
            return tuple(i[face:face + 1].expand(steps, -1, -1, -1).contiguous()
                         for i in indices)

        return self.decoder(codes, repeated(0), repeated(1), weight)


def build_autoencoder(latent_dim: int = 686, num_classes: int = NUM_CLASSES,
                      paper_sigmoid: bool = False) -> MultitaskAutoencoder:
    """The paper's encoder, decoder and classifier with a ``latent_dim`` code (686: §5.2.2).

    >>> build_autoencoder(1000).classifier[0]
    Linear(in_features=1000, out_features=512, bias=True)
    """
    return MultitaskAutoencoder(latent_dim, num_classes, paper_sigmoid)


def classification_loss(scores: torch.Tensor, labels: torch.Tensor,
                        paper_sigmoid: bool = False) -> torch.Tensor:
    """Batch-mean classification loss of class indices ``labels`` (choice 4 above).

    Logits: softmax cross-entropy. ``paper_sigmoid`` (scores are sigmoid outputs): Eq. 2
    with its sign corrected, binary cross-entropy on one-hot targets summed over classes.

    >>> logits = torch.tensor([[2.0, 0.0, 0.0]])
    >>> round(float(classification_loss(logits, torch.tensor([0]))), 4)
    0.2395
    >>> round(float(classification_loss(torch.sigmoid(logits), torch.tensor([0]), True)), 4)
    1.5132
    """
    if not paper_sigmoid:
        return F.cross_entropy(scores, labels)
    targets = F.one_hot(labels, scores.shape[1]).to(scores.dtype)
    return F.binary_cross_entropy(scores, targets, reduction="none").sum(1).mean()
