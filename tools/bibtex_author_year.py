"""Author–year labels for the bibliography, to match the in-text citations.

With ``bibtex_reference_style: author_year`` sphinxcontrib-bibtex writes citations as
*(Goodfellow et al., 2013)*, but pybtex's own label styles (``number``, ``alpha``) would
label the same entry ``[1]`` or ``[GEC+13]`` in the bibliography. This Sphinx extension
registers a pybtex label style and a formatting style, both named ``author_year``, that
label it ``[Goodfellow et al., 2013]`` (one author: ``Friedman, 1997``; two: ``Ekman and
Friesen, 1971``; a letter after the year tells apart equal labels) and sort the list by
author, year and title. ``_config.yml`` loads it as a local extension and selects it with
``bibtex_default_style: author_year``.
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

NAME = "author_year"


def _surname(person) -> str:
    return " ".join(part.render_as("text") for part in
                    person.rich_prelast_names + person.rich_last_names)


def author_year_label(entry) -> str:
    """``Last, year``, ``Last and Other, year`` or ``Last et al., year``, as cited in the text."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    if not persons:
        who = Text.from_latex(entry.fields.get("title", entry.key)).render_as("text")
    elif len(persons) == 1:
        who = _surname(persons[0])
    elif len(persons) == 2:
        who = f"{_surname(persons[0])} and {_surname(persons[1])}"
    else:
        who = f"{_surname(persons[0])} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [author_year_label(entry) for entry in sorted_entries]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] > 1:
                seen[label] += 1
                label += chr(ord("a") + seen[label] - 1)
            yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = NAME
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin("pybtex.style.labels", NAME, AuthorYearLabelStyle, force=True)
    register_plugin("pybtex.style.formatting", NAME, AuthorYearStyle, force=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
