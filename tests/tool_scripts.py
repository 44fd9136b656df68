"""The scripts of ``tools/`` and ``benchmarks/`` loaded as modules by path, for the tests
(neither folder is a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_tool(name: str, folder: str = "tools") -> ModuleType:
    """``<folder>/<name>.py`` as a module, registered under ``name`` (its dataclasses look
    their module up in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
