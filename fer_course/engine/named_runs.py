"""The course's runs by name: the registry's recipe, trained or read through the store.

``fit_named_run(data, "multitask-lam1", profile, train_missing=False)`` returns the local
run if it is finished, else the committed summary (``results/<profile>/…``), else trains
it when ``train_missing`` says so, after printing how long that is expected to take; a
stored run made with settings other than the registry's is an error naming them.

>>> from fer_course.profiles import get_profile
>>> fit_named_run(make_synthetic_fer(), "resnet18", get_profile("cpu"),
...               train_missing=False)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from fer_course.data.types import FERData
from fer_course.engine.estimates import ESTIMATED_PROFILES, estimate_text
from fer_course.engine.loop import BatchCallback, MissingRunError, RunMismatchError, RunResult
from fer_course.precision import FP32_SLOWDOWN, cpu_has_bf16
from fer_course.profiles import Profile, get_profile
from fer_course.runs.cards import RunCard
from fer_course.runs.kinds import MODEL_KINDS
from fer_course.runs.registry import RunSpec, registry_mismatch, run_spec
from fer_course.runs.store import RunStore
from fer_course.runs.teachers import TEACHERS, teacher_file

__all__ = ["fit_missing_runs", "fit_named_run", "training_estimate"]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} minutes" if seconds >= 90 else f"{seconds:.0f} seconds"


def training_estimate(name: str, profile: Profile) -> str:
    """How long training run ``name`` under ``profile`` is expected to take: the epochs'
    seconds in the stored run's history (of that profile, else of ``cpu``, said as such);
    for a backbone under a GPU profile (``paper``, ``colab``) without a stored run of its
    own, also the T4 time estimated from its multiply-adds (``engine.estimates``).

    >>> from fer_course.profiles import get_profile
    >>> training_estimate("no-such-backbone-xyz", get_profile("cpu"))[:18]
    'no stored run of n'
    """
    for profile_name in dict.fromkeys((profile.name, "cpu")):
        stored = RunStore(profile_name).stored(name)
        if stored.file(stored.CARD).is_file():
            card = RunCard.load(stored.file(stored.CARD))
            seconds = max(float(card.wall_time_s or 0), stored.training_seconds())
            took = f"about {_minutes(seconds)} on {card.device}{_precision_note(card, 'it')}"
            if profile_name == profile.name:
                return took
            return (f"the stored cpu run took {took}; under {profile.name!r} ({profile.epochs} "
                    f"epochs at {profile.image_size} px) expect "
                    f"{_gpu_estimate(name, profile) or 'a different time'}")
    if (guess := _gpu_estimate(name, profile)) is not None:
        return guess
    spec = run_spec(name) if name.startswith("best") else None
    if spec is not None and spec.kind == "best" and name != "best":
        return _best_variant_estimate(spec, profile)
    return f"no stored run of {name} to time it by"


def _gpu_estimate(name: str, profile: Profile) -> str | None:
    """The estimated T4 time of backbone run ``name`` under a GPU profile, else ``None``."""
    if profile.name not in ESTIMATED_PROFILES:
        return None
    try:
        spec = run_spec(name)
    except ValueError:
        return None
    return estimate_text(spec.options["arch"], profile) if spec.kind == "backbone" else None


def _best_variant_estimate(spec: RunSpec, profile: Profile) -> str:
    """A variant of the best recipe, timed by the committed runs of the recipe on the
    stored ``best`` run's device: each run's median epoch, scaled to this run's epochs.
    Their spread is the machine's load while they trained, so it is given as a range."""
    store = RunStore(profile.name)
    reference = store.stored("best")
    if not reference.file(reference.CARD).is_file():
        return f"no stored run of {spec.name} to time it by"
    device = RunCard.load(reference.file(reference.CARD)).device
    medians = [float(run.read_history()["seconds"].median())
               for run in store.committed("best")
               if run.file(run.HISTORY).is_file() and run.file(run.CARD).is_file()
               and RunCard.load(run.file(run.CARD)).device == device]
    if not medians:
        return f"no stored run of {spec.name} to time it by"
    epochs = spec.recipe(profile).epochs
    low, high = min(medians), max(medians)
    if round(low) == round(high):
        return (f"about {_minutes(low * epochs)} on {device}, from the stored best "
                f"recipe's {low:.0f} s per epoch")
    span = f"{_minutes(low * epochs)} to {_minutes(high * epochs)}"
    if low * epochs >= 90:  # "27 to 61 minutes", not "27 minutes to 61 minutes"
        span = f"{low * epochs / 60:.0f} to {high * epochs / 60:.0f} minutes"
    return (f"about {span} on {device}: {low:.0f} to {high:.0f} s per epoch in the "
            f"{len(medians)} stored runs of the recipe"
            f"{_precision_note(RunCard.load(reference.file(reference.CARD)), 'those runs')}")


def _precision_note(card: RunCard, subject: str, cpu_bf16: bool | None = None,
                    gpu: bool | None = None) -> str:
    """Where a stored CPU run computed in bf16 and this machine would train on a CPU
    without bf16 instructions (so in fp32): a warning that it will take longer, by the
    measure of ``benchmarks/bench_best.py``; else nothing.

    >>> card = RunCard("x", {"precision_used": "bf16"}, "cpu (2 cores, AMD EPYC)", {}, "")
    >>> _precision_note(card, "it", cpu_bf16=False, gpu=False)[:40]
    '; it computed in bf16, which this CPU la'
    >>> _precision_note(card, "it", cpu_bf16=True, gpu=False)
    ''
    """
    cpu_bf16 = cpu_has_bf16() if cpu_bf16 is None else cpu_bf16
    gpu = torch.cuda.is_available() if gpu is None else gpu
    if (card.profile.get("precision_used") != "bf16" or not card.device.startswith("cpu")
            or cpu_bf16 or gpu):
        return ""
    return (f"; {subject} computed in bf16, which this CPU lacks: in fp32 expect about "
            f"{FP32_SLOWDOWN:g} times as long")


def check_against_registry(spec: RunSpec, profile: Profile, run: Any) -> None:
    """Raise ``RunMismatchError`` naming every recipe field in which the finished ``run``
    (a stored summary of ``spec``) differs from the registry's recipe under ``profile``."""
    diff = registry_mismatch(spec, profile, run.read_settings())
    if diff:
        fields = ", ".join(f"{k}: stored {a!r}, registry {b!r}" for k, (a, b) in diff.items())
        raise RunMismatchError(f"{run.path} was made with other settings than the registry's "
                               f"{spec.name!r} under {profile.name!r} ({fields}); retrain it "
                               "(tools/train_results.py) or correct the registry")


def fit_named_run(data: FERData, name: str, profile: Profile, *, train_missing: bool,
                  store: RunStore | None = None, device: torch.device | str | None = None,
                  progress: bool = True, callbacks: Sequence[BatchCallback] = (),
                  need_weights: bool = False, **overrides: Any) -> RunResult:
    """Run ``name`` of the registry under ``profile``, loaded, resumed or trained through
    ``store`` (default: ``RunStore(profile.name)``).

    ``overrides`` (or a ``profile`` with changed fields, as a chapter's parameters make it)
    change the recipe: the result is then another run than the committed one, found or
    trained in the local folder only.
    ``data`` must carry the labels the run trains on (FER+ for ``-ferplus`` runs). With
    ``need_weights`` a committed summary counts only if its weights ship with it.
    """
    spec = run_spec(name)
    store = store or RunStore(profile.name)
    wants_ferplus = spec.labels == "ferplus"
    if wants_ferplus != (len(data.classes) == 8):
        raise ValueError(f"{name} is trained on {'FER+' if wants_ferplus else 'FER-2013'} "
                         f"labels, but the data has {len(data.classes)} classes")
    recipe = spec.recipe(profile, **overrides)
    # the committed run is the registry's recipe under the profile as named; a chapter's
    # parameters (a profile with other epochs, or overrides) make another run
    registered = get_profile(profile.name)
    as_registered = recipe == spec.recipe(registered)
    stored = store.stored(name)
    if as_registered and stored.is_finished():
        check_against_registry(spec, registered, stored)
    usable = as_registered and stored.is_finished() and (stored.has_weights() or not need_weights)
    local = store.local(name)
    if not local.is_finished() and not usable:
        if not train_missing:
            what = ("its weights are not shipped" if as_registered and stored.is_finished()
                    else f"it is neither finished in the local runs folder "
                         f"({store.runs_dir.name}/) nor committed in "
                         f"results/{stored.path.parent.name}/")
            raise MissingRunError(
                f"{name} ({profile.name} profile): {what}. Set the chapter's parameter "
                f"train_missing = True to train it here ({training_estimate(name, profile)}), "
                f"or run: python tools/train_results.py --profile {profile.name} --runs {name}")
        if not local.file(local.CHECKPOINT).is_file():  # a fresh start, not a resume
            print(f"training {name} under {profile.name!r}: {training_estimate(name, profile)}")
        fit_teacher(data, recipe, profile, store, device=device, progress=progress)
    kwargs = dict(device=device, progress=progress, callbacks=callbacks,
                  stored=stored if usable else None, train_missing=train_missing)
    return MODEL_KINDS[spec.kind].fit_function()(data, recipe, local.path, **kwargs)


def fit_teacher(data: FERData, recipe: Any, profile: Profile, store: RunStore, *,
                device: torch.device | str | None = None, progress: bool = True) -> None:
    """Before a student trains: where its teacher's targets are stored nowhere (the smoke
    profile's synthetic faces), load or train every member of the teacher's vote in
    ``store``, so the student's task can compute them. Nothing where the targets exist.

    >>> from fer_course.runs.recipes import BestRecipe
    >>> fit_teacher(None, BestRecipe(), get_profile("smoke"), RunStore("smoke"))  # no teacher
    """
    teacher = getattr(recipe, "teacher", None)
    if teacher is None or teacher_file(teacher, store.runs_dir, recipe.teacher_views):
        return
    for member in TEACHERS[teacher]:
        fit_named_run(data, member, profile, train_missing=True, store=store, device=device,
                      progress=progress, need_weights=True)


def fit_missing_runs(data: FERData, names: Sequence[str], profile: Profile, *,
                     store: RunStore | None = None, progress: bool = True,
                     **overrides: Any) -> list[RunResult]:
    """Train each registry run of ``names`` that ``store`` holds no finished run of (a
    finished one is kept as it is, whatever its settings), with ``overrides``
    (``epochs=1`` …; ``None`` ignored); returns the runs trained.

    >>> from fer_course.profiles import get_profile
    >>> fit_missing_runs(make_synthetic_fer(), ["resnet18"], get_profile("smoke"),
    ...                  epochs=1)  # doctest: +SKIP
    """
    store = store or RunStore(profile.name)
    return [fit_named_run(data, name, profile, train_missing=True, store=store,
                          progress=progress, **overrides)
            for name in names if store.find(name) is None]
