"""The course's trained networks, offline, in one call: ``load_pretrained("best")``.

Every run whose half-precision weights ship in ``results/`` (the registry says which:
``best``, the multitask network, two autoencoders) loads without training and without a
download; the sha256 of the weights is checked first. ``predict_proba`` takes uint8 gray
faces ``[N, 48, 48]`` and gives probabilities ``[N, 7]`` in FER-2013's class order
(``CLASSES``).

>>> model = load_pretrained("best")                                   # doctest: +SKIP
>>> model.predict_proba(faces).shape                                  # doctest: +SKIP
(16, 7)
"""

from __future__ import annotations

import torch

from fer_course.analysis.view_report import with_views
from fer_course.data.types import CLASSES
from fer_course.engine.inference import LoadedModel, load_run_model
from fer_course.runs import REGISTRY, RunStore
from fer_course.runs.registry import DEFAULT_NETWORK
from fer_course.runs.store import shipped_weights

__all__ = ["CLASSES", "load_pretrained", "shipped_runs"]


def shipped_runs() -> dict[str, str]:
    """``{run name: profile}`` of every committed run whose weights ship (the store's
    ``shipped_weights``).

    >>> shipped_runs().get("multitask-lam1")
    'cpu'
    """
    return shipped_weights()


def load_pretrained(name: str | None = None, device: str | torch.device | None = None,
                    profile: str | None = None, views: str | None = None) -> LoadedModel:
    """The trained network of the committed run ``name`` (default: the course's default
    network, ``DEFAULT_NETWORK``) of ``profile`` (default: the profile whose results hold
    its weights), in eval mode on ``device``. ``views`` (a name of
    ``models.view_averaging.VIEW_SETS``, such as ``"scale3"``) scores each face over more
    test-time views than its mirror image, for the recipe's networks.

    >>> load_pretrained("resnet19")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: no shipped weights for 'resnet19'; shipped: ...
    """
    name = name or DEFAULT_NETWORK
    shipped = shipped_runs()
    profile = profile or shipped.get(name)
    if profile is None:
        wanted = [n for n, spec in REGISTRY.items() if spec.ships_weights]
        raise FileNotFoundError(
            f"no shipped weights for {name!r}; shipped: {', '.join(sorted(shipped)) or 'none'}"
            f" (the registry ships {', '.join(wanted)}; a missing one is trained with "
            f"tools/train_results.py)")
    loaded = load_run_model(RunStore(profile).stored(name), device=device)
    return loaded if views is None else with_views(loaded, views)
