"""A synthetic stand-in for FER-2013: cartoon faces whose expression sets the label.

Every chapter can run on it without the real data (the ``smoke`` profile does).
Each image is drawn with numpy from distance fields on the 48x48 grid: a face
oval on a background, hair, eyes, brows, nose and mouth. The class moves the
brows, opens or narrows the eyes and bends or opens the mouth; the strength of
the expression, the face's identity, pose, lighting and noise vary per image,
so that a small network learns it well above chance but not perfectly.

Planted flaws (``with_flaws=True``, the default), so that a data-quality audit
finds something here too. Exactly, for any sizes and seed:

* 2 all-black training images (labels kept). Being identical, they also form
  one group of exact duplicates of each other.
* 2 training images that are exact copies of other training images of the same class.
* 1 training image that is an exact copy of another training image with a
  different label (a conflicting duplicate).
* 1 test image that is an exact copy of a training image of the same class
  (a duplicate across splits, a leak).

Planting overwrites pixels only, so class counts do not change. The rows
involved are listed in ``FERData.notes``; every other image is unique.

>>> d = make_synthetic_fer(70, 14, 14, seed=1)
>>> d.counts(), d.source
({'train': 70, 'val': 14, 'test': 14}, 'synthetic (seed 1)')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fer_course.data.types import CLASSES, IMAGE_SIZE, SPLIT_TO_USAGE, FERData, from_arrays

FER2013_TRAIN_COUNTS: tuple[int, ...] = (3995, 436, 4097, 7215, 4830, 3171, 4965)
"""Training images per class in FER-2013, the default class weights."""

MIN_PER_CLASS = 2
"""Every class gets at least this many images in every split (when the split can hold them)."""

_CHUNK = 1024  # images drawn at once; bounds memory, does not change the result

# Expression parameters per class, in face units (about pixels at scale 1; v points down).
# brow_up: brows raised; brow_in / brow_out: inner / outer brow end lowered;
# eye_open: half-height of the eye opening; mouth_w: half-width of the lip line;
# curve: how far the mouth corners rise (negative: they droop); gap_w / gap_h: the
# dark opening of an open mouth; sneer: one corner raised; lip: lip-line thickness;
# wrinkle: strength of the nose wrinkles.
_PARAMS = ("brow_up", "brow_in", "brow_out", "eye_open", "mouth_w", "curve",
           "gap_w", "gap_h", "sneer", "lip", "wrinkle")
_EXPRESSIONS = np.array([
    # up   in    out  eye  w    curve gapw gaph sneer lip  wrinkle
    [-1.0, 2.8, -1.0, 1.1, 5.0, -0.6, 0.0, 0.0, 0.0, 1.5, 0.3],  # Angry
    [-1.5, 1.5, 0.0, 1.2, 5.8, -1.2, 0.0, 0.0, 3.0, 1.2, 1.0],   # Disgust
    [2.5, -1.5, 0.5, 2.6, 7.0, -1.0, 5.5, 2.2, 0.0, 0.9, 0.0],   # Fear
    [0.0, 0.0, 0.0, 1.3, 8.0, 3.2, 4.5, 1.6, 0.0, 1.0, 0.0],     # Happy
    [0.5, -2.2, 1.8, 1.5, 5.8, -2.6, 0.0, 0.0, 0.0, 1.0, 0.0],   # Sad
    [3.5, 0.0, 0.0, 2.8, 2.0, 0.0, 3.2, 4.2, 0.0, 0.6, 0.0],     # Surprise
    [0.0, 0.0, 0.0, 1.7, 6.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],     # Neutral
], dtype=np.float64)
_JITTER = np.array([0.5, 0.5, 0.5, 0.2, 0.6, 0.5, 0.5, 0.3, 0.4, 0.15, 0.1])


def class_counts_for(n: int, weights: Sequence[float]) -> np.ndarray:
    """Split ``n`` images over classes: ``MIN_PER_CLASS`` each first, the rest by weight.

    The rest is shared by largest remainder, so counts sum to ``n`` exactly.

    >>> class_counts_for(140, FER2013_TRAIN_COUNTS).tolist()
    [19, 4, 20, 34, 23, 16, 24]
    """
    w = np.asarray(weights, dtype=np.float64)
    floor = min(MIN_PER_CLASS, n // len(w))
    counts = np.full(len(w), floor, dtype=np.int64)
    share = (n - counts.sum()) * w / w.sum()
    counts += np.floor(share).astype(np.int64)
    # Largest remainders first; ties go to the lower label, so the result is deterministic.
    order = np.lexsort((np.arange(len(w)), -(share - np.floor(share))))
    counts[order[: n - counts.sum()]] += 1
    return counts


def _soft(signed_distance: np.ndarray) -> np.ndarray:
    """Coverage of a shape from its signed distance (negative inside), anti-aliased over 1 px."""
    return np.clip(0.5 - signed_distance, 0.0, 1.0)


def _ellipse(u, v, cu, cv, ru, rv) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipse (exact for circles)."""
    radius = np.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2)
    return (radius - 1.0) * np.minimum(ru, rv)


def _segment(u, v, u0, v0, u1, v1) -> np.ndarray:
    """Distance from each grid point to the segment (u0, v0)-(u1, v1)."""
    du, dv = u1 - u0, v1 - v0
    t = np.clip(((u - u0) * du + (v - v0) * dv) / (du * du + dv * dv + 1e-9), 0.0, 1.0)
    return np.hypot(u - u0 - t * du, v - v0 - t * dv)


def _blend(img: np.ndarray, coverage: np.ndarray, tone) -> np.ndarray:
    return img + coverage * (tone - img)


def _draw_params(labels: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every random number of every image, drawn at once in a fixed order."""
    n = len(labels)
    strength = rng.uniform(0.4, 1.0, n)[:, None]
    neutral = _EXPRESSIONS[CLASSES.index("Neutral")]
    expr = neutral + strength * (_EXPRESSIONS[labels] - neutral)
    expr = expr + rng.normal(0.0, 1.0, (n, len(_PARAMS))) * _JITTER
    p = {name: expr[:, i] for i, name in enumerate(_PARAMS)}
    p["eye_open"] = np.maximum(p["eye_open"], 0.7)
    p["mouth_w"] = np.maximum(p["mouth_w"], 1.5)
    p["gap_w"], p["gap_h"] = np.maximum(p["gap_w"], 0.0), np.maximum(p["gap_h"], 0.0)
    p["lip"], p["wrinkle"] = np.maximum(p["lip"], 0.5), np.clip(p["wrinkle"], 0.0, 1.0)
    p["sneer_side"] = rng.choice([-1.0, 1.0], n)
    # Identity, pose and camera.
    p["cx"], p["cy"] = rng.normal(23.5, 1.5, n), rng.normal(25.5, 1.5, n)
    p["scale"] = rng.uniform(1.05, 1.3, n)
    p["tilt"] = np.deg2rad(rng.normal(0.0, 5.0, n))
    p["face_w"], p["face_h"] = rng.normal(18.0, 1.0, n), rng.normal(23.0, 1.2, n)
    p["eye_dx"], p["eye_v"] = rng.normal(8.0, 0.5, n), rng.normal(-5.0, 0.6, n)
    p["mouth_v"] = rng.normal(11.0, 0.7, n)
    p["skin"] = rng.uniform(0.35, 0.8, n)
    p["bg"], p["bg_slope"] = rng.uniform(0.05, 0.95, n), rng.normal(0.0, 0.006, (2, n))
    p["hair"] = rng.uniform(0.0, 0.35, n)
    p["hairline"] = np.where(rng.random(n) < 0.7, rng.normal(-14.0, 1.5, n), -40.0)
    p["contrast"], p["brightness"] = rng.uniform(0.7, 1.25, n), rng.normal(0.0, 0.07, n)
    p["noise"] = rng.uniform(0.015, 0.06, n)
    p["noise_field"] = rng.standard_normal((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    return p


def _render(p: dict[str, np.ndarray]) -> np.ndarray:
    """Draw the faces of one chunk of parameters as float images in [0, 1]."""
    def col(name: str) -> np.ndarray:  # a per-image parameter, shaped to broadcast on the grid
        return p[name][:, None, None].astype(np.float32)

    y, x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)
    dx, dy = x - col("cx"), y - col("cy")
    cos, sin, scale = np.cos(col("tilt")), np.sin(col("tilt")), col("scale")
    u, v = (cos * dx + sin * dy) / scale, (-sin * dx + cos * dy) / scale

    slope_x, slope_y = p["bg_slope"][:, :, None, None].astype(np.float32)
    img = col("bg") + slope_x * (x - 23.5) + slope_y * (y - 23.5)
    face_w, face_h, skin = col("face_w"), col("face_h"), col("skin")
    face = _soft(_ellipse(u, v, 0.0, 0.0, face_w, face_h) * scale)
    shading = 1.0 - 0.25 * ((u / face_w) ** 2 + (v / face_h) ** 2)
    img = _blend(img, face, skin * shading)
    head = _soft(_ellipse(u, v, 0.0, -2.0, face_w + 2.0, face_h + 1.0) * scale)
    img = _blend(img, head * _soft(v - col("hairline")), col("hair"))

    # Eyes: a light opening with a dark iris, both as wide as the expression opens them.
    eye_open, eye_v = col("eye_open"), col("eye_v")
    for side in (-1.0, 1.0):
        eu = side * col("eye_dx")
        img = _blend(img, _soft(_ellipse(u, v, eu, eye_v, 3.2, eye_open)), skin + 0.3)
        iris = _ellipse(u, v, eu, eye_v, 1.6, np.minimum(eye_open, 1.6))
        img = _blend(img, _soft(iris), 0.08)
        # Brows: inner end near the nose, outer end at the temple.
        brow_v = eye_v - 4.5 - col("brow_up")
        inner = (side * 2.5, brow_v + col("brow_in"))
        outer = (side * 11.0, brow_v + col("brow_out"))
        brow = _segment(u, v, inner[0], inner[1], outer[0], outer[1]) - 1.0
        img = _blend(img, 0.85 * _soft(brow), skin * 0.3)

    # Nose: nostrils, and for disgust short wrinkles across the bridge.
    for side in (-1.0, 1.0):
        img = _blend(img, 0.7 * _soft(_ellipse(u, v, side * 1.8, 5.0, 1.1, 0.8)), skin * 0.4)
        for wv in (-0.5, 1.5):
            wrinkle = _segment(u, v, side * 0.8, wv, side * 3.0, wv + 0.7) - 0.4
            img = _blend(img, col("wrinkle") * 0.7 * _soft(wrinkle), skin * 0.5)

    # Mouth: the lip line bent by the expression, then the dark opening of an open mouth.
    mouth_v, mouth_w = col("mouth_v"), col("mouth_w")
    t = np.clip(u / mouth_w, -1.0, 1.0)
    sneer = col("sneer") * np.clip(col("sneer_side") * t, 0.0, 1.0) ** 2
    line_v = mouth_v - col("curve") * t**2 - sneer
    beyond = np.maximum(np.abs(u) - mouth_w, 0.0)
    lip = np.hypot(v - line_v, beyond) - 0.5 * col("lip")
    img = _blend(img, _soft(lip), skin * 0.3)
    gap_w, gap_h = col("gap_w"), col("gap_h")
    gap = _ellipse(u, v, 0.0, mouth_v + 0.4 * gap_h, np.maximum(gap_w, 0.1),
                   np.maximum(gap_h, 0.1))
    img = _blend(img, _soft(gap) * (gap_h > 0.3) * (gap_w > 0.3), 0.1)

    img = (img - 0.5) * col("contrast") + 0.5 + col("brightness")
    return img + col("noise") * p["noise_field"]


def render_faces(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 images ``[N, 48, 48]`` of faces showing the given expression labels.

    >>> render_faces(np.array([3, 5]), seed=0).shape
    (2, 48, 48)
    """
    labels = np.asarray(labels, dtype=np.int64)
    params = _draw_params(labels, np.random.default_rng(seed))
    out = np.empty((len(labels), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for start in range(0, len(labels), _CHUNK):
        chunk = {k: a[..., start:start + _CHUNK] if k == "bg_slope" else a[start:start + _CHUNK]
                 for k, a in params.items()}
        out[start:start + _CHUNK] = np.clip(np.rint(_render(chunk) * 255.0), 0, 255)
    return out


def _plant_flaws(images: np.ndarray, labels: np.ndarray, usage: np.ndarray,
                 rng: np.random.Generator) -> list[str]:
    """Overwrite a few images with the flaws listed in the module docstring; return notes."""
    train = np.flatnonzero(usage == "Training")
    test = np.flatnonzero(usage == "PrivateTest")
    free = [int(r) for r in rng.permutation(train)]  # train rows not yet used

    def take(wanted=lambda row: True) -> int:
        row = next(r for r in free if wanted(r))
        free.remove(row)
        return row

    def has_twin(row: int) -> bool:  # another free row has the same label
        return sum(labels[r] == labels[row] for r in free) >= 2

    black = [take(), take()]
    images[black] = 0
    same = []
    for _ in range(2):
        src = take(has_twin)
        dst = take(lambda r, src=src: labels[r] == labels[src])
        images[dst] = images[src]
        same.append((src, dst))
    src = take()
    conflict = take(lambda r: labels[r] != labels[src])
    images[conflict] = images[src]
    leak_candidates = test[np.isin(labels[test], labels[free])]
    leak = int(rng.choice(leak_candidates))
    leak_src = take(lambda r: labels[r] == labels[leak])
    images[leak] = images[leak_src]
    return [
        f"planted all-black images at rows {sorted(black)}",
        "planted same-label duplicates (original row, copy row): "
        f"{same}",
        f"planted conflicting-label duplicate (original row, copy row): {(src, conflict)}",
        f"planted train-test duplicate (train row, test row): {(leak_src, leak)}",
    ]


def make_synthetic_fer(
    n_train: int = 560,
    n_val: int = 140,
    n_test: int = 140,
    seed: int = 0,
    class_weights: Sequence[float] | None = None,
    with_flaws: bool = True,
) -> FERData:
    """A deterministic FER-like data set: the same arguments give the same bytes.

    Class proportions follow ``class_weights`` (default: FER-2013's training counts)
    with at least ``MIN_PER_CLASS`` images of each class in each split. Rows count
    like a csv: train first, then val, then test. See the module docstring for the
    planted flaws.

    >>> d = make_synthetic_fer(seed=0)
    >>> d.summary()
    'synthetic (seed 0): train 560 / val 140 / test 140'
    >>> d.val.class_counts()
    [19, 4, 20, 34, 23, 16, 24]
    """
    weights = FER2013_TRAIN_COUNTS if class_weights is None else class_weights
    if len(weights) != len(CLASSES) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"class_weights needs {len(CLASSES)} non-negative values, got {weights}")
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    if with_flaws and (n_train < 14 or n_test < 1):
        raise ValueError("with_flaws needs n_train >= 14 and n_test >= 1")
    rng = np.random.default_rng(seed)
    labels, usage = [], []
    for split, n in sizes.items():
        if n < 0:
            raise ValueError(f"n_{split} must be >= 0, got {n}")
        split_labels = np.repeat(np.arange(len(CLASSES)), class_counts_for(n, weights))
        labels.append(rng.permutation(split_labels))
        usage.append(np.full(n, SPLIT_TO_USAGE[split]))
    all_labels, all_usage = np.concatenate(labels), np.concatenate(usage)
    images = render_faces(all_labels, seed=int(rng.integers(2**63)))
    notes = [f"synthetic data (seed {seed}): drawn cartoon faces, not FER-2013 photographs"]
    if with_flaws:
        notes += _plant_flaws(images, all_labels, all_usage, rng)
    return from_arrays(images, all_labels, all_usage, f"synthetic (seed {seed})", notes)
