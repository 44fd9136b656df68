"""Full-page screenshots of the built site at a desktop and a phone width, with measurements.

The site (``_build/html``) is copied to a temporary folder and its pages are pointed at a
local MathJax 3 (``npm install mathjax@3`` into ``--mathjax``, the only download), so the
equations render as a reader sees them without any other network access. Headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by selenium) then opens
every page at each width and

- saves a full-page PNG, ``<out>/<width>/<page>.png``;
- prints the page's height in CSS pixels;
- lists the elements that scroll sideways (``scrollWidth > clientWidth``), widest first;
- lists the display equations whose rendered box lies outside the content column
  (cut off on the left, or running past the right edge);
- measures how many monospace characters one line of a cell's output holds.

Everything is also written to ``<out>/report.json``.

    python tools/site_screenshots.py --site _build/html --out shots --mathjax ~/.cache/mathjax

>>> page_name(Path("book/03_ensembles.html"))
'book-03_ensembles'
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MATHJAX_CDN = re.compile(r'src="https://cdn\.jsdelivr\.net/npm/mathjax@3/es5/([^"]+)"')
WIDTHS = (1280, 390)
SKIP = {"genindex.html", "search.html", "index.html"}  # index.html only redirects

MEASURE_JS = r"""
const column = document.querySelector('article.bd-article') || document.body;
const col = column.getBoundingClientRect();
const describe = (el) => {
  const cls = (el.className && el.className.baseVal === undefined) ? el.className : '';
  const text = (el.innerText || el.textContent || '').trim().replace(/\s+/g, ' ');
  return `${el.tagName.toLowerCase()}${cls ? '.' + cls.trim().split(/\s+/).join('.') : ''}`
    + ` "${text.slice(0, 70)}"`;
};
const scrolling = [];
for (const el of column.querySelectorAll('*')) {
  if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) {
    const style = getComputedStyle(el);
    if (['auto', 'scroll'].includes(style.overflowX)) {
      scrolling.push({element: describe(el), scroll_width: el.scrollWidth,
                      client_width: el.clientWidth, excess: el.scrollWidth - el.clientWidth});
    }
  }
}
scrolling.sort((a, b) => b.excess - a.excess);
const equations = [];
for (const box of document.querySelectorAll('mjx-container[display="true"]')) {
  const math = (box.querySelector('mjx-math') || box).getBoundingClientRect();
  const left = Math.round(col.left - math.left), right = Math.round(math.right - col.right);
  if (left > 1 || right > 1) {
    const number = (box.parentElement.innerText || '').match(/\((\d+(?:\.\d+)?)\)/);
    const anchor = box.closest('[id]');
    equations.push({equation: number ? `(${number[1]})` : (anchor ? '#' + anchor.id : '?'),
                    cut_left_px: Math.max(left, 0), past_right_px: Math.max(right, 0),
                    container_scrolls: box.scrollWidth > box.clientWidth + 1});
  }
}
let mono = null;
const pre = [...document.querySelectorAll('div.cell_output pre')].find(
  (el) => el.clientWidth > 0);  // a visible one: a collapsed block measures 0
if (pre) {
  const probe = document.createElement('span');
  probe.textContent = 'x'.repeat(100);
  pre.appendChild(probe);
  const style = getComputedStyle(pre);
  const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  mono = {char_px: probe.getBoundingClientRect().width / 100, pre_inner_px: inner,
          font_size: style.fontSize,
          chars_per_line: Math.floor(inner / (probe.getBoundingClientRect().width / 100))};
  if (!Number.isFinite(mono.chars_per_line)) mono = null;  // JSON has no Infinity
  probe.remove();
}
// as JSON text: NaN and Infinity become null instead of failing the transfer
return JSON.stringify({height: document.documentElement.scrollHeight,
        page_scroll_width: document.documentElement.scrollWidth,
        column_px: Math.round(col.width), scrolling: scrolling, equations: equations,
        monospace: mono});
"""


def page_name(path: Path) -> str:
    """A file name for the page at ``path`` (relative to the site).

    >>> page_name(Path("intro.html"))
    'intro'
    """
    return "-".join(path.with_suffix("").parts)


def local_mathjax(folder: Path) -> Path:
    """The ``es5`` folder of MathJax 3 under ``folder``; installed there with npm if absent."""
    es5 = folder / "node_modules" / "mathjax" / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder),
                        "mathjax@3"], check=True)
    return es5


def local_copy(site: Path, es5: Path, into: Path) -> list[Path]:
    """Copy ``site`` into ``into`` with MathJax at ``_static/mathjax`` and every page's
    MathJax script pointed there; returns the pages (relative paths) to photograph."""
    shutil.copytree(site, into, dirs_exist_ok=True)
    shutil.copytree(es5, into / "_static" / "mathjax", dirs_exist_ok=True)
    pages = []
    for page in sorted(into.rglob("*.html")):
        relative = page.relative_to(into)
        if relative.parts[0].startswith("_") or relative.name in SKIP:
            continue
        up = "../" * (len(relative.parts) - 1)
        text = page.read_text()
        page.write_text(MATHJAX_CDN.sub(lambda m, up=up: f'src="{up}_static/mathjax/{m[1]}"', text))
        pages.append(relative)
    return pages


def browser(*flags: str, prefs: dict[str, Any] | None = None) -> Any:
    """Headless Chromium through selenium (Debian's chromium and chromedriver), with extra
    command-line ``flags`` and profile ``prefs`` (a fake camera, a blocked permission)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    chromium = shutil.which("chromium")
    if chromium:
        options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars",
                 "--allow-file-access-from-files", *flags):
        options.add_argument(flag)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    driver_path = shutil.which("chromedriver")
    return webdriver.Chrome(options=options,
                            service=Service(driver_path) if driver_path else None)


def photograph(driver: Any, url: str, width: int, png: Path) -> dict[str, Any]:
    """Open ``url`` at ``width`` CSS pixels, wait for MathJax, measure and save a full-page
    PNG."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    driver.get(url)
    wait_until(driver, "return document.readyState === 'complete'")
    driver.execute_script(  # MathJax typesets after load; its promise says when it is done
        "window.__typeset = !(window.MathJax && MathJax.startup && MathJax.startup.promise);"
        "if (!window.__typeset) MathJax.startup.promise.then(() => { window.__typeset = true; });"
        "return null;")
    wait_until(driver, "return window.__typeset === true")
    measured = json.loads(driver.execute_script(MEASURE_JS))
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": measured["height"], "scale": 1}})
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(base64.b64decode(shot["data"]))
    return measured


def wait_until(driver: Any, script: str, timeout: float = 60.0) -> None:
    """Poll ``script`` (JavaScript returning a boolean) until it is true or ``timeout``."""
    import time

    end = time.monotonic() + timeout
    while not driver.execute_script(script):
        if time.monotonic() > end:
            raise TimeoutError(f"{script!r} still false after {timeout:.0f} s")
        time.sleep(0.2)


def summary(page: str, width: int, m: dict[str, Any], top: int = 5) -> str:
    """A few lines for one page at one width."""
    lines = [f"{page} @ {width}px: height {m['height']} px, {len(m['scrolling'])} element(s) "
             f"scroll sideways, {len(m['equations'])} equation(s) outside the column"
             + (f"; page itself {m['page_scroll_width']} px wide"
                if m["page_scroll_width"] > width else "")]
    for s in m["scrolling"][:top]:
        lines.append(f"    scrolls +{s['excess']} px ({s['scroll_width']} in {s['client_width']}):"
                     f" {s['element']}")
    for e in m["equations"]:
        lines.append(f"    equation {e['equation']!r}: cut {e['cut_left_px']} px on the left, "
                     f"{e['past_right_px']} px past the right"
                     + (" (its box scrolls)" if e["container_scrolls"] else ""))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=Path("_build/html"))
    parser.add_argument("--out", type=Path, default=Path("_build/screenshots"))
    parser.add_argument("--mathjax", type=Path, required=True,
                        help="folder holding (or to receive) npm's mathjax@3")
    parser.add_argument("--widths", default=",".join(map(str, WIDTHS)))
    parser.add_argument("--pages", default="", help="only pages whose path contains this")
    args = parser.parse_args(argv)
    if not (args.site / "intro.html").is_file() and not any(args.site.rglob("intro.html")):
        parser.error(f"{args.site} holds no built book: run jupyter-book build . first")
    es5 = local_mathjax(args.mathjax)
    report: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pages = [p for p in local_copy(args.site, es5, Path(tmp)) if args.pages in str(p)]
        driver = browser()
        try:
            for width in [int(w) for w in args.widths.split(",")]:
                for page in pages:
                    name = page_name(page)
                    measured = photograph(driver, (Path(tmp) / page).as_uri(), width,
                                          args.out / str(width) / f"{name}.png")
                    report.setdefault(name, {})[str(width)] = measured
                    print(summary(name, width, measured), flush=True)
        finally:
            driver.quit()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
