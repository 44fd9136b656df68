"""The shipped network in the reader's browser: ONNX export and the files of the live page.

``export_onnx(path)`` writes the course's default network (``DEFAULT_NETWORK``) as an ONNX
graph that a browser runtime (onnxruntime-web) runs: input ``faces``, float32
``[N, 1, 48, 48]``, gray pixels divided by 255 (``[0, 1]``, as ``face_eval_input`` makes
them); output ``probabilities``, float32 ``[N, 7]`` in ``CLASSES`` order: the softmax of the
scores averaged over each face and its mirror image, as ``predict`` computes them. The
weights are stored in half precision (the shipped weights are half precision already, so
nothing is lost) and cast to float32 when the runtime loads the graph.

``write_web_demo(folder)`` writes everything the page "Try it on your face" loads: the
graph, the face detector's cascade as JSON (``fer_course.faces.cascade_json``), the browser
runtime's files copied from ``node_modules`` (``npm ci`` installs them), and ``demo.json``
that names the network, its accuracy and every file's size. The book build calls it
(``tools/web_demo_build.py``), so the page always carries the shipped network::

    python -m fer_course export-web _build/html/_static/demo

>>> ONNX_INPUT, ONNX_OUTPUT
('faces', 'probabilities')
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fer_course.atomic import atomic_open, atomic_write_json
from fer_course.data.types import CLASSES
from fer_course.home import checkout_root
from fer_course.models.small_cnn import FlipAveraged
from fer_course.pretrained import load_pretrained, shipped_runs
from fer_course.runs import RunStore
from fer_course.runs.registry import DEFAULT_NETWORK
from fer_course.version import __version__

__all__ = ["ONNX_INPUT", "ONNX_OPSET", "ONNX_OUTPUT", "PAGE_FILES", "RUNTIME_FILES",
           "export_onnx",
           "runtime_folder", "write_web_demo"]

ONNX_OPSET = 18
"""The ONNX operator set of the exported graph (onnxruntime-web 1.17 and later run it)."""

ONNX_INPUT, ONNX_OUTPUT = "faces", "probabilities"
"""Names of the graph's input ``[N, 1, 48, 48]`` and output ``[N, 7]``."""

PAGE_FILES = ("page.js", "vision.js", "demo.css")
"""The page's own script, its detector and crops (the same algorithm and numbers as
``fer_course.faces``) and its style, shipped in ``fer_course/web``; loaded with the page."""

RUNTIME_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs",
                 "ort-wasm-simd-threaded.wasm")
"""The files of onnxruntime-web's WebAssembly build the page loads: the module, its loader
and the compiled runtime (SIMD; it runs single-threaded on a page that is not
cross-origin isolated, as a static site is)."""


WEB_SOURCES = Path(__file__).resolve().parents[1] / "web"
"""``fer_course/web``: the page's ``PAGE_FILES`` (package data: they ship in the wheel)."""


class _Probabilities(nn.Module):
    """The network as ``predict`` scores it: softmax of the (mirror-averaged) scores.

    The mirror average is written as two calls rather than one batch of twice the size,
    so that the exported graph keeps its batch dimension free."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.mirrored = isinstance(model, FlipAveraged)
        self.net = model.model if self.mirrored else model

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        scores = self.net(faces)
        if self.mirrored:
            scores = (scores + self.net(faces.flip(-1))) / 2
        return torch.softmax(scores, dim=1)


def _half_precision_weights(model: Any) -> int:
    """Store the float32 weights of an ONNX ``model`` as float16 plus a Cast node, where the
    value survives the round trip exactly; returns how many were converted."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    casts, kept = [], []
    for tensor in graph.initializer:
        values = numpy_helper.to_array(tensor)
        with np.errstate(over="ignore"):  # a value beyond float16's range stays float32
            half = values.astype(np.float16)
        if values.dtype != np.float32 or not np.array_equal(half.astype(np.float32), values):
            kept.append(tensor)
            continue
        stored = numpy_helper.from_array(half, f"{tensor.name}__fp16")
        kept.append(stored)
        casts.append(helper.make_node("Cast", [stored.name], [tensor.name], to=1,
                                      name=f"{tensor.name}__to_float"))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    return len(casts)


def export_onnx(path: str | os.PathLike, name: str | None = None) -> Path:
    """Write the shipped network ``name`` (default ``DEFAULT_NETWORK``) to ``path`` as ONNX
    (see the module's text for its input and output); returns the path.

    Only networks fed like the course's own (48 px gray faces on ``[0, 1]``) export: the
    page feeds exactly that. Needs ``onnx`` and ``onnxscript`` (``pip install onnx
    onnxscript``).

    >>> export_onnx("best.onnx")                                       # doctest: +SKIP
    PosixPath('best.onnx')
    """
    import onnx

    name = name or DEFAULT_NETWORK
    loaded = load_pretrained(name, device="cpu")
    if loaded.kind.name != "best" or loaded.image_size != 48:
        raise ValueError(f"{name!r} is a {loaded.kind.name} network on {loaded.image_size} px "
                         "input; the page feeds 48 px gray faces on [0, 1] (the 'best' kind)")
    wrapper = _Probabilities(loaded.model).eval()
    example = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        program = torch.onnx.export(
            wrapper, (example,), input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
            dynamic_shapes={"faces": {0: torch.export.Dim.DYNAMIC}}, opset_version=ONNX_OPSET,
            dynamo=True, external_data=False, verbose=False)
    model = program.model_proto
    for value in (*model.graph.input, *model.graph.output):  # name the free batch size N
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    _half_precision_weights(model)
    model.doc_string = (f"fer_course {__version__}: run {name!r}; input {ONNX_INPUT} "
                        f"[N, 1, 48, 48] float32 gray pixels / 255; output {ONNX_OUTPUT} "
                        f"[N, 7] in the order {', '.join(CLASSES)}")
    onnx.checker.check_model(model)
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        handle.write(model.SerializeToString())
    return path


def runtime_folder() -> Path:
    """Where ``npm ci`` (the checkout's ``package.json``) puts onnxruntime-web's files."""
    root = checkout_root(Path(__file__).parent) or Path.cwd()
    return root / "node_modules" / "onnxruntime-web" / "dist"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _package_version(package_json: Path) -> str:
    """The version an npm package's ``package.json`` names, or says that it is unknown."""
    if not package_json.is_file():
        return "(version unknown)"
    return str(json.loads(package_json.read_text(encoding="utf-8")).get("version", "(unknown)"))


def write_web_demo(folder: str | os.PathLike, name: str | None = None,
                   runtime: str | os.PathLike | None = None) -> dict[str, Any]:
    """Write the live page's files into ``folder``: its ``PAGE_FILES``, ``model.onnx``,
    ``cascade.json``, the runtime's ``RUNTIME_FILES`` (from ``runtime``, default
    ``runtime_folder()``) and ``demo.json``, which it returns. ``bytes`` in it counts what
    the page loads once the reader starts (the network, the cascade, the runtime);
    ``page_bytes`` what it loads with the page.

    A missing runtime is an error that says how to get it (``npm ci`` in the checkout).

    >>> write_web_demo("_build/html/_static/demo")["network"]         # doctest: +SKIP
    'best'
    """
    name = name or DEFAULT_NETWORK
    runtime = Path(runtime) if runtime is not None else runtime_folder()
    missing = [f for f in RUNTIME_FILES if not (runtime / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{runtime}: onnxruntime-web's {', '.join(missing)} not found; "
                                "run `npm ci` in the course's checkout (package.json) first")
    from fer_course.faces.cascade_json import write_cascade_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    export_onnx(folder / "model.onnx", name)
    write_cascade_json(folder / "cascade.json")
    sources = [(runtime / f, folder / f) for f in RUNTIME_FILES]
    sources += [(WEB_SOURCES / f, folder / f) for f in PAGE_FILES]
    for source, target in sources:
        with atomic_open(target, "wb") as handle, open(source, "rb") as given:
            shutil.copyfileobj(given, handle)
    run = RunStore(shipped_runs()[name]).stored(name)
    test = run.read_metrics()["test"]
    files = {f: {"bytes": (folder / f).stat().st_size, "sha256": _sha256(folder / f)}
             for f in ("model.onnx", "cascade.json", *RUNTIME_FILES)}
    manifest = {
        "network": name,
        "runtime": f"onnxruntime-web {_package_version(runtime.parent / 'package.json')}",
        "fer_course": __version__,
        "classes": list(CLASSES),
        "input": {"name": ONNX_INPUT, "shape": ["N", 1, 48, 48], "type": "float32",
                  "range": [0, 1]},
        "output": {"name": ONNX_OUTPUT, "shape": ["N", len(CLASSES)]},
        "opset": ONNX_OPSET,
        "test_accuracy": round(float(test["accuracy"]), 4),
        "test_macro_f1": round(float(test["macro_f1"]), 4),
        "files": files,
        "bytes": sum(f["bytes"] for f in files.values()),
        "page_bytes": sum((folder / f).stat().st_size for f in PAGE_FILES),
    }
    atomic_write_json(folder / "demo.json", manifest)
    return manifest
