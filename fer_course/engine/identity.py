"""A run's identity, checked before it is loaded or resumed: the recipe's fields and the data
must match as they are; the precision it trained in (``precision_used``) by its own rule.

>>> try:
...     check_identity(RunFolder("demo"), {"epochs": 3}, {"epochs": 5})
... except RunMismatchError as error:
...     print(str(error)[:53])
demo holds a run with other settings (epochs: saved 3
"""

from __future__ import annotations

from typing import Any

from fer_course.runs.folder import RunFolder

__all__ = ["PRECISION_USED", "RunMismatchError", "check_identity", "precision_problem"]

PRECISION_USED = "precision_used"  # the identity's record of the precision a run trained in


class RunMismatchError(ValueError):
    """The run folder holds a run made with other settings than the ones asked for."""


PRECISION_KEYS = ("precision", PRECISION_USED)  # compared by precision_problem, not as is


def precision_problem(saved: dict[str, Any], wanted: dict[str, Any],
                      resuming: bool) -> str | None:
    """Why a run trained in ``saved``'s precision cannot be used as ``wanted`` asks, or
    ``None``: an explicitly asked precision must be the one used; ``auto`` loads a finished
    run of any precision but resumes a checkpoint only in the precision it trained in. A
    run from before the precision used was recorded passes.

    >>> precision_problem({"precision_used": "bf16"}, {"precision": "auto",
    ...                   "precision_used": "fp32"}, resuming=True)
    "trained in 'bf16', would continue in 'fp32' (precision 'auto' on this machine)"
    >>> precision_problem({"precision_used": "bf16"}, {"precision": "auto",
    ...                   "precision_used": "fp32"}, resuming=False) is None
    True
    """
    used, now = saved.get(PRECISION_USED), wanted.get(PRECISION_USED)
    asked = wanted.get("precision", "auto")
    if used is None or now is None or used == now or (asked == "auto" and not resuming):
        return None
    action = "continue" if resuming else "load"
    return f"trained in {used!r}, would {action} in {now!r} (precision {asked!r} on this machine)"


def check_identity(run: RunFolder, saved: dict[str, Any], wanted: dict[str, Any],
                   resuming: bool = False, allow_precision_change: bool = False) -> None:
    """Raise ``RunMismatchError`` naming every setting in which ``saved`` differs, and a
    precision it cannot be used in (``precision_problem``; when resuming,
    ``allow_precision_change`` lets a checkpoint continue in another precision)."""
    keys = [k for k in list(wanted) + [k for k in saved if k not in wanted]
            if k not in PRECISION_KEYS]
    diff = {k: (saved.get(k), wanted.get(k)) for k in keys if saved.get(k) != wanted.get(k)}
    problem = precision_problem(saved, wanted, resuming)
    if problem is not None and not (resuming and allow_precision_change):
        raise RunMismatchError(
            f"{run.path}: {problem}; ask for precision={saved[PRECISION_USED]!r} to use it"
            + (", or pass allow_precision_change=True to continue anyway" if resuming else "")
            + (f" (it also differs in {', '.join(diff)})" if diff else ""))
    if diff:
        details = ", ".join(f"{k}: saved {a!r}, asked {b!r}" for k, (a, b) in diff.items())
        hint = ("; it was made on other data (other labels, splits or csv rows: image folders "
                "not named by csv row number have none)" if set(diff) <= {"data_counts",
                                                                         "data_fingerprint"}
                else "")
        raise RunMismatchError(f"{run.path} holds a run with other settings ({details}){hint}; "
                               "use another run folder, or delete this one to start over")
