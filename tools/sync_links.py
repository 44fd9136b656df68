"""Keep the book's links to the repository in step with ``_config.yml``.

``repository.url`` in ``_config.yml`` is the one place the repository is written by hand
(with ``repository.branch``, ``repository.path_to_book`` and ``launch_buttons.colab_url``
beside it). This script rewrites what is derived from it, in every file of ``_toc.yml``:

* the Colab badge of each chapter notebook (in its first markdown cell):
  ``<colab_url>/github/<owner>/<repo>/blob/<branch>/<path_to_book>/<file>.ipynb``;
* the clone line of each chapter's Colab setup cell (its first code cell), which fetches the
  library and the stored run summaries (``results/``):
  ``!git clone -q --depth 1 <url> /content/<repo>``, installed from there;
* ``git clone <url> && cd <repo>`` in the book's markdown pages.

Usage, from anywhere::

    python tools/sync_links.py          # rewrite whatever disagrees with _config.yml
    python tools/sync_links.py --check  # only list it; exit status 1 if anything does

Notebooks are read and written with nbformat and never executed; a file is written only
when one of its links changes, and nothing else in it (outputs included) is touched.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: A Colab badge: ``[![Open In Colab](<image>)](<link>)``; group 2 is the link.
BADGE_RE = re.compile(r"(\[!\[Open In Colab\]\([^)\s]*\)\]\()([^)\s]*)(\))")
#: The setup cell's clone: group 1 is the URL, group 2 the folder name under /content.
SETUP_CLONE_RE = re.compile(r"git clone -q --depth 1 (https?://\S+?)(?:\.git)? /content/(\S+)")
#: A ``git clone <url>`` command, optionally followed by ``&& cd <folder>``; group 1 is the
#: URL (without ``.git``), group 2 the ``cd``.
CLONE_RE = re.compile(
    r"git clone (https?://[^\s`'\"]+?)(?:\.git)?(?=[\s`'\"]|$)( && cd [^\s`'\"]+)?",
    re.MULTILINE)


@dataclass(frozen=True)
class BookLinks:
    """Everything derived from ``_config.yml``'s ``repository`` and ``launch_buttons``."""

    url: str  # https://github.com/<owner>/<repo>, without a trailing slash or .git
    owner: str
    repo: str
    branch: str
    path_to_book: str  # the book's folder inside the repository, "" for its root
    colab_url: str  # e.g. https://colab.research.google.com

    def colab_link(self, relpath: str | PurePosixPath) -> str:
        """The Colab link of a notebook, given its path relative to the book's root."""
        path = PurePosixPath(self.path_to_book or ".") / PurePosixPath(relpath)
        path = PurePosixPath(*[p for p in path.parts if p != "."])
        return f"{self.colab_url}/github/{self.owner}/{self.repo}/blob/{self.branch}/{path}"

    @property
    def install_line(self) -> str:
        """The setup cell's clone (library and stored results in one)."""
        return f"git clone -q --depth 1 {self.url} /content/{self.repo}"

    @property
    def clone_line(self) -> str:
        return f"git clone {self.url} && cd {self.repo}"


def load_links(book_root: Path = ROOT) -> BookLinks:
    """Read ``_config.yml`` of the book at ``book_root``."""
    config = yaml.safe_load((book_root / "_config.yml").read_text(encoding="utf-8")) or {}
    repository = config.get("repository") or {}
    url = str(repository.get("url") or "").strip().rstrip("/")
    url = url.removesuffix(".git")
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", url)
    if not match:
        raise ValueError(f"_config.yml: repository.url {url!r} is not "
                         "https://github.com/<owner>/<repo>")
    colab_url = str((config.get("launch_buttons") or {}).get("colab_url") or "")
    return BookLinks(
        url=url,
        owner=match[1],
        repo=match[2],
        branch=str(repository.get("branch") or "main"),
        path_to_book=str(repository.get("path_to_book") or "").strip("/"),
        colab_url=(colab_url or "https://colab.research.google.com").rstrip("/"),
    )


def book_files(book_root: Path = ROOT) -> list[Path]:
    """The files of ``_toc.yml`` (notebooks and markdown pages), in the table's order."""
    toc = yaml.safe_load((book_root / "_toc.yml").read_text(encoding="utf-8")) or {}
    names: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("file", "root") and isinstance(value, str):
                    names.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    files = []
    for name in names:
        base = book_root / name
        candidates = [base] if base.suffix else [base.with_suffix(s) for s in (".ipynb", ".md")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is not None and found not in files:
            files.append(found)
    return files


def _first_markdown(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    return next((c for c in nb.cells if c.cell_type == "markdown"), None)


def setup_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """The Colab setup cell: a chapter's first code cell (it must run before any import)."""
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def notebook_problems(path: Path, links: BookLinks, book_root: Path = ROOT) -> list[str]:
    """What in one notebook disagrees with ``_config.yml``, one sentence each."""
    rel = path.relative_to(book_root).as_posix()
    nb = nbformat.read(path, as_version=4)
    problems = []
    expected = links.colab_link(rel)
    first = _first_markdown(nb)
    if first is None or not BADGE_RE.search(first.source):
        problems.append(f"{rel}: no Colab badge in the first markdown cell (expected {expected})")
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for match in BADGE_RE.finditer(cell.source):
                if match[2] != expected:
                    problems.append(f"{rel}: Colab badge links to {match[2]}, expected {expected}")
            problems += _clone_problems(rel, cell.source, links)
    setup = setup_cell(nb)
    wrong = [m[1] for m in SETUP_CLONE_RE.finditer(setup.source if setup else "")
             if m[1] != links.url]
    for url in wrong:
        problems.append(f"{rel}: the setup cell installs from {url}, expected {links.url}")
    if not wrong and (setup is None or links.install_line not in setup.source):
        problems.append(f"{rel}: the setup cell (its first code cell) lacks "
                        f"{links.install_line}")
    return problems


def _clone_problems(rel: str, text: str, links: BookLinks) -> list[str]:
    return [f"{rel}: {m[0]!r}, expected {links.clone_line!r}"
            for m in CLONE_RE.finditer(text)
            if m[1] != links.url or (m[2] and m[2] != f" && cd {links.repo}")]


def _sync_clones(text: str, links: BookLinks) -> str:
    return CLONE_RE.sub(
        lambda m: f"git clone {links.url}" + (f" && cd {links.repo}" if m[2] else ""), text)


def markdown_problems(path: Path, links: BookLinks, book_root: Path = ROOT) -> list[str]:
    """What in one markdown page disagrees with ``_config.yml`` (its ``git clone`` lines)."""
    rel = path.relative_to(book_root).as_posix()
    return _clone_problems(rel, path.read_text(encoding="utf-8"), links)


def check(book_root: Path = ROOT) -> list[str]:
    """Every disagreement with ``_config.yml`` in the book's files."""
    links = load_links(book_root)
    problems = []
    for path in book_files(book_root):
        if path.suffix == ".ipynb":
            problems += notebook_problems(path, links, book_root)
        else:
            problems += markdown_problems(path, links, book_root)
    return problems


def _sync_notebook(path: Path, links: BookLinks, book_root: Path) -> bool:
    expected = links.colab_link(path.relative_to(book_root).as_posix())
    before = path.read_text(encoding="utf-8")
    nb = nbformat.reads(before, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            source = BADGE_RE.sub(lambda m: m[1] + expected + m[3], cell.source)
            cell.source = _sync_clones(source, links)
    first = _first_markdown(nb)
    if first is not None and not BADGE_RE.search(first.source):
        first.source = first.source.rstrip() + f"\n\n[![Open In Colab]({BADGE_IMAGE})]({expected})"
    setup = setup_cell(nb)
    if setup is not None:
        setup.source = SETUP_CLONE_RE.sub(lambda m: links.install_line, setup.source)
        setup.source = re.sub(r"/content/[\w.-]+", f"/content/{links.repo}", setup.source)
    after = nbformat.writes(nb)
    if not after.endswith("\n"):
        after += "\n"  # as nbformat.write does
    if after == before:
        return False
    nbformat.write(nb, path)
    return True


def _sync_markdown(path: Path, links: BookLinks) -> bool:
    before = path.read_text(encoding="utf-8")
    after = _sync_clones(before, links)
    if after == before:
        return False
    path.write_text(after, encoding="utf-8")
    return True


def sync(book_root: Path = ROOT) -> list[Path]:
    """Rewrite every link that disagrees with ``_config.yml``; return the files changed."""
    links = load_links(book_root)
    changed = []
    for path in book_files(book_root):
        if path.suffix == ".ipynb":
            done = _sync_notebook(path, links, book_root)
        else:
            done = _sync_markdown(path, links)
        if done:
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 on any")
    parser.add_argument("--book", type=Path, default=ROOT, help="the folder of _config.yml")
    args = parser.parse_args(argv)
    book_root = args.book.resolve()
    if not args.check:
        for path in sync(book_root):
            print(f"updated {path.relative_to(book_root).as_posix()}")
    problems = check(book_root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems and args.check:
        print("every link agrees with _config.yml")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
