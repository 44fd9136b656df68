"""The library's layers: imports point down only, and no folder grows past about ten modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fer_course"

# lower number = lower layer; a module may import its own layer and the ones below
LAYERS = {
    "profiles": 1, "devices": 1, "precision": 1, "paper": 1, "atomic": 1, "home": 1,
    "pixels": 1, "version": 1,
    "data": 2, "augment": 2,
    "models": 3,
    "runs": 4,
    "engine": 5, "evaluate": 5,
    "analysis": 6, "faces": 6, "pretrained": 6,
    "views": 7,
    "ops": 8, "batch": 8, "__main__": 8,
}


def layer_of(module: str) -> int | None:
    """The layer of ``fer_course.<top>...``; the package itself (its front door, which
    reaches every layer) sits above them all; ``None`` outside the package."""
    parts = module.split(".")
    if parts[0] != "fer_course":
        return None
    return max(LAYERS.values()) + 1 if len(parts) == 1 else LAYERS[parts[1]]


def imports_of(path: Path) -> set[str]:
    """Every ``fer_course`` module a file imports, at top level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] == "fer_course"}


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or
                 p.parent != PACKAGE)


def test_every_top_level_name_has_a_layer() -> None:
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert names == set(LAYERS)


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_imports_point_down(path: Path) -> None:
    own = layer_of("fer_course." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    upward = sorted(m for m in imports_of(path) if (layer_of(m) or 0) > own)
    assert not upward, f"{path.relative_to(PACKAGE)} (layer {own}) imports {upward}"


def test_no_folder_holds_more_than_about_ten_modules() -> None:
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if (p / "__init__.py").is_file())]:
        # __init__ and __main__ are the folder's doors, not modules of their own
        modules = [p for p in folder.glob("*.py") if not p.name.startswith("__")]
        assert len(modules) <= 11, f"{folder.name}/ holds {len(modules)} modules"


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from fer_course.views.data_figures import sample_grid\n")
    assert imports_of(source) == {"fer_course.views.data_figures"}
    assert layer_of("fer_course.views.data_figures") > layer_of("fer_course.data.readers")


def private_imports(path: Path) -> list[str]:
    """``from fer_course.x import _name``: another module's private name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and \
                node.module.split(".")[0] == "fer_course":
            found += [f"{node.module}.{a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    return found


def test_no_module_imports_another_modules_private_name() -> None:
    offenders = {str(p.relative_to(PACKAGE)): private_imports(p) for p in SOURCES}
    assert not {k: v for k, v in offenders.items() if v}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """The ``fer_course`` modules a file imports when it is imported (not inside functions)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] == "fer_course"}


def test_no_import_circle_between_modules() -> None:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: {m for m in top_level_imports(path) if m in paths and m != name
                    and not name.startswith(m + ".")}  # a package's own __init__ is fine
             for name, path in paths.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for child in sorted(graph[node]):
            if state.get(child) == 1:
                return [*trail, node, child]
            if child not in state and (circle := visit(child, [*trail, node])):
                return circle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            circle = visit(start, [])
            assert circle is None, " -> ".join(circle[circle.index(circle[-1]):])
