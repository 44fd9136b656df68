"""What a page shows a reader: findings as wrapped paragraphs and tables with readable cells.

A verdict printed with ``print`` renders on the website as one long output line that scrolls
sideways; ``finding`` renders it as Markdown, so it wraps like the prose around it.
``readable`` turns a result table into one a reader can read: human column names, counts as
integers, p-values as ``3.5e-6``, accuracies to three decimals and no ``NaN`` cells.

>>> p_text(3.5e-6), p_text(0.0412), p_text(0.5)
('3.5e-6', '0.041', '0.50')
>>> table = pd.DataFrame({"test_acc": [0.6912], "n": [3376.0], "p_value": [3.5e-6]})
>>> readable(table).iloc[0].tolist()
['0.691', '3376', '3.5e-6']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

MISSING = "—"


def p_text(p: float, floor: float | None = None) -> str:
    """A p-value as a reader writes it: two significant digits, ``3.5e-6`` below 0.001.
    ``floor``: the smallest p-value the method resolves (a bootstrap of ``n`` draws:
    ``1 / n``); a p-value of 0 below it reads ``< floor``.

    >>> p_text(0.0, floor=1e-4), p_text(0.0)
    ('< 1e-4', '< 1e-300')
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return MISSING
    if p <= 0:
        floor = floor or 1e-300
        return f"< 1e{round(math.log10(floor))}" if math.log10(floor).is_integer() else \
            f"< {p_text(floor)}"
    if p < 0.001:
        mantissa, exponent = f"{p:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{p:.2g}" if p < 0.01 else f"{p:.2f}" if p >= 0.1 else f"{p:.3f}"


def _is_count(column: pd.Series) -> bool:
    values = pd.to_numeric(column, errors="coerce").dropna()
    return (column.dtype.kind in "iuf" and len(values) > 0
            and bool(((values % 1) == 0).all()) and bool((values.abs() >= 2).any()))


def _human(name: str) -> str:
    return str(name).replace("_", " ")


def readable(table: pd.DataFrame, names: Mapping[str, str] | None = None,
             digits: int | Mapping[str, int] = 3) -> pd.DataFrame:
    """A copy of ``table`` as text cells: ``names`` renames columns (others lose their
    underscores), whole-number columns become integers, columns whose name contains ``p``
    as a word (``p``, ``p_value``, ``p-value``, ``McNemar p``) become p-values (0 reads
    ``< floor`` when ``table.attrs["p_floor"]`` gives the method's resolution), other floats
    get ``digits`` decimals (one number, or per column with 3 for the others), and missing
    cells show ``—``."""
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        values = table[column]
        key = str(column).lower().replace("-", " ").replace("_", " ").split()
        if "p" in key and values.dtype.kind == "f":
            cells = [p_text(v, table.attrs.get("p_floor")) for v in values]
        elif _is_count(values):
            cells = [MISSING if pd.isna(v) else str(int(v)) for v in values]
        elif values.dtype.kind == "f":
            places = digits.get(column, 3) if isinstance(digits, Mapping) else digits
            cells = [MISSING if pd.isna(v) else f"{v:.{places}f}" for v in values]
        else:
            cells = [MISSING if _missing(v) else str(v) for v in values]
        out[(names or {}).get(column, _human(column))] = cells
    return out


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def finding(text: str) -> Any:
    """``text`` (Markdown, with the run's numbers already in it) as a displayed paragraph
    that wraps on the website like the prose around it."""
    from IPython.display import Markdown

    return Markdown(text)
