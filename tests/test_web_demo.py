"""The network as the live page runs it: ONNX export, its agreement with torch, the page's
files and the command that writes them (``fer_course.ops.web_demo``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from fer_course.ops import cli  # noqa: E402
from fer_course.ops.web_demo import (  # noqa: E402
    ONNX_INPUT,
    ONNX_OPSET,
    ONNX_OUTPUT,
    RUNTIME_FILES,
    export_onnx,
    write_web_demo,
)
from fer_course.pretrained import load_pretrained  # noqa: E402
from fer_course.runs.registry import DEFAULT_NETWORK  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    return export_onnx(tmp_path_factory.mktemp("onnx") / "model.onnx")


@pytest.fixture(scope="module")
def session(exported: Path):
    return ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])


def onnx_probabilities(session, faces: np.ndarray) -> np.ndarray:
    """What the page computes from uint8 faces ``[n, 48, 48]``."""
    batch = (faces.astype(np.float32) / 255)[:, None]
    return session.run([ONNX_OUTPUT], {ONNX_INPUT: batch})[0]


def varied_faces(n: int, seed: int = 0) -> np.ndarray:
    """Noise, flat gray, gradients and blobs: inputs that drive the network differently."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:48] / 47.0
    faces = [rng.integers(0, 256, (48, 48)), np.full((48, 48), 128), 255 * x, 255 * y,
             255 * np.exp(-((x - 0.5) ** 2 + (y - 0.4) ** 2) * 12)]
    while len(faces) < n:
        faces.append(np.clip(128 + 60 * rng.standard_normal((48, 48)).cumsum(1) / 7, 0, 255))
    return np.stack(faces[:n]).astype(np.uint8)


def test_the_graph_names_its_input_output_and_opset(exported: Path) -> None:
    model = onnx.load(str(exported))
    onnx.checker.check_model(model)
    (given,), (made,) = model.graph.input, model.graph.output
    assert (given.name, made.name) == (ONNX_INPUT, ONNX_OUTPUT)
    dims = [d.dim_param or d.dim_value for d in given.type.tensor_type.shape.dim]
    assert dims == ["N", 1, 48, 48]
    assert [d.dim_param or d.dim_value for d in made.type.tensor_type.shape.dim] == ["N", 7]
    assert {o.domain: o.version for o in model.opset_import}[""] == ONNX_OPSET
    assert DEFAULT_NETWORK in model.doc_string


def test_weights_are_stored_in_half_precision(exported: Path) -> None:
    """The shipped weights are half precision: the graph stores them so, at about half
    the float32 size (1.2 M parameters: 2.4 MB rather than 4.8)."""
    model = onnx.load(str(exported))
    halves = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16]
    assert len(halves) > 20
    assert exported.stat().st_size < 3_000_000
    assert sum(node.op_type == "Cast" for node in model.graph.node) == len(halves)


@pytest.mark.parametrize("n", [1, 7])
def test_onnx_gives_torchs_probabilities(session, n: int) -> None:
    faces = varied_faces(n)
    expected = load_pretrained(DEFAULT_NETWORK, device="cpu").predict_proba(faces)
    got = onnx_probabilities(session, faces)
    assert got.shape == (n, 7)
    assert np.abs(got - expected).max() <= 1e-3
    assert np.allclose(got.sum(1), 1, atol=1e-5)


def test_a_mirrored_face_gets_the_same_answer(session) -> None:
    """The graph averages each face with its mirror image, as ``predict`` does."""
    faces = varied_faces(4, seed=3)
    assert np.abs(onnx_probabilities(session, faces)
                  - onnx_probabilities(session, faces[:, :, ::-1].copy())).max() < 1e-5


@pytest.mark.realdata
def test_onnx_matches_torch_on_every_test_face(session, real_data_path) -> None:
    """All 3,589 PrivateTest faces: the same probabilities within 1e-3, the same accuracy."""
    from fer_course.data import load_fer2013

    test = load_fer2013(real_data_path).test
    faces, labels = test.images.numpy(), test.labels.numpy()
    expected = load_pretrained(DEFAULT_NETWORK, device="cpu").predict_proba(faces)
    got = np.concatenate([onnx_probabilities(session, faces[i:i + 512])
                          for i in range(0, len(faces), 512)])
    assert np.abs(got - expected).max() <= 1e-3
    assert (got.argmax(1) == labels).mean() == (expected.argmax(1) == labels).mean()


def fake_runtime(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_FILES:
        (folder / name).write_bytes(b"runtime " + name.encode())
    (folder.parent / "package.json").write_text('{"version": "9.9.9"}')
    return folder


def test_the_page_files_and_their_manifest(tmp_path: Path) -> None:
    runtime = fake_runtime(tmp_path / "npm" / "dist")
    manifest = write_web_demo(tmp_path / "demo", runtime=runtime)
    written = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert written == manifest
    assert manifest["network"] == DEFAULT_NETWORK
    assert manifest["runtime"] == "onnxruntime-web 9.9.9"
    assert set(manifest["files"]) == {"model.onnx", "cascade.json", *RUNTIME_FILES}
    for name, file in manifest["files"].items():
        assert (tmp_path / "demo" / name).stat().st_size == file["bytes"]
    assert manifest["bytes"] == sum(f["bytes"] for f in manifest["files"].values())
    assert 0.6 < manifest["test_accuracy"] < 0.8
    cascade = json.loads((tmp_path / "demo" / "cascade.json").read_text())
    assert cascade  # the detector's numbers, read by the page


def test_a_missing_runtime_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="npm ci"):
        write_web_demo(tmp_path / "demo", runtime=tmp_path / "nowhere")
    assert not (tmp_path / "demo" / "model.onnx").exists()


def test_the_command_line_writes_the_files(tmp_path: Path, capsys) -> None:
    runtime = fake_runtime(tmp_path / "npm" / "dist")
    assert cli.main(["export-web", str(tmp_path / "demo"), "--runtime", str(runtime)]) == 0
    assert "model.onnx" in capsys.readouterr().out
    assert cli.main(["export-web", str(tmp_path / "other"), "--runtime",
                     str(tmp_path / "nowhere")]) == 1
    assert "npm ci" in capsys.readouterr().err


def test_a_network_fed_otherwise_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="48 px gray faces"):
        export_onnx(tmp_path / "m.onnx", "multitask-lam1")
