"""Interactive views for the chapters (ipywidgets). They need a live kernel to respond."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt

from fer_course.data.types import FERData


def face_browser(data: FERData) -> widgets.Widget:
    """Pick a split, a class and an index; see that face with its label and source row.

    >>> from fer_course.data import make_synthetic_fer
    >>> face_browser(make_synthetic_fer(70, 14, 14))  # doctest: +SKIP
    VBox(children=(HBox(children=(Dropdown(description='split', ...
    """
    split_box = widgets.Dropdown(options=list(data.splits()), value="train", description="split")
    class_box = widgets.Dropdown(options=[(c, i) for i, c in enumerate(data.classes)], value=0,
                                 description="class")
    index = widgets.IntSlider(value=0, min=0, max=0, description="index",
                              continuous_update=False)
    out = widgets.Output()

    def members():
        split = data.splits()[split_box.value]
        return split, (split.labels == class_box.value).nonzero().flatten()

    def redraw(*_):
        split, idx = members()
        index.max = max(len(idx) - 1, 0)
        with out:
            out.clear_output(wait=True)
            if len(idx) == 0:
                print(f"no {data.classes[class_box.value]} faces in {split_box.value}")
                return
            i = int(idx[min(index.value, len(idx) - 1)])
            fig, ax = plt.subplots(figsize=(2.6, 2.8))
            ax.imshow(split.images[i].numpy(), cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{data.classes[int(split.labels[i])]} · {split_box.value} "
                         f"· row {split.rows[i]}\n{index.value + 1} of {len(idx)}", fontsize=9)
            ax.axis("off")
            plt.show()

    for control in (split_box, class_box, index):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([split_box, class_box]), index, out])


def top_k_slider(members, rule: str = "soft", seed: int = 0) -> widgets.Widget:
    """Slide k; see the members of the top-k ensemble (ordered by validation accuracy) and
    its validation and test accuracy under ``rule``."""
    from fer_course.analysis.ensemble import RULES, ensemble_predictions, order_by

    order = order_by(members.accuracies("val"))
    k = widgets.IntSlider(value=min(3, len(order)), min=1, max=len(order), description="k")
    rule_box = widgets.Dropdown(options=list(RULES), value=rule, description="rule")
    out = widgets.Output()

    def redraw(*_):
        chosen = order[:k.value]
        weights = members.accuracies("val")
        names = ", ".join(members.names[i] for i in chosen)
        lines = [f"top-{k.value} by validation accuracy: {names}"]
        for split in ("val", "test"):
            probs, labels = members.split(split)
            predicted = ensemble_predictions(probs, chosen, rule_box.value, weights, seed=seed)
            acc = (predicted == labels).mean()
            lines.append(f"  {split} accuracy ({rule_box.value}): {acc:.4f}")
        with out:
            out.clear_output(wait=True)
            print("\n".join(lines))

    k.observe(redraw, names="value")
    rule_box.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([k, rule_box]), out])


def reconstruction_browser(data: FERData, models: dict) -> widgets.Widget:
    """Pick a test face; see its reconstruction by each model (``{name: autoencoder}``)."""
    from fer_course.engine.autoencoder_task import reconstruct
    from fer_course.views.plots import reconstruction_grid

    index = widgets.IntSlider(value=0, min=0, max=len(data.test) - 1, description="test face",
                              continuous_update=False)
    out = widgets.Output()

    def redraw(*_):
        face = data.test.images[index.value:index.value + 1]
        with out:
            out.clear_output(wait=True)
            reconstruction_grid(face, {n: reconstruct(m, face) for n, m in models.items()})
            plt.show()

    index.observe(redraw, names="value")
    redraw()
    return widgets.VBox([index, out])


def interpolation_browser(data: FERData, model) -> widgets.Widget:
    """Pick two test faces; see the faces decoded along the line between their codes."""
    from fer_course.augment import AugmentConfig, eval_transform
    from fer_course.views.plots import interpolation_strip

    first = widgets.IntSlider(value=0, min=0, max=len(data.test) - 1, description="face A",
                              continuous_update=False)
    second = widgets.IntSlider(value=1, min=0, max=len(data.test) - 1, description="face B",
                               continuous_update=False)
    out = widgets.Output()

    def redraw(*_):
        faces = eval_transform(data.test.images[[first.value, second.value]],
                               AugmentConfig(image_size=48))
        frames = model.interpolate(faces[0:1], faces[1:2], steps=8)
        with out:
            out.clear_output(wait=True)
            interpolation_strip(frames, title=f"test faces {first.value} -> {second.value}")
            plt.show()

    first.observe(redraw, names="value")
    second.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([first, second]), out])
