"""Test-time views (fer_course.models.view_averaging) and tools/view_predictions.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tool_scripts import load_tool  # tests/tool_scripts.py (pytest puts tests/ on the path)

from fer_course.analysis.view_report import set_probabilities, view_logits, with_views
from fer_course.augment.small_faces import affine_views
from fer_course.data import make_synthetic_fer
from fer_course.data.formats.writers import write_npz
from fer_course.engine.inference import LoadedModel
from fer_course.models.small_cnn import FlipAveraged, SmallFaceNet
from fer_course.models.view_averaging import VIEW_SETS, View, ViewAveraged, view_table
from fer_course.runs import RunFolder
from fer_course.runs.kinds import MODEL_KINDS

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def tiny_network() -> LoadedModel:
    torch.manual_seed(0)
    net = FlipAveraged(SmallFaceNet(widths=(4, 8, 8, 8))).eval()
    return LoadedModel(net, 48, MODEL_KINDS["best"])


def column_face(column: int) -> torch.Tensor:
    face = torch.zeros(1, 1, 48, 48)
    face[..., column] = 1.0
    return face


def test_a_shift_of_two_pixels_moves_the_face_by_two_pixels() -> None:
    moved = affine_views(column_face(20), view_table(View(shift_x=2), 1))
    assert moved[0, 0, 0].argmax().item() == 18
    assert torch.allclose(moved, column_face(18), atol=1e-5)


def test_a_zoom_magnifies_about_the_centre() -> None:
    face = torch.zeros(1, 1, 48, 48)
    face[..., 20:28, 20:28] = 1.0  # a centred square of 8 px
    bigger = affine_views(face, view_table(View(zoom=1.5), 1))
    smaller = affine_views(face, view_table(View(zoom=0.75), 1))
    assert bigger.sum() > 1.5 * face.sum() and smaller.sum() < 0.75 * face.sum()
    assert torch.allclose(bigger, bigger.flip(-1), atol=1e-5)  # still centred


def test_the_mirror_set_is_the_network_itself_and_others_differ() -> None:
    net = tiny_network()
    x = torch.rand(4, 1, 48, 48)
    with torch.no_grad():
        own = net.model(x)
        assert torch.equal(ViewAveraged(net.model, VIEW_SETS["mirror"])(x), own)
        for name in ("shift2px", "scale3", "rotate3"):
            assert not torch.allclose(with_views(net, name).model(x), own), name


def test_shared_views_are_computed_once_and_match_the_averaging_module() -> None:
    net = tiny_network()
    faces = torch.randint(0, 256, (5, 48, 48), dtype=torch.uint8)
    wanted = [v for name in VIEW_SETS for v in VIEW_SETS[name]]
    per_view = view_logits(net, faces, wanted, batch_size=2)
    assert len(per_view) == len(set(wanted)) < len(wanted)
    for name in VIEW_SETS:
        with torch.no_grad():
            direct = torch.softmax(with_views(net, name).model(net.kind.prepare(faces, 48)), 1)
        assert torch.allclose(set_probabilities(per_view, name), direct, atol=1e-5), name


def test_views_are_refused_for_other_kinds_and_empty_sets() -> None:
    backbone = LoadedModel(torch.nn.Identity(), 48, MODEL_KINDS["backbone"])
    with pytest.raises(ValueError, match="not a backbone network"):
        with_views(backbone, "scale3")
    with pytest.raises(ValueError, match="at least one view"):
        ViewAveraged(torch.nn.Identity(), [])


@pytest.fixture
def smoke_run(tmp_path: Path, monkeypatch):
    """A smoke run of the best recipe trained and committed on synthetic faces."""
    data = make_synthetic_fer(70, 14, 14, seed=3)
    data_path = write_npz(data, tmp_path / "faces.npz")
    monkeypatch.setenv("FER_COURSE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("FER_COURSE_RUNS_DIR", str(tmp_path / "runs"))
    assert load_tool("train_results").main(["--data", str(data_path), "--profile", "smoke",
                                            "--runs", "best"]) == 0
    return data, data_path


def test_the_tool_scores_sets_on_publictest_and_keeps_only_the_set_asked_for(
        tmp_path: Path, smoke_run) -> None:
    data, data_path = smoke_run
    tool = load_tool("view_predictions")
    args = ["--data", str(data_path), "--profile", "smoke", "--runs", "best,best-seed3"]
    assert tool.main([*args, "--sets", "mirror,scale3"]) == 0
    table = pd.read_csv(tmp_path / "results" / "smoke" / "view_sets.csv")
    assert sorted(table["views"]) == ["mirror", "scale3"] and set(table["run"]) == {"best"}
    run = RunFolder(tmp_path / "results" / "smoke" / "best")
    assert not run.file(RunFolder.predictions_name("scale3")).exists()
    own = run.read_predictions(data)
    mirror = table.set_index("views").loc["mirror", "public_accuracy"]
    # the run's own scores, from its half-precision weights: one face of 14 may differ
    assert mirror == pytest.approx((own["val_probs"].argmax(1) == own["val_labels"]).mean(),
                                   abs=0.08)

    assert tool.main([*args, "--sets", "scale3", "--write", "scale3"]) == 0
    again = pd.read_csv(tmp_path / "results" / "smoke" / "view_sets.csv")
    assert len(again) == 2  # the scale3 row replaced, not repeated
    zoomed = run.read_predictions(views="scale3")
    assert np.array_equal(zoomed["test_rows"], own["test_rows"])
    assert np.allclose(zoomed["test_probs"].sum(1), 1, atol=1e-5)
    assert not np.allclose(zoomed["test_probs"], own["test_probs"])


def test_the_shipped_network_loads_with_views_and_predict_passes_them_on() -> None:
    import fer_course

    faces = torch.randint(0, 256, (4, 48, 48), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(1))
    plain = fer_course.load_pretrained(device="cpu")
    zoomed = fer_course.load_pretrained(device="cpu", views="scale3")
    assert isinstance(zoomed.model, ViewAveraged) and zoomed.model.model is not None
    a, b = plain.predict_proba(faces), zoomed.predict_proba(faces)
    assert np.allclose(b.sum(1), 1) and not np.allclose(a, b)
    with pytest.raises(ValueError, match="unknown view set 'scale5'"):
        fer_course.load_pretrained(device="cpu", views="scale5")
    with pytest.raises(ValueError, match="shipped network named by a string"):
        fer_course.predict(np.zeros((64, 64), np.uint8), plain, views="scale3")
    assert len(fer_course.predict(np.zeros((64, 64), np.uint8), views="scale3")) == 0


def test_the_chapter_reads_stored_scores_or_computes_the_same_ones(tmp_path: Path,
                                                                  smoke_run) -> None:
    from fer_course.analysis import view_report

    data, data_path = smoke_run
    run = RunFolder(tmp_path / "results" / "smoke" / "best")
    table = tmp_path / "results" / "smoke" / "view_sets.csv"
    args = ["--data", str(data_path), "--profile", "smoke", "--runs", "best"]
    assert load_tool("view_predictions").main([*args, "--sets", "mirror", "--write", "scale3"]) == 0
    partial = pd.read_csv(table).set_index("views")["public_accuracy"]
    computed = view_report.scores_of({"best": run}, data, table)  # not every set stored
    assert list(computed["views"]) == list(VIEW_SETS)
    assert computed.set_index("views")["public_accuracy"][partial.index].tolist() == \
        pytest.approx(partial.tolist(), abs=1e-6)  # the table keeps 6 decimals
    computed.assign(public_accuracy=0.5).to_csv(table, index=False)
    assert (view_report.scores_of({"best": run}, data, table)["public_accuracy"] == 0.5).all()

    stored = view_report.stored_predictions(run, data, "scale3")
    run.file(RunFolder.predictions_name("scale3")).unlink()
    fresh = view_report.stored_predictions(run, data, "scale3")
    assert np.allclose(stored["test_probs"], fresh["test_probs"], atol=1e-6)
    assert np.array_equal(stored["test_labels"], fresh["test_labels"])
