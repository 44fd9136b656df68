"""Every layer's output shape, measured by running the model once (Tables 2-4 regenerated).

``layer_shapes(model)`` registers a forward hook on each leaf module (one without
children), feeds one zero batch through ``model`` in eval mode, and lists the layers in
the order of the model's parts (its top-level children: ``encoder``, ``decoder``,
``classifier`` for the autoencoder), each part in the order its layers ran. Nothing is
typed by hand: a table printed from it cannot drift from the code.

>>> from fer_course.models.autoencoder import build_autoencoder
>>> table = layer_shapes(build_autoencoder(686))
>>> list(table.columns)
['part', 'layer', 'type', 'output shape', 'parameters']
>>> table[table.part == "encoder"].iloc[-1]["output shape"]
[1, 686]
>>> table[table.part == "decoder"].iloc[-1]["output shape"]
[1, 3, 48, 48]
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import nn

COLUMNS = ["part", "layer", "type", "output shape", "parameters"]


def _first_tensor(output: Any) -> torch.Tensor | None:
    """The tensor a layer produced (a max pool with indices returns ``(values, indices)``)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output:
        return _first_tensor(output[0])
    return None


def layer_shapes(model: nn.Module, input_shape: tuple[int, ...] = (1, 3, 48, 48),
                 ) -> pd.DataFrame:
    """One row per call of a leaf module of ``model`` on a zero input of ``input_shape``.

    Columns: ``part`` (the top-level child the layer belongs to, or ``""`` for a leaf
    that is itself a top-level child), ``layer`` (its name inside the part, e.g. ``stages.0.0``),
    ``type`` (its class), ``output shape`` (a list; the values of a max pool that also
    returns indices) and ``parameters`` (the layer's own parameter count). The model's
    training mode is restored afterwards and no gradient is computed.

    >>> table = layer_shapes(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), input_shape=(2, 4))
    >>> table.values.tolist()
    [['', '0', 'Linear', [2, 3], 15], ['', '1', 'ReLU', [2, 3], 0]]
    """
    children = {name: i for i, name in enumerate(n for n, _ in model.named_children())}
    rows: list[dict[str, Any]] = []
    order: list[int] = []  # the top-level child each row belongs to, for sorting
    handles = []

    def record(name: str, module: nn.Module):
        top, _, inner = name.partition(".")
        part, layer = (top, inner) if inner else ("", name)  # a leaf child: no part

        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            tensor = _first_tensor(output)
            order.append(children.get(top, -1))
            rows.append({
                "part": part, "layer": layer, "type": type(module).__name__,
                "output shape": list(tensor.shape) if tensor is not None else None,
                "parameters": sum(p.numel() for p in module.parameters(recurse=False)),
            })
        return hook

    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()):
            handles.append(module.register_forward_hook(record(name, module)))
    if not handles:  # the model is a single leaf
        handles.append(model.register_forward_hook(record(type(model).__name__, model)))
    was_training = model.training
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    table = pd.DataFrame(rows, columns=COLUMNS)
    table = table.iloc[sorted(range(len(rows)), key=order.__getitem__)]  # stable: by part
    return table.reset_index(drop=True)


def network_profile(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Parameters, multiply-adds per input (convolutions and linear layers) and the
    height x width of the last convolution's output, measured on one zero input.

    >>> p = network_profile(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1)), (1, 1, 4, 4))
    >>> p["parameters"], p["multiply_adds"], p["last_feature_map"]
    (20, 288, '4 x 4')
    """
    counts = {"macs": 0, "last": ""}
    handles = []

    def hook(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        per_output = module.weight[0].numel()  # (in / groups) * kh * kw, or in_features
        counts["macs"] += per_output * output[0].numel()
        if isinstance(module, nn.Conv2d):
            counts["last"] = f"{output.shape[-2]} x {output.shape[-1]}"

    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    parameter = next(model.parameters(), None)  # a model on the meta device: shapes only
    device = parameter.device if parameter is not None else torch.device("cpu")
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {"parameters": sum(p.numel() for p in model.parameters()),
            "multiply_adds": counts["macs"] // input_shape[0], "last_feature_map": counts["last"]}
