"""A small VGG-style network sized for 48 px faces: the course's own ``best`` recipe.

The paper's torchvision backbones were designed for 224 px: at 48 px their five
down-sampling steps leave 2 x 2 pixels or fewer by the last stage. ``SmallFaceNet`` has
four stages of two 3 x 3 convolutions (batch norm, ReLU) and a 2 x 2 max-pool after each,
so a 48 px face is seen at 48, 24, 12 and 6 px; global average pooling, dropout and one
linear layer give the class scores. It takes gray faces ``[B, 1, H, W]`` scaled to
``[0, 1]`` and normalises them itself, so a caller only divides uint8 pixels by 255.

>>> model = SmallFaceNet(widths=(8, 16, 32, 64))
>>> model.eval()(torch.rand(2, 1, 48, 48)).shape
torch.Size([2, 7])
>>> sum(p.numel() for p in SmallFaceNet().parameters()) // 1000
1174
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

FACE_MEAN, FACE_STD = 0.5, 0.25  # about FER-2013's pixel mean and spread, on [0, 1]


def conv_stage(cin: int, cout: int, convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False),
                   nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class SmallFaceNet(nn.Module):
    """Four VGG stages (``widths`` channels, ``convs`` convolutions each), global average
    pooling, dropout ``dropout``, a linear layer to ``num_classes`` scores."""

    def __init__(self, num_classes: int = 7, widths: Sequence[int] = (32, 64, 128, 256),
                 convs: int = 2, dropout: float = 0.3) -> None:
        super().__init__()
        chans = [1, *widths]
        self.features = nn.Sequential(*(conv_stage(a, b, convs) for a, b in zip(chans, chans[1:])))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(chans[-1], num_classes))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - FACE_MEAN) / FACE_STD))


class FlipAveraged(nn.Module):
    """Test-time augmentation: the mean of ``model``'s scores on a face and its mirror image.

    >>> net = FlipAveraged(SmallFaceNet(widths=(8, 16, 32, 64))).eval()
    >>> x = torch.rand(1, 1, 48, 48)
    >>> torch.allclose(net(x), net(x.flip(-1)), atol=1e-5)
    True
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        both = self.model(torch.cat([x, x.flip(-1)]))
        return (both[:len(x)] + both[len(x):]) / 2
