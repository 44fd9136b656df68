"""The built website read as a reader would, for what needs no browser.

Runs on the HTML that ``jupyter-book build .`` writes; the folder comes from the
environment variable ``FER_SITE_HTML`` (``.ci/run`` sets it after the build), and the module
is skipped without it. Per page: exercises numbered per chapter and every reference to one
resolving; no NaN in a table; every image with real alt text, every figure with a caption;
no output line wider than the column; no lesson code printed with ``inspect.getsource``.
``tools/site_screenshots.py`` measures what only a browser can (heights, sideways scrolling,
equations cut off).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

bs4 = pytest.importorskip("bs4")

SITE = Path(os.environ.get("FER_SITE_HTML", "")) if os.environ.get("FER_SITE_HTML") else None
if SITE is None or not (SITE / "book").is_dir():
    pytest.skip("FER_SITE_HTML does not name a built site (jupyter-book build . first)",
                allow_module_level=True)

CHAPTERS = sorted((SITE / "book").glob("0[0-9]_*.html"))
PAGES = [SITE / "book" / "intro.html", *CHAPTERS]

# One line of a cell's output <pre> at a 1280 px window, measured in headless Chromium by
# tools/site_screenshots.py: the content column leaves the <pre> 656 px inside its padding,
# and the theme's monospace font at 14 px (0.875em) is 8.43 px per character, so 77
# characters fit; a longer line scrolls sideways (the column is the same on every page).
MAX_OUTPUT_CHARS = 77

HASH_OR_FILE = re.compile(r"^[0-9a-f]{16,}|\.(png|jpe?g|svg|gif)$|_images/", re.I)
NAN_CELL = re.compile(r"^(nan|NaN|<NA>|NaT)$")


def chapter_number(page: Path) -> int:
    return int(page.name[:2])


def soup(page: Path):
    return bs4.BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


def article(page: Path):
    tree = soup(page)
    return tree.select_one("article.bd-article") or tree.body


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_exercises_numbered_per_chapter(page):
    """Chapter N's exercises are Exercise N.1, N.2, … in the order they appear."""
    n = chapter_number(page)
    titles = [" ".join(box.select_one(".admonition-title").get_text(" ").split())
              for box in article(page).select("div.exercise")]
    numbers = [re.match(r"Exercise (\d+)\.(\d+)", t) for t in titles]
    assert all(numbers), f"exercises without a number N.k: {titles}"
    assert [(int(m[1]), int(m[2])) for m in numbers] == [
        (n, k) for k in range(1, len(numbers) + 1)], titles


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_exercise_references_resolve(page):
    """A link to an exercise lands on an exercise of this page and shows its number; the
    prose never counts exercises by hand ("exercise 1" as plain text drifts)."""
    body = article(page)
    number_of = {box["id"]: " ".join(box.select_one(".admonition-title").get_text(" ").split())
                 for box in body.select("div.exercise[id]")}
    wrong = []
    for link in body.select('a[href^="#"]'):
        text = " ".join(link.get_text(" ").split())
        target = link["href"][1:]
        if re.search(r"Exercise \d", text) or target in number_of:
            shown = re.search(r"Exercise \d+\.\d+", text)
            if target not in number_of:
                wrong.append(f"{text!r} -> #{target}: no exercise of this page")
            elif shown and not number_of[target].startswith(shown[0]):
                wrong.append(f"{text!r} -> #{target}, which is {number_of[target]}")
    for node in body.find_all(string=re.compile(r"\b[Ee]xercises? \d")):
        if (node.find_parent(["a", "pre", "code", "script"]) is None
                and node.find_parent(class_="admonition-title") is None):  # a title: "Exercise 3.1"
            wrong.append(f"unlinked reference in the prose: {' '.join(node.split())[:80]!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_nan_in_tables_or_outputs(page):
    body = article(page)
    cells = [" ".join(c.get_text(" ").split()) for c in body.select("table td, table th")]
    bad = [c for c in cells if NAN_CELL.match(c)]
    for pre in body.select("div.cell_output pre"):
        bad += [line.strip() for line in pre.get_text().splitlines()
                if re.search(r"(?<!\S)(NaN|nan)(?!\S)", line)]
    assert not bad, f"{len(bad)} NaN cell(s) or output line(s): {bad[:5]}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_images_have_alt_text_and_captions(page):
    """Every image has alt text that describes it (not a hash or a file name); every image
    a chapter shows (all but linked badges) is a figure with a caption."""
    wrong = []
    for img in article(page).find_all("img"):
        alt = (img.get("alt") or "").strip()
        name = Path(img.get("src", "")).name[:24]
        if not alt or HASH_OR_FILE.search(alt):
            wrong.append(f"{name}: alt text {alt[:40]!r}")
        if img.find_parent("a") is not None and img.get("src", "").startswith("http"):
            continue  # a badge: a link, not a figure
        figure = img.find_parent("figure")
        caption = figure.find("figcaption") if figure is not None else None
        if caption is None or not caption.get_text(strip=True):
            wrong.append(f"{name}: no figure caption")
    assert not wrong, f"{len(wrong)} problem(s):\n" + "\n".join(wrong)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_output_lines_fit_the_column(page):
    long = []
    for pre in article(page).select("div.cell_output pre"):
        long += [line for line in pre.get_text().splitlines()
                 if len(line.rstrip()) > MAX_OUTPUT_CHARS]
    assert not long, (f"{len(long)} output line(s) longer than {MAX_OUTPUT_CHARS} characters, "
                      "e.g. " + "; ".join(repr(line[:60] + "…") for line in long[:3]))


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_no_source_printed_raw(page):
    """The lesson's code is shown highlighted (``views.source.show_source``), not printed."""
    raw = [pre.get_text()[:60] for pre in article(page).select("div.cell_input pre")
           if re.search(r"print\(\s*inspect\.getsource", pre.get_text())]
    assert not raw, f"{len(raw)} cell(s) print inspect.getsource: {raw}"


# The reading budget of a chapter: what a student meets before the end of the page.
MAX_WORDS = 4_000  # prose and output a reader sees without opening anything (~25 minutes)
MAX_VISIBLE_CODE = 10  # code cells shown open: the lesson's code, not the formatting
WORD = re.compile(r"[A-Za-z0-9][\w'’.-]*")
FOLDED = ("details", "div.solution", "div.dropdown", "div.cell_input",
          "div.cell_output div.highlight", "script", "style")


def visible_code_cells(page: Path) -> list:
    """Code cells whose source shows without a click: not folded (a toggle or dropdown),
    not in an exercise's solution, not removed from the page."""
    return [c for c in article(page).select("div.cell_input")
            if c.find_parent("details") is None and c.find_parent(class_="solution") is None
            and c.find_parent(class_="dropdown") is None]


def visible_words(page: Path) -> int:
    """Words of prose and output shown without a click; code listings (the lesson's code,
    highlighted) are budgeted as code cells, not words."""
    body = article(page)
    for folded in body.select(", ".join(FOLDED)):
        folded.decompose()
    return len(WORD.findall(body.get_text(" ")))


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_a_chapter_keeps_its_reading_budget(page):
    words, code = visible_words(page), len(visible_code_cells(page))
    assert words <= MAX_WORDS, f"{words:,} words shown (budget {MAX_WORDS:,}): fold or cut"
    assert code <= MAX_VISIBLE_CODE, (f"{code} code cells shown (budget {MAX_VISIBLE_CODE}): "
                                      "tag formatting cells remove-input")


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_every_table_is_numbered_and_captioned(page):
    """Each cell that shows tables follows a caption paragraph ``Table N.k · …`` naming
    one number per table, numbered in page order from 1."""
    n, wrong, body = chapter_number(page), [], article(page)
    numbers = []
    for cell in body.select("div.cell"):
        tables = len(cell.select("div.cell_output table"))
        if not tables:
            continue
        caption = cell.find_previous_sibling()
        text = " ".join(caption.get_text(" ").split()) if caption is not None else ""
        found = [int(k) for k in re.findall(rf"Table {n}\.(\d+)", text)]
        if caption is None or "table-caption" not in caption.get("class", []):
            wrong.append(f"a cell with {tables} table(s) has no caption above it")
        elif len(found) != tables:
            wrong.append(f"{text[:50]!r} numbers {len(found)} table(s), the cell shows {tables}")
        numbers += found
    assert not wrong, "\n".join(wrong)
    assert numbers == list(range(1, len(numbers) + 1)), f"tables numbered {numbers}"
