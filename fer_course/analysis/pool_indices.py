"""What the pooling indices carry: decode one face's code with other faces' indices.

The paper's decoder gets two things from the encoder: the code ``[B, latent_dim]`` and
the four max-pool index maps, which say where, in each 2x2 window, the maximum was
(``fer_course.models.autoencoder``). A reconstruction is therefore not "the code alone".
This module swaps the second input while keeping the first:

- ``decode_with_indices(model, code_faces, index_faces)`` decodes the code of each face in
  ``code_faces`` with the indices of the matching face in ``index_faces`` (or with an
  index tuple such as ``top_left_indices``);
- ``top_left_indices(like)`` are "neutral" indices: every unpool puts its value at the
  top-left corner of its 2x2 window, whatever the face;
- ``index_swap_errors`` measures the swaps on many faces, ``index_swap_figure`` shows a few.

Faces are uint8 ``[B, 48, 48]`` as ``FERData`` holds them; they are normalised like the
autoencoder's input (``fer_course.engine.autoencoder_task.INPUT``). Outputs are on the
normalised scale, like ``reconstruct``.

>>> import torch
>>> from fer_course.models import build_autoencoder
>>> model = build_autoencoder(200).eval()
>>> faces = torch.randint(0, 256, (2, 48, 48), dtype=torch.uint8)
>>> decode_with_indices(model, faces, faces.flip(0)).shape
torch.Size([2, 3, 48, 48])
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from fer_course.augment import denormalize, eval_transform
from fer_course.engine.autoencoder_task import INPUT
from fer_course.models.autoencoder import MultitaskAutoencoder, PoolingIndices

__all__ = ["decode_with_indices", "encode_faces", "index_bits", "index_swap_errors",
           "index_swap_figure", "top_left_indices"]


def _device(model: MultitaskAutoencoder) -> torch.device:
    return next(model.parameters()).device


def _inputs(model: MultitaskAutoencoder, faces: torch.Tensor) -> torch.Tensor:
    """uint8 faces -> the normalised ``[B, 3, 48, 48]`` input, on the model's device."""
    return eval_transform(faces.to(_device(model)), INPUT)


@torch.no_grad()
def encode_faces(model: MultitaskAutoencoder, faces: torch.Tensor,
                 ) -> tuple[torch.Tensor, PoolingIndices]:
    """The code ``[B, latent_dim]`` and the four index maps of uint8 ``faces``."""
    return model.encode(_inputs(model, faces))


def top_left_indices(like: PoolingIndices) -> PoolingIndices:
    """Index maps shaped like ``like`` that point at the top-left pixel of each 2x2 window.

    A ``MaxPool2d(2, 2)`` index is the flat position ``row * W + col`` of the maximum in
    its ``H x W`` input plane (``W`` is twice the pooled width). Output cell ``(i, j)``
    covers input rows ``2i, 2i+1`` and columns ``2j, 2j+1``; its top-left pixel is
    ``2i * W + 2j``. These indices hold no information about any face.

    >>> top_left_indices((torch.zeros(1, 1, 2, 2, dtype=torch.long),))[0][0, 0]
    tensor([[ 0,  2],
            [ 8, 10]])
    """
    maps = []
    for indices in like:
        height, width = indices.shape[-2:]
        rows = torch.arange(height, device=indices.device) * 2 * (2 * width)
        cols = torch.arange(width, device=indices.device) * 2
        grid = (rows[:, None] + cols[None, :]).to(indices.dtype)
        maps.append(grid.expand_as(indices).contiguous())
    return tuple(maps)


@torch.no_grad()
def decode_with_indices(model: MultitaskAutoencoder, code_faces: torch.Tensor,
                        index_faces: torch.Tensor | PoolingIndices) -> torch.Tensor:
    """Decode the code of each of ``code_faces`` with the pooling indices of the face at
    the same position in ``index_faces`` (uint8 faces, same count), or with the index
    maps ``index_faces`` given as a tuple. Returns ``[B, 3, 48, 48]`` on the CPU.

    ``decode_with_indices(model, faces, faces)`` is the ordinary reconstruction.
    """
    latent, own = encode_faces(model, code_faces)
    if isinstance(index_faces, torch.Tensor):
        if len(index_faces) != len(code_faces):
            raise ValueError(f"{len(code_faces)} code faces but {len(index_faces)} index "
                             "faces: give one index face per code face")
        _, indices = encode_faces(model, index_faces)
    else:
        indices = tuple(i.to(latent.device) for i in index_faces)
        if [tuple(i.shape) for i in indices] != [tuple(i.shape) for i in own]:
            raise ValueError("index maps of other shapes than the encoder's: "
                             f"{[tuple(i.shape) for i in indices]}")
    return model.decode(latent, indices).cpu()


def _swaps(model: MultitaskAutoencoder, faces: torch.Tensor, donors: torch.Tensor,
           ) -> dict[str, torch.Tensor]:
    """The four decodings the figure and the table compare, for faces A and donors B."""
    _, own = encode_faces(model, faces)
    return {
        "A's code, A's indices": decode_with_indices(model, faces, faces),
        "A's code, B's indices": decode_with_indices(model, faces, donors),
        "A's code, top-left indices": decode_with_indices(model, faces, top_left_indices(own)),
        "B's code, A's indices": decode_with_indices(model, donors, faces),
    }


@torch.no_grad()
def index_swap_errors(model: MultitaskAutoencoder, faces: torch.Tensor,
                      donors: torch.Tensor | None = None, batch_size: int = 128,
                      ) -> pd.DataFrame:
    """Mean squared error (normalised scale, as minimised) of each decoding to face A (the
    code's face) and to face B (the indices' face), over all ``faces``. ``donors`` default
    to the faces shifted by one (face ``i`` takes the indices of face ``i + 1``).

    The last row, "face B itself", is the error of B's own pixels as a picture of A: what
    two different faces differ by.
    """
    if donors is None:
        donors = faces.roll(-1, 0)
    sums: dict[str, np.ndarray] = {}
    for start in range(0, len(faces), batch_size):
        a, b = faces[start:start + batch_size], donors[start:start + batch_size]
        xa, xb = _inputs(model, a).cpu(), _inputs(model, b).cpu()
        decoded = {**_swaps(model, a, b), "face B itself": xb}
        for name, image in decoded.items():
            errors = np.array([float(F.mse_loss(image, xa, reduction="sum")),
                               float(F.mse_loss(image, xb, reduction="sum"))])
            sums[name] = sums.get(name, 0.0) + errors
    count = len(faces) * xa[0].numel()
    table = pd.DataFrame({name: s / count for name, s in sums.items()},
                         index=["MSE to face A", "MSE to face B"]).T
    table.loc["A's code, top-left indices", "MSE to face B"] = np.nan  # B plays no part
    table.index.name = "decoded from"
    return table


def index_swap_figure(model: MultitaskAutoencoder, faces: torch.Tensor,
                      donors: torch.Tensor | None = None, columns: int = 4) -> Figure:
    """One column per face A (the first ``columns`` faces): A, the donor B, and the four
    decodings of ``_swaps`` (A's own reconstruction first), one per row. Few columns and
    large row titles keep it legible on a phone."""
    if donors is None:
        donors = faces.roll(-1, 0)
    faces, donors = faces[:columns], donors[:columns]
    rows = {"face A (gives the code)": faces, "face B (gives the indices)": donors,
            **_swaps(model, faces, donors)}
    fig, axes = plt.subplots(len(rows), len(faces), squeeze=False, layout="constrained",
                             figsize=(min(7.0, 1.3 * len(faces) + 0.2), 1.45 * len(rows)))
    for row, (name, images) in enumerate(rows.items()):
        for col, image in enumerate(images):
            if image.dtype == torch.uint8:
                shown = image.reshape(48, 48).float().numpy() / 255
            else:
                shown = denormalize(image.float(), INPUT)[0].numpy()
            axes[row, col].imshow(shown, cmap="gray", vmin=0, vmax=1)
            axes[row, col].axis("off")
        axes[row, 0].set_title(name, loc="left", fontsize=12)
    return fig


def index_bits(indices: Sequence[torch.Tensor]) -> int:
    """Bits the index maps of one face carry: each index picks one of 4 positions (2 bits).

    >>> index_bits([torch.zeros(1, 32, 24, 24), torch.zeros(1, 64, 12, 12)])
    55296
    """
    return 2 * sum(int(i[0].numel()) for i in indices)
