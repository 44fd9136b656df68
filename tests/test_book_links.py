"""The book's links to the repository agree with ``_config.yml``, the one place it is written.

Every chapter's Colab badge and Colab install line are derived from ``repository`` in
``_config.yml``; ``python tools/sync_links.py`` rewrites them when it changes. Notebooks
are only read here, never executed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml
from tool_scripts import load_tool  # tests/tool_scripts.py (pytest puts tests/ on the path)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"].rstrip("/").removesuffix(".git")
BRANCH = CONFIG["repository"].get("branch", "main")
PATH_TO_BOOK = (CONFIG["repository"].get("path_to_book") or "").strip("/")
COLAB_URL = ((CONFIG.get("launch_buttons") or {}).get("colab_url") or "").rstrip("/")
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))

COLAB_LINK = re.compile(r"https?://colab\.research\.google\.com/github/[^\s)\"'>\]]+")
CLONE_URL = re.compile(r"git clone -q --depth 1 (https?://\S+?)(?:\.git)? ")


def _load_tool():
    """``tools/sync_links.py`` (not a package), imported by path."""
    return load_tool("sync_links")


def expected_colab_link(notebook: Path) -> str:
    owner_repo = REPO_URL.removeprefix("https://github.com/")
    path = "/".join(p for p in (PATH_TO_BOOK, notebook.relative_to(ROOT).as_posix()) if p)
    return f"{COLAB_URL}/github/{owner_repo}/blob/{BRANCH}/{path}"


def test_config_names_the_repository_and_colab_launch_buttons():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", REPO_URL), REPO_URL
    assert COLAB_URL, \
        "_config.yml: launch_buttons.colab_url is missing (the Colab launch button)"
    assert CHAPTERS, "no chapter notebooks found in book/"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_colab_badge_matches_config(notebook: Path):
    nb = nbformat.read(notebook, as_version=4)
    name, expected = notebook.relative_to(ROOT).as_posix(), expected_colab_link(notebook)
    first_markdown = next(c for c in nb.cells if c.cell_type == "markdown")
    assert "[![Open In Colab](" in first_markdown.source, \
        f"{name}: no Colab badge in the first markdown cell"
    links = [link for cell in nb.cells for link in COLAB_LINK.findall(cell.source)]
    wrong = [link for link in links if link != expected]
    assert not wrong, (f"{name}: Colab link {wrong[0]} disagrees with _config.yml "
                       f"(expected {expected}); run python tools/sync_links.py")
    assert expected in COLAB_LINK.findall(first_markdown.source), \
        f"{name}: the Colab badge does not link to {expected}"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_colab_setup_cell_installs_from_config(notebook: Path):
    nb = nbformat.read(notebook, as_version=4)
    name = notebook.relative_to(ROOT).as_posix()
    setup = next(c for c in nb.cells if c.cell_type == "code")  # runs before any import
    wrong = [url for url in CLONE_URL.findall(setup.source) if url != REPO_URL]
    assert not wrong, (f"{name}: the setup cell installs from {wrong[0]}, _config.yml says "
                       f"{REPO_URL}; run python tools/sync_links.py")
    repo = REPO_URL.rsplit("/", 1)[1]
    assert f"git clone -q --depth 1 {REPO_URL} /content/{repo}" in setup.source, \
        f"{name}: the setup cell lacks git clone -q --depth 1 {REPO_URL} /content/{repo}"
    # Colab-only and idempotent (a rerun after a disconnect clones again only if the clone
    # is gone); the library sets the home (Drive or not), the data and the results.
    assert '"google.colab" in sys.modules' in setup.source, name
    assert f'if not os.path.isdir("/content/{repo}")' in setup.source, name
    assert "setup(drive=drive, fer2013=fer2013)" in setup.source, name
    first = nbformat.read(CHAPTERS[0], as_version=4)
    assert setup.source == next(c for c in first.cells if c.cell_type == "code").source, \
        f"{name}: the Colab cell differs from chapter 1's; every chapter has the same one"
    folded = {"hide-input", "hide-cell"} & set(setup.metadata.get("tags", []))
    assert folded, f"{name}: setup cell not folded (hide-input or hide-cell)"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_nbval_markers_are_tags(notebook: Path):
    """``# NBVAL_*`` comments would show on the website; cell tags do the same, unseen."""
    nb = nbformat.read(notebook, as_version=4)
    marked = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              and re.search(r"^\s*#\s*NBVAL_", cell.source, re.MULTILINE)]
    assert not marked, (f"{notebook.name}: cells {marked} carry # NBVAL_ comments; "
                        "use the nbval-* cell tags instead")


def test_sync_tool_agrees_with_config():
    """Also covers the ``git clone`` lines of the markdown pages."""
    problems = _load_tool().check(ROOT)
    assert not problems, "\n".join(problems) + "\nrun python tools/sync_links.py"


def test_sync_tool_rewrites_a_stale_book(tmp_path: Path):
    """A copy of the book whose ``_config.yml`` names another repository is brought in line,
    outputs untouched."""
    tool = _load_tool()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book")
    config = tmp_path / "_config.yml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        CONFIG["repository"]["url"], "https://github.com/someone/elsewhere.git"), encoding="utf-8")
    assert tool.check(tmp_path)  # every chapter disagrees now
    changed = tool.sync(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in changed} >= {
        c.relative_to(ROOT).as_posix() for c in CHAPTERS}
    assert tool.check(tmp_path) == []
    for chapter in CHAPTERS:
        before = nbformat.read(chapter, as_version=4)
        after = nbformat.read(tmp_path / chapter.relative_to(ROOT), as_version=4)
        assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]
        assert "/github/someone/elsewhere/blob/" in after.cells[0].source
        assert "clone -q --depth 1 https://github.com/someone/elsewhere /content/elsewhere" \
            in next(c for c in after.cells if c.cell_type == "code").source
