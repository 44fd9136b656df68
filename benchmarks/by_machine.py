"""A benchmark result file that keeps one section per machine: a rerun on one CPU replaces
that CPU's section and leaves the others' numbers where they are.

Each section starts with ``## <machine>``; text before the first section is the file's
title, rewritten on each run.

>>> text = with_section("", "# speed", "CPU A", "- 10 images/s")
>>> text = with_section(text, "# speed", "CPU B", "- 12 images/s")
>>> text = with_section(text, "# speed", "CPU A", "- 11 images/s")
>>> print(text, end="")
# speed
<BLANKLINE>
## CPU A
<BLANKLINE>
- 11 images/s
<BLANKLINE>
## CPU B
<BLANKLINE>
- 12 images/s
"""

from __future__ import annotations

import re
from pathlib import Path

from fer_course.atomic import atomic_write_text


def sections(text: str) -> dict[str, str]:
    """The sections of ``text`` by machine, in file order (the title left out)."""
    found: dict[str, str] = {}
    for block in re.split(r"(?m)^## ", text)[1:]:
        machine, _, body = block.partition("\n")
        found[machine.strip()] = body.strip("\n")
    return found


def with_section(text: str, title: str, machine: str, body: str) -> str:
    """``text`` with ``machine``'s section set to ``body`` (added last where it is new)."""
    kept = {**sections(text), machine: body.strip("\n")}
    return "\n\n".join([title, *(f"## {m}\n\n{b}" for m, b in kept.items())]) + "\n"


def write_section(path: Path, title: str, machine: str, body: str) -> Path:
    """Write ``machine``'s section into the file at ``path`` atomically; return the path."""
    old = path.read_text() if path.is_file() else ""
    return atomic_write_text(path, with_section(old, title, machine, body))
