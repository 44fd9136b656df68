"""Does looking at a test face more than twice pay? Test-time views for the shipped networks.

Run by hand with the real data (about 2 minutes per view set and network on 2 CPU cores):

    python benchmarks/bench_tta.py --data ../shared/data/fer2013.npz

The shipped best-recipe networks already average each face with its mirror image. This
measures richer view sets on **PublicTest**, where the choice is made: shifted copies
(the face moved by ``d`` px, edges repeated) and zoomed crops (the face enlarged to
``48 + 2d`` px, then the centre and four corners cut at 48 px); every view is mirrored
too, and the probabilities are averaged. The view set with the best mean PublicTest
accuracy over the networks is then scored **once** on PrivateTest against the mirror
alone, with a paired bootstrap interval. Results go to
``benchmarks/results/tta-<machine>.md``.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fer_course.analysis.significance import paired_bootstrap
from fer_course.atomic import atomic_write_text
from fer_course.data import load_fer2013
from fer_course.devices import describe_device, machine_tag
from fer_course.pretrained import load_pretrained

RESULTS = Path(__file__).parent / "results"
VIEW_SETS = ("mirror", "shift2", "shift3", "zoom2", "zoom3")


def views(faces: torch.Tensor, view_set: str) -> list[torch.Tensor]:
    """The 48 px views of float faces ``[B, 1, 48, 48]`` (each is also mirrored by the
    network itself).

    >>> [v.shape[-1] for v in views(torch.rand(2, 1, 48, 48), "zoom2")]
    [48, 48, 48, 48, 48]
    """
    if view_set == "mirror":
        return [faces]
    d = int(view_set[-1])
    if view_set.startswith("shift"):
        padded = F.pad(faces, (d, d, d, d), mode="replicate")
        moves = [(0, 0), (d, 0), (-d, 0), (0, d), (0, -d)]
        return [padded[..., d + dy:d + dy + 48, d + dx:d + dx + 48] for dx, dy in moves]
    big = F.interpolate(faces, size=48 + 2 * d, mode="bilinear", align_corners=False,
                        antialias=True)
    corners = [(d, d), (0, 0), (2 * d, 0), (0, 2 * d), (2 * d, 2 * d)]
    return [big[..., y:y + 48, x:x + 48] for x, y in corners]


@torch.no_grad()
def probabilities(model: torch.nn.Module, images: torch.Tensor, view_set: str) -> np.ndarray:
    """Mean softmax over the views of uint8 faces ``[N, 48, 48]``."""
    faces = images.float().div(255).unsqueeze(1)
    chunks = []
    for start in range(0, len(faces), 512):
        shown = views(faces[start:start + 512], view_set)
        chunks.append(sum(torch.softmax(model(v), 1) for v in shown) / len(shown))
    return torch.cat(chunks).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--networks", default="best,best-distilled-vote3-views8-e44")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = load_fer2013(args.data)
    networks = [n.strip() for n in args.networks.split(",")]
    models = {n: load_pretrained(n, device="cpu").model.eval() for n in networks}
    public: dict[str, dict[str, float]] = {n: {} for n in networks}
    seconds: dict[str, float] = {}
    for name, model in models.items():
        for view_set in VIEW_SETS:
            start = time.perf_counter()
            p = probabilities(model, data.val.images, view_set)
            seconds[view_set] = time.perf_counter() - start
            public[name][view_set] = float((p.argmax(1) == data.val.labels.numpy()).mean())
            print(name, view_set, f"PublicTest {public[name][view_set]:.4f}", flush=True)
    chosen = max(VIEW_SETS[1:], key=lambda v: np.mean([public[n][v] for n in networks]))
    labels = data.test.labels.numpy()
    private_rows = []
    for name, model in models.items():
        right = {v: probabilities(model, data.test.images, v).argmax(1) == labels
                 for v in ("mirror", chosen)}
        paired = paired_bootstrap(right[chosen], right["mirror"])
        private_rows.append(
            f"| `{name}` | {right['mirror'].mean():.4f} | {right[chosen].mean():.4f} | "
            f"{100 * paired.difference:+.1f} ({100 * paired.low:+.1f} to "
            f"{100 * paired.high:+.1f}) |")
    public_rows = [f"| `{n}` | " + " | ".join(f"{public[n][v]:.4f}" for v in VIEW_SETS) + " |"
                   for n in networks]
    text = "\n".join([
        f"# Test-time views for the shipped networks ({date.today()})", "",
        f"Machine: {describe_device('cpu')}. Views per face: mirror 2, the others 10 "
        f"(5 views, each mirrored); {seconds['mirror']:.0f} s and "
        f"{seconds[chosen]:.0f} s for the 3,589 PublicTest faces.", "",
        "PublicTest accuracy (where the view set is chosen):", "",
        "| network | " + " | ".join(VIEW_SETS) + " |",
        "| --- |" + " --- |" * len(VIEW_SETS), *public_rows, "",
        f"Chosen on PublicTest: **{chosen}**. PrivateTest, scored once:", "",
        f"| network | mirror | {chosen} | points (paired 95 % interval) |",
        "| --- | --- | --- | --- |", *private_rows, ""])
    out = atomic_write_text(RESULTS / f"tta-{machine_tag()}.md", text)
    print(text)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
