"""fer_course: the helper library of the fer-course book.

The chapters in ``book/`` tell the story; this package does the work:
``profiles`` (how big a run is), ``data`` (FER-2013 readers, synthetic data),
``augment`` (batched augmentation on the training device), ``runs`` (run cards,
atomic writes), ``plots`` and ``widgets`` (what the chapters show), and
``load_pretrained("best")``: the course's best network, trained, offline.
"""

__version__ = "0.1.0"

__all__ = ["load_pretrained"]


def load_pretrained(name: str = "best", device=None, profile: str | None = None):
    """The committed network ``name`` with its shipped weights: ``predict_proba(faces)``
    takes uint8 faces ``[N, 48, 48]`` and returns ``[N, 7]`` probabilities
    (``fer_course.pretrained``). Imported on first call, so ``import fer_course`` stays
    light."""
    from fer_course.pretrained import load_pretrained as load

    return load(name, device=device, profile=profile)
