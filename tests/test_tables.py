"""Table 5 and the training figures, from a real (tiny) run folder."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from fer_course.data import make_synthetic_fer  # noqa: E402
from fer_course.engine.backbone_task import fit  # noqa: E402
from fer_course.paper import PAPER_TABLE5  # noqa: E402
from fer_course.profiles import get_profile  # noqa: E402
from fer_course.views import plots  # noqa: E402
from fer_course.views.tables import table5  # noqa: E402


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
    table = table5(root)
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
    assert len(plots.confusion_matrices(r.metrics, data.classes).axes) == 4
    recall = plots.per_class_recall(r.metrics, data.classes)
    assert list(recall.index) == list(data.classes) and list(recall.columns) == [
        "train", "val", "test"]
    plt.close("all")
