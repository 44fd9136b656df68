"""The code a lesson is about, shown as highlighted code without its docstring.

>>> print(source_text(source_text).splitlines()[0])
def source_text(obj: Any) -> str:
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import shutil
import subprocess
import sys
import textwrap
from typing import Any

WIDTH = 72  # characters: a code block of the book's column holds about 75 without scrolling


def source_text(obj: Any) -> str:
    """The source of a function or class, dedented, with every docstring left out."""
    source = textwrap.dedent(inspect.getsource(obj))
    tree = ast.parse(source)
    lines = source.splitlines()
    drop: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            drop.update(range(body[0].lineno - 1, body[0].end_lineno))
            after = body[0].end_lineno  # the blank line a docstring leaves behind
            if after < len(lines) and not lines[after].strip():
                drop.add(after)
    return _narrow("\n".join(line for i, line in enumerate(lines) if i not in drop))


def _narrow(code: str, width: int = WIDTH) -> str:
    """``code`` re-wrapped to ``width`` columns by ruff's formatter where it is installed
    (the library is written 100 columns wide); unchanged where it is not."""
    if max(map(len, code.splitlines()), default=0) <= width:
        return code
    if importlib.util.find_spec("ruff") is not None:
        ruff = [sys.executable, "-m", "ruff"]
    elif shutil.which("ruff"):
        ruff = [shutil.which("ruff")]
    else:
        return code
    done = subprocess.run([*ruff, "format", f"--line-length={width}", "--stdin-filename",
                           "shown.py", "-"], input=code, capture_output=True, text=True)
    return _wrap_comments(done.stdout.rstrip("\n") if done.returncode == 0 else code, width)


def _wrap_comments(code: str, width: int) -> str:
    """Comment lines longer than ``width`` wrapped at words (a formatter leaves them), and a
    long trailing comment moved onto its own lines above its code."""
    out: list[str] = []
    for line in code.splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if len(line) <= width:
            out.append(line)
        elif stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            out.extend(textwrap.wrap(text, width, initial_indent=indent + "# ",
                                     subsequent_indent=indent + "# "))
        elif "  # " in line and '"' not in line and "'" not in line:
            body, comment = line.split("  # ", 1)
            out.extend(textwrap.wrap(comment, width, initial_indent=indent + "# ",
                                     subsequent_indent=indent + "# "))
            out.append(body)
        else:
            out.append(line)
    return "\n".join(out)


def show_source(*objects: Any) -> Any:
    """``IPython.display.Code`` of ``objects``' sources (docstrings left out), highlighted
    as Python in Jupyter and on the website."""
    from IPython.display import Code

    return Code("\n\n\n".join(source_text(o) for o in objects), language="python")
