"""The front door: fer_course.predict on a real photo, one meaning of pixel values in every
entry that takes faces, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image

import fer_course
from fer_course.ops import cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Grace Hopper's portrait, matplotlib's sample photo: one real frontal face."""
    path = tmp_path_factory.mktemp("photos") / "hopper.jpg"
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        path.write_bytes(f.read())
    return path


@pytest.fixture(scope="module")
def model():
    return fer_course.load_pretrained("best", device="cpu")


def test_predict_gives_one_row_per_face_with_box_label_and_probabilities(photo: Path) -> None:
    table = fer_course.predict(photo)
    assert list(table.columns) == ["face", "x", "y", "w", "h", "label", *fer_course.CLASSES]
    assert len(table) == 1
    probabilities = table[list(fer_course.CLASSES)].to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert table.label[0] == fer_course.CLASSES[int(probabilities[0].argmax())]
    width, height = Image.open(photo).size
    x, y, w, h = (int(table[c][0]) for c in "xywh")
    assert 0 <= x < x + w <= width and 0 <= y < y + h <= height


def test_a_path_a_pil_image_and_arrays_of_both_pixel_kinds_agree(photo: Path) -> None:
    pixels = np.asarray(Image.open(photo).convert("RGB"))
    tables = [fer_course.predict(p) for p in
              (photo, Image.open(photo), pixels, pixels / 255.0, pixels.astype(np.float32) / 255)]
    columns = list(fer_course.CLASSES)
    for table in tables[1:]:
        assert np.allclose(table[columns].to_numpy(), tables[0][columns].to_numpy(), atol=1e-6)


def test_predict_proba_reads_uint8_and_unit_floats_the_same(model) -> None:
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48)).astype(np.uint8)
    assert np.array_equal(model.predict_proba(faces), model.predict_proba(faces / 255.0))


@pytest.mark.parametrize(("faces", "message"), [
    (np.full((2, 48, 48), 200.0), "float64 values in [200, 200] (divide 0-255 floats by 255)"),
    (np.full((2, 48, 48), 3, dtype=np.int64), "int64 values in [3, 3]"),
    (np.full((2, 48, 48), -0.5), "float64 values in [-0.5, -0.5]"),
    (np.full((2, 48, 48), np.nan), "NaN or infinite values"),
    (np.zeros((48, 48), np.uint8), "got shape [48, 48] (one face? pass faces[None])"),
    (np.zeros((0, 48, 48), np.uint8), "got shape [0, 48, 48]"),
])
def test_predict_proba_refuses_what_it_cannot_read(model, faces, message: str) -> None:
    with pytest.raises(ValueError) as error:
        model.predict_proba(faces)
    assert message in str(error.value)


def test_a_photo_array_outside_the_pixel_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="uint8 .0-255. or floats in .0, 1.; got float64"):
        fer_course.predict(np.full((64, 64), 128.0))


def test_an_autoencoder_is_not_a_classifier(photo: Path) -> None:
    with pytest.raises(ValueError, match="reconstructs faces and classifies none"):
        fer_course.predict(photo, "autoencoder-200")


def test_cli_predict_prints_a_table_and_json(photo: Path, capsys) -> None:
    assert cli.main(["predict", str(photo)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{photo}: 1 face\n") and " label " in text
    assert cli.main(["predict", str(photo), "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    face = record["faces"][0]
    assert record["photo"] == str(photo) and len(face["box"]) == 4
    assert set(face["probabilities"]) == set(fer_course.CLASSES)
    assert face["label"] == max(face["probabilities"], key=face["probabilities"].get)


def test_cli_predict_with_views_matches_the_library(photo: Path, capsys) -> None:
    assert cli.main(["predict", str(photo), "--json", "--views", "scale3"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    library = fer_course.predict(photo, views="scale3").iloc[0]
    plain = fer_course.predict(photo).iloc[0]
    shown = record["faces"][0]["probabilities"]
    assert all(abs(shown[c] - library[c]) < 1e-4 for c in fer_course.CLASSES)
    assert any(abs(shown[c] - plain[c]) > 1e-4 for c in fer_course.CLASSES)


def test_cli_predict_refuses_an_unknown_view_set_before_any_photo(photo: Path,
                                                                   capsys) -> None:
    from fer_course.models.view_averaging import VIEW_SETS

    assert cli.main(["predict", str(photo), "--views", "scale5"]) == 2
    captured = capsys.readouterr()
    assert "'scale5' is not a view set" in captured.err and captured.out == ""
    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(name in help_text for name in VIEW_SETS)  # the help names every set


def test_cli_predict_reports_a_bad_file_and_goes_on(photo: Path, tmp_path: Path,
                                                    capsys) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    assert cli.main(["predict", str(bad), str(photo), str(tmp_path / "gone.jpg")]) == 1
    captured = capsys.readouterr()
    assert f"{photo}: 1 face" in captured.out
    assert f"cannot read {bad} as an image" in captured.err
    assert "gone.jpg: no such image file" in captured.err
    assert bad.read_text() == "not an image"  # nothing on disk changed


def test_cli_models_lists_the_shipped_networks(capsys) -> None:
    assert cli.main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("best") and "classifier" in line for line in lines)


def test_cli_batch_without_its_extra_says_how_to_install_it(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name: None if name == "submitit" else object())
    assert cli.main(["batch", "book/02_backbones.ipynb", "--out", "x"]) == 2
    assert "pip install 'fer_course[batch]'" in capsys.readouterr().err


def test_python_dash_m_fer_course_has_help() -> None:
    done = subprocess.run([sys.executable, "-m", "fer_course", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    for command in ("predict", "data", "models", "batch"):
        assert command in done.stdout


def test_cli_data_prints_splits_and_classes_of_a_file(tmp_path: Path, capsys) -> None:
    from fer_course.data import make_synthetic_fer
    from fer_course.data.formats.writers import write_kaggle_csv

    data = make_synthetic_fer(70, 14, 21, seed=0)
    path = write_kaggle_csv(data, tmp_path / "fer2013.csv")
    assert cli.main(["data", str(path)]) == 0
    text = capsys.readouterr().out
    assert "train 70 / val 14 / test 21" in text
    assert cli.main(["data", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert json.dumps(summary)  # plain json values
    cut = tmp_path / "cut.csv"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert cli.main(["data", str(cut)]) == 1
    assert "cut.csv" in capsys.readouterr().err


def test_grad_cam_reads_unit_float_faces_like_uint8(model) -> None:
    from fer_course.faces.gradcam import grad_cam

    faces = np.random.default_rng(1).integers(0, 256, (3, 48, 48)).astype(np.uint8)
    as_uint8 = grad_cam(model.model, faces)
    assert np.allclose(grad_cam(model.model, faces / 255.0), as_uint8)
    with pytest.raises(ValueError, match="divide 0-255 floats by 255"):
        grad_cam(model.model, faces.astype(np.float64))


def test_the_default_network_is_the_registry_s_and_shipped() -> None:
    """``load_pretrained()`` and ``predict`` without a model use ``DEFAULT_NETWORK``, a
    shipped classifier; a name still loads its own run."""
    import numpy as np

    import fer_course
    from fer_course.ops.predict import is_classifier
    from fer_course.runs.registry import DEFAULT_NETWORK, REGISTRY

    assert REGISTRY[DEFAULT_NETWORK].ships_weights and is_classifier(DEFAULT_NETWORK)
    faces = np.random.default_rng(1).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    default = fer_course.load_pretrained().predict_proba(faces)
    named = fer_course.load_pretrained(DEFAULT_NETWORK).predict_proba(faces)
    np.testing.assert_array_equal(default, named)
    assert fer_course.load_pretrained("best").predict_proba(faces).shape == (3, 7)
