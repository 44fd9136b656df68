"""The built website on a phone: every page at 390 CSS pixels in headless Chromium.

Runs on the HTML of ``jupyter-book build .`` named by ``FER_SITE_HTML`` (``.ci/run`` sets it
after the build); skipped without it, or without Debian's ``chromium`` and
``chromium-driver``. No page may be wider than the screen, and no table wider than the
text column: a table that does not fit breaks its long cells instead (``_static/course.css``).
Code listings may scroll inside their own box, as code does everywhere.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

SITE = Path(os.environ["FER_SITE_HTML"]).resolve() if os.environ.get("FER_SITE_HTML") else None
if SITE is None or not (SITE / "book").is_dir():
    pytest.skip("FER_SITE_HTML does not name a built site", allow_module_level=True)
if not (shutil.which("chromium") and shutil.which("chromedriver")):
    pytest.skip("no chromium and chromedriver here", allow_module_level=True)
pytest.importorskip("selenium")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from site_screenshots import browser, wait_until  # noqa: E402

PHONE = 390
PAGES = [SITE / "book" / "intro.html", *sorted((SITE / "book").glob("0[0-9]_*.html")),
         *sorted((SITE / "book").glob("try_it.html"))]

MEASURE = """
const column = (document.querySelector('article.bd-article') || document.body)
  .getBoundingClientRect();
const wide = [...document.querySelectorAll('article.bd-article table')]
  .filter((t) => t.getBoundingClientRect().width > 0
          && t.getBoundingClientRect().right > column.right + 1)
  .map((t) => (t.innerText || '').trim().replace(/\\s+/g, ' ').slice(0, 60));
return JSON.stringify({page: document.documentElement.scrollWidth, tables: wide});
"""


@pytest.fixture(scope="module")
def phone():
    driver = browser()
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": PHONE, "height": 844, "deviceScaleFactor": 1, "mobile": False})
    yield driver
    driver.quit()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_a_page_fits_a_phone(phone, page: Path) -> None:
    import json

    phone.get(page.as_uri())
    wait_until(phone, "return document.readyState === 'complete'")
    measured = json.loads(phone.execute_script(MEASURE))
    assert measured["page"] <= PHONE, f"the page is {measured['page']} px wide at {PHONE} px"
    assert not measured["tables"], f"tables wider than the column: {measured['tables']}"
