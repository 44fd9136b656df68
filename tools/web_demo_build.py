"""Sphinx extension: the book build writes the live page's files (``_static/demo``).

After the HTML is written, ``fer_course.ops.web_demo.write_web_demo`` exports the course's
default network to ONNX and copies the detector's cascade and onnxruntime-web's files
(``npm ci`` installs them from ``package.json``) beside ``page.js``, so the page "Try it on
your face" always carries the shipped network. A failure is a build warning (an error
under ``jupyter-book build -W``), and names what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.util import logging

LOGGER = logging.getLogger(__name__)


def write_demo_files(app: Any, exception: Exception | None) -> None:
    """``build-finished``: export into ``<outdir>/_static/demo`` (HTML builders only)."""
    if exception is not None or app.builder.format != "html":
        return
    from fer_course.ops.web_demo import write_web_demo

    folder = Path(app.outdir) / "_static" / "demo"
    try:
        manifest = write_web_demo(folder)
    except Exception as error:  # any failure: the page would be missing its files
        LOGGER.warning("the live page's files were not written: %s", error)
        return
    LOGGER.info("live page: %s and its runtime, %.1f MB, in %s", manifest["network"],
                manifest["bytes"] / 1e6, folder)


def setup(app: Any) -> dict[str, Any]:
    app.connect("build-finished", write_demo_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
