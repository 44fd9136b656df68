"""Table 5 and the training figures, from a real (tiny) run folder."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import json  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from fer_course.data import make_synthetic_fer  # noqa: E402
from fer_course.engine.backbone_task import fit  # noqa: E402
from fer_course.paper import PAPER_TABLE5  # noqa: E402
from fer_course.profiles import get_profile  # noqa: E402
from fer_course.runs.store import RunStore  # noqa: E402
from fer_course.views import plots  # noqa: E402
from fer_course.views.tables import table5, table5_view  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny runs: one thread is as fast, and far faster on a busy machine
    try:
        return train_runs(tmp_path_factory)
    finally:
        torch.set_num_threads(threads)


def train_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs") / "smoke"  # runs/<profile>/<run>
    data = make_synthetic_fer(140, 35, 35, seed=5)
    profile = get_profile("smoke", image_size=32, epochs=2, batch_size=32)
    results = {a: fit(data, a, profile, root / a, progress=False) for a in ("resnet18",)}
    from fer_course.data.ferplus import apply_ferplus_labels, synthetic_ferplus_votes

    plus = apply_ferplus_labels(data, synthetic_ferplus_votes(data))  # 8 classes: not Table 5
    fit(plus, "resnet18", profile.overridden(epochs=1), root / "resnet18-ferplus", progress=False)
    (root / "unfinished").mkdir(parents=True)  # a folder without metrics.json is not a finished run
    return root, data, results


def test_table5_reads_every_finished_run(runs) -> None:
    root, _, results = runs
    table = table5(RunStore("smoke", runs_dir=root, results_dir=root / "none"))
    assert table["backbone"].tolist() == ["resnet18"]
    row = table.iloc[0]
    assert row["test"] == results["resnet18"].metrics["test"]["accuracy"]
    assert row["paper test"] == PAPER_TABLE5["resnet18"][2]
    assert row["test - paper"] == pytest.approx(row["test"] - row["paper test"])
    assert row["profile"] == "smoke" and row["epochs"] == 2 and row["weights"] == "scratch"


def test_training_figures(runs) -> None:
    _, data, results = runs
    r = results["resnet18"]
    assert len(plots.training_curves(r.history).axes) == 2
    # two splits x (counts, share), each with its colour bar
    assert len(plots.confusion_matrices(r.metrics, data.classes).axes) == 8
    recall = plots.per_class_recall(r.metrics, data.classes)
    assert list(recall.index) == list(data.classes) and list(recall.columns) == [
        "train", "val", "test"]
    plt.close("all")


def write_run(root, name: str, arch: str, test: float, wall_s: float, epoch_s: list[float],
              epochs: int = 5) -> None:
    """A finished backbone run folder written by hand: metrics and history only."""
    folder = root / name
    folder.mkdir(parents=True)
    metrics = {"classes": ["c"] * 7, "wall_time_s": wall_s,
               "settings": {"arch": arch, "epochs": epochs, "image_size": 48, "weights": None},
               **{s: {"accuracy": a} for s, a in (("train", 0.5), ("val", 0.4), ("test", test))}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    rows = "".join(f"{i + 1},{sec}\n" for i, sec in enumerate(epoch_s))
    (folder / "history.csv").write_text("epoch,seconds\n" + rows)


def test_table5_minutes_and_its_readable_view(tmp_path) -> None:
    root = tmp_path / "cpu"
    # resumed: the wall time (30 s) counts the last process, the epochs 60 + 120 s
    write_run(root, "resnet18", "resnet18", 0.4412, 30.0, [60.0, 120.0])
    # the wall time (600 s) is longer than the epochs' 100 s: it counts
    write_run(root, "vgg11_bn", "vgg11_bn", 0.3, 600.0, [40.0, 60.0])
    table = table5(RunStore("smoke", runs_dir=root, results_dir=root / "none"))
    assert table.set_index("run")["minutes"].to_dict() == {"resnet18": 3.0, "vgg11_bn": 10.0}
    shown, shared = table5_view(table)
    assert shared == {"profile": "cpu", "epochs": 5, "image px": 48, "weights": "scratch"}
    assert list(shown.index) == ["resnet18", "vgg11_bn"]
    assert list(shown.columns) == ["backbone", "train", "val", "test", "paper's test",
                                   "test − paper", "training (min)"]
    # 0.4412 - 0.691 = -0.2498; the paper has no vgg11_bn: a dash, never NaN
    assert shown.loc["resnet18"].tolist() == ["ResNet18", "0.500", "0.400", "0.441", "0.691",
                                              "-0.250", "3.0"]
    assert shown.loc["vgg11_bn", "paper's test"] == "—"
    assert shown.loc["vgg11_bn", "training (min)"] == "10"
    assert not shown.isin(["nan", "NaN"]).any().any()
    # a setting that differs between rows stays a column
    write_run(root, "resnet34", "resnet34", 0.45, 60.0, [60.0], epochs=30)
    shown, shared = table5_view(table5(RunStore("smoke", runs_dir=root, results_dir=root / "none")))
    assert "epochs" in shown.columns and "epochs" not in shared
    assert shown["epochs"].tolist() == ["5", "30", "5"]


def test_one_panel_confusion_matrix_shows_row_shares() -> None:
    metrics = {"test": {"confusion_matrix": [[3, 1], [0, 4]], "accuracy": 0.875}}
    fig = plots.confusion_matrices(metrics, ["a", "b"], splits=("test",), panels=("share",))
    assert len(fig.axes) == 2  # the matrix and its colour bar
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.75", "0.25", "0.00", "1.00"]
    plt.close(fig)


def test_training_curves_stack_in_one_column(runs) -> None:
    _, _, results = runs
    fig = plots.training_curves(results["resnet18"].history, columns=1)
    fig.canvas.draw()
    top, bottom = (ax.get_position() for ax in fig.axes)
    assert top.y0 > bottom.y1 - 1e-6 and abs(top.x0 - bottom.x0) < 0.05
    assert fig.axes[0].get_ylabel() == "accuracy"
    plt.close(fig)
