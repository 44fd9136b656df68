"""What a page shows: readable tables and p-values (fer_course.views.reading)."""

import math

import pandas as pd

from fer_course.analysis.best_report import ablation_points
from fer_course.views.reading import finding, p_text, readable


def test_p_values_read_as_written_by_hand() -> None:
    assert p_text(3.5e-6) == "3.5e-6"
    assert p_text(0.00012) == "1.2e-4"
    assert p_text(0.0412) == "0.041"
    assert p_text(0.13) == "0.13"
    assert p_text(float("nan")) == "—"
    assert p_text(0.0, floor=1e-4) == "< 1e-4"  # a bootstrap of 10,000 draws
    assert p_text(0.0, floor=1 / 3000) == "< 3.3e-4"


def test_readable_table_has_no_nan_counts_as_integers_and_human_names() -> None:
    table = pd.DataFrame({"test_acc": [0.69123, math.nan], "faces": [3376.0, 12.0],
                          "p_value": [3.5e-6, 0.2], "member": ["resnet18", None]})
    shown = readable(table, names={"test_acc": "test accuracy"})
    assert list(shown.columns) == ["test accuracy", "faces", "p value", "member"]
    assert shown.iloc[0].tolist() == ["0.691", "3376", "3.5e-6", "resnet18"]
    assert shown.iloc[1].tolist() == ["—", "12", "0.20", "—"]
    assert "nan" not in shown.to_string().lower()


def test_ablation_points_give_the_worth_with_minus_without() -> None:
    from fer_course.analysis.best_report import WORTH

    table = pd.DataFrame({"test accuracy": [0.653, 0.675], "macro-F1": [0.607, 0.647],
                          "Disgust recall": [0.545, 0.691],
                          "worth": [math.nan, -0.022],
                          "low": [math.nan, -0.035], "high": [math.nan, -0.010],
                          "p-value": [math.nan, 0.0]},
                         index=pd.Index(["(full)", "affine"], name="without"))
    shown = readable(ablation_points(table, n_boot=10_000))
    assert shown.loc["affine", WORTH] == "-2.2"  # the run without affine moves was better
    assert shown.loc["affine", "95 % interval"] == "-3.5 to -1.0"
    assert shown.loc["affine", "p-value"] == "< 1e-4"
    assert shown.loc["(full)"].tolist()[-3:] == ["—", "—", "—"]


def test_finding_is_markdown_that_wraps() -> None:
    shown = finding("The ensemble is **3.0 points** more accurate.")
    assert shown._repr_markdown_() == "The ensemble is **3.0 points** more accurate."


def test_shown_source_fits_the_column_and_drops_docstrings() -> None:
    from fer_course.models.small_cnn import SmallFaceNet
    from fer_course.views.source import WIDTH, source_text

    shown = source_text(SmallFaceNet)
    assert '"""' not in shown  # the docstring is left out
    assert max(len(line) for line in shown.splitlines()) <= WIDTH  # library lines are 100 wide
    assert "nn.init.kaiming_normal_(" in shown and "def forward(" in shown


def test_readable_digits_per_column() -> None:
    table = pd.DataFrame({"minutes": [24.41], "test accuracy": [0.65311]})
    assert readable(table, digits={"minutes": 1}).iloc[0].tolist() == ["24.4", "0.653"]


def test_long_comments_wrap_to_the_column() -> None:
    from fer_course.views.source import _wrap_comments

    code = "def f(x):\n    y = x + 1  # " + "word " * 20 + "\n    # " + "more " * 20 + "\n"
    wrapped = _wrap_comments(code, 40).splitlines()
    assert max(map(len, wrapped)) <= 40
    assert "    y = x + 1" in wrapped  # the code stays; its comment moved above it
    assert wrapped.index("    y = x + 1") > 1 and wrapped[1].startswith("    # word")
    assert sum(line.count("word") for line in wrapped) == 20
    assert sum(line.count("more") for line in wrapped) == 20
