"""Interactive views for the chapters. The ipywidgets need a live kernel to respond;
``top_k_html`` switches among precomputed states in the browser, on the static site too."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from fer_course.data.types import FERData


def _draw_browsed_face(ax, data: FERData, split_name: str, i: int, position: int,
                       total: int) -> None:
    split = data.splits()[split_name]
    ax.imshow(split.images[i].numpy(), cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"{data.classes[int(split.labels[i])]} · {split_name} "
                 f"· row {split.rows[i]}\n{position + 1} of {total}", fontsize=10)
    ax.axis("off")


def face_browser_figure(data: FERData, split_name: str = "train", columns: int = 4) -> Figure:
    """What ``face_browser`` shows at index 0 for each class of ``split_name``, side by side:
    its static stand-in on the website, where no kernel runs the widget.

    >>> from fer_course.data import make_synthetic_fer
    >>> len(face_browser_figure(make_synthetic_fer(70, 14, 14)).axes)
    7
    """
    split = data.splits()[split_name]
    rows = -(-len(data.classes) // columns)
    fig, grid = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.9 * rows),
                             squeeze=False, layout="constrained")
    axes = grid.ravel()
    for ax in axes[len(data.classes):]:
        fig.delaxes(ax)
    for label, ax in enumerate(axes[:len(data.classes)]):
        members = (split.labels == label).nonzero().flatten()
        if len(members) == 0:
            ax.axis("off")
            ax.set_title(f"no {data.classes[label]}", fontsize=10)
            continue
        _draw_browsed_face(ax, data, split_name, int(members[0]), 0, len(members))
    return fig


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
        out.clear_output(wait=True)  # outside `with out:`, where a waiting clear stalls
        with out:
            if len(idx) == 0:
                print(f"no {data.classes[class_box.value]} faces in {split_box.value}")
                return
            position = min(index.value, len(idx) - 1)
            fig, ax = plt.subplots(figsize=(2.6, 2.8))
            _draw_browsed_face(ax, data, split_box.value, int(idx[position]), position, len(idx))
            plt.show()

    for control in (split_box, class_box, index):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([split_box, class_box]), index, out])


def top_k_slider(members, rule: str = "soft", seed: int = 0) -> widgets.Widget:
    """Slide k; see the members of the top-k ensemble (ordered by validation accuracy) and
    its validation and test accuracy under ``rule``. Needs a live kernel; ``top_k_html``
    shows the same states on a static page."""
    import textwrap

    from fer_course.analysis.ensemble import RULES
    from fer_course.analysis.ensemble_report import top_k_states

    states = top_k_states(members, seed=seed)
    k = widgets.IntSlider(value=min(3, len(members)), min=1, max=len(members), description="k")
    rule_box = widgets.Dropdown(options=list(RULES), value=rule, description="rule")
    out = widgets.Output()

    def redraw(*_):
        state = states[rule_box.value][k.value - 1]
        names = ", ".join(state["members"])
        lines = textwrap.wrap(f"top-{k.value} by validation accuracy: {names}", 72,
                              subsequent_indent="  ")
        lines += [f"  {split} accuracy ({rule_box.value}): {state[split]:.4f}"
                  for split in ("val", "test")]
        out.clear_output(wait=True)  # outside `with out:`, where a waiting clear stalls
        with out:
            print("\n".join(lines))

    k.observe(redraw, names="value")
    rule_box.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([k, rule_box]), out])


_TOP_K_SCRIPT = """
(function () {
  const states = %(states)s, root = document.getElementById("%(id)s");
  const slider = root.querySelector("input"), rule = root.querySelector("select");
  const svg = root.querySelector("svg"), W = 320, H = 120, P = 28;
  function draw() {
    const k = Number(slider.value), all = states[rule.value], s = all[k - 1];
    root.querySelector("output").textContent = k;
    root.querySelector(".topk-acc").textContent = "top " + k + ", " + rule.value +
      " vote: validation " + s.val.toFixed(3) + ", test " + s.test.toFixed(3);
    root.querySelectorAll("li").forEach(function (li, i) {
      li.style.fontWeight = i < k ? "bold" : "normal";
      li.style.opacity = i < k ? "1" : "0.45";
    });
    const acc = all.map(function (t) { return t.test; });
    const lo = Math.min.apply(null, acc) - 0.005, hi = Math.max.apply(null, acc) + 0.005;
    const x = function (i) { return P + (all.length > 1 ? i * (W - 2 * P) / (all.length - 1)
                                                          : (W - 2 * P) / 2); };
    const y = function (a) { return H - 18 - (a - lo) / (hi - lo) * (H - 30); };
    let g = '<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="' +
      acc.map(function (a, i) { return x(i) + "," + y(a); }).join(" ") + '"/>';
    acc.forEach(function (a, i) {
      g += '<circle cx="' + x(i) + '" cy="' + y(a) + '" r="' + (i === k - 1 ? 6 : 3) +
        '" fill="' + (i === k - 1 ? "#d62728" : "currentColor") + '"/>' +
        '<text x="' + x(i) + '" y="' + (H - 3) + '" font-size="10" text-anchor="middle"' +
        ' fill="currentColor">' + (i + 1) + '</text>';
    });
    g += '<text x="0" y="12" font-size="10" fill="currentColor">' + rule.value +
      " vote: test accuracy (" + lo.toFixed(3) + " to " + hi.toFixed(3) +
      ") against k</text>";
    svg.innerHTML = g;
  }
  slider.addEventListener("input", draw);
  rule.addEventListener("change", draw);
  draw();
})();
"""


def top_k_html(states: dict[str, list[dict]], rule: str = "soft", k: int = 3) -> Any:
    """The top-k view as HTML and JavaScript that work without a kernel (on the static
    website too): a slider for k and a menu for the rule switch among the precomputed
    ``states`` (``ensemble_report.top_k_states``); the chosen members are in bold, and a
    small chart marks k on the test-accuracy curve of the rule.

    >>> states = {"soft": [{"k": 1, "members": ["a"], "val": 0.5, "test": 0.4}]}
    >>> 'max="1"' in top_k_html(states).data
    True
    """
    import hashlib
    import html
    import json

    from IPython.display import HTML

    data = json.dumps(states, sort_keys=True)
    view_id = "topk-" + hashlib.sha1(data.encode()).hexdigest()[:10]
    n = len(next(iter(states.values())))
    rule = rule if rule in states else next(iter(states))
    options = "".join(f'<option{" selected" if r == rule else ""}>{html.escape(r)}</option>'
                      for r in states)
    names = "".join(f"<li>{html.escape(name)}</li>" for name in states[rule][-1]["members"])
    k = max(1, min(k, n))
    body = (f'<div id="{view_id}" class="topk-view" style="max-width:100%">'
            f'<label>k <input type="range" min="1" max="{n}" step="1" value="{k}" '
            f'style="vertical-align:middle;width:10em"> <output>{k}</output></label> '
            f'<label style="margin-left:1em">rule <select>{options}</select></label>'
            f'<p class="topk-acc" style="margin:0.5em 0"></p>'
            f'<svg viewBox="0 0 320 120" style="width:100%;max-width:420px;height:auto" '
            f'role="img" aria-label="test accuracy against k, the chosen k marked"></svg>'
            f'<p style="margin:0.3em 0 0">Members in validation order (the chosen ones '
            f'in bold):</p><ol style="margin-top:0.2em">{names}</ol></div>')
    script = _TOP_K_SCRIPT % {"states": data, "id": view_id}
    return HTML(f"{body}<script>{script}</script>")


def reconstruction_browser(data: FERData, models: dict) -> widgets.Widget:
    """Pick a test face; see its reconstruction by each model (``{name: autoencoder}``)."""
    from fer_course.engine.autoencoder_task import reconstruct
    from fer_course.views.plots import reconstruction_grid

    index = widgets.IntSlider(value=0, min=0, max=len(data.test) - 1, description="test face",
                              continuous_update=False)
    out = widgets.Output()

    def redraw(*_):
        face = data.test.images[index.value:index.value + 1]
        out.clear_output(wait=True)  # outside `with out:`, where a waiting clear stalls
        with out:
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
        out.clear_output(wait=True)  # outside `with out:`, where a waiting clear stalls
        with out:
            interpolation_strip(frames, title=f"test faces {first.value} -> {second.value}")
            plt.show()

    first.observe(redraw, names="value")
    second.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([first, second]), out])
