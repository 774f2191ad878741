"""The demo's report.html looked at in a real browser: headless Debian Chromium, driven by Playwright.

Playwright never downloads a browser here: it drives the system's ``/usr/bin/chromium`` (Debian's package,
installed by ``make test`` with the other system packages). The test renders the wan-mtu-9000 incident's
HTML report, takes a full-page screenshot, and checks what a person would: the chart and the findings are
on screen, nothing is wider than the window, and the page asks the network for nothing.
Set ``DROPSLEUTH_UPDATE_SCREENSHOT=1`` to refresh the screenshot the docs show (``docs/images/``).
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dropsleuth.model import Report
from dropsleuth.report.render import to_html
from tests.e2e.test_demo_scenarios import investigate

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "report-wan-mtu-9000.png"
# Running as root needs --no-sandbox; /dev/shm is small in containers.
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is in the dev extra (make venv)")
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make test does)", allow_module_level=True
    )

# Elements wider than the window are fine inside a box that scrolls or clips (the fix's <pre> scrolls).
_OVERFLOWING = """() => {
  const limit = document.documentElement.clientWidth + 1;
  const clipped = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  return [...document.body.querySelectorAll('*')]
    .filter((el) => el.getBoundingClientRect().right > limit && !clipped(el))
    .map((el) => el.tagName + (el.className && el.className.baseVal === undefined ? '.' + el.className : ''));
}"""


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    _, report = investigate("wan-mtu-9000")
    page = tmp_path_factory.mktemp("report") / "report.html"
    page.write_text(to_html(report), encoding="utf-8")
    return report, page


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def open_report(browser: Any, page_file: Path, *, width: int, requests: list[str]) -> Any:
    """The report in a fresh page; every request other than the report itself is recorded and refused."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    own_url = page_file.as_uri()

    def refuse_the_network(route: Any) -> None:
        if route.request.url == own_url:
            route.continue_()
            return
        requests.append(route.request.url)
        route.abort()

    page.route("**/*", refuse_the_network)
    page.goto(own_url, wait_until="load")
    return page


def png_distinct_bytes(png: bytes) -> int:
    """How many distinct byte values the decompressed image holds: a blank page has a handful."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    data, offset = b"", 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return len(set(zlib.decompress(data)))


def test_report_shows_chart_and_findings_within_the_page_and_loads_nothing(
    demo_report: tuple[Report, Path], browser: Any, tmp_path: Path
) -> None:
    report, page_file = demo_report
    requests: list[str] = []
    page = open_report(browser, page_file, width=1280, requests=requests)

    chart = page.locator("svg").first
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 600
    assert box["height"] > 150
    assert page.locator("svg polyline").count() >= 1  # the throughput line is drawn

    findings = page.locator("div.finding")
    assert findings.count() == len(report.findings)
    top = findings.first
    assert top.is_visible()
    assert report.findings[0].code.value in top.inner_text()
    assert top.locator("a").first.get_attribute("href")  # the runbook link

    assert page.evaluate(_OVERFLOWING) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert requests == []

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert png_distinct_bytes(shot.read_bytes()) > 50
    if os.environ.get("DROPSLEUTH_UPDATE_SCREENSHOT") == "1":
        # The docs show the top of the page: headline, chart and the first finding with its fix.
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(DOCS_SCREENSHOT), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": 1900}
        )
    page.close()


def test_report_fits_a_narrow_window(demo_report: tuple[Report, Path], browser: Any) -> None:
    _, page_file = demo_report
    requests: list[str] = []
    page = open_report(browser, page_file, width=480, requests=requests)
    assert page.evaluate(_OVERFLOWING) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator("svg").first.is_visible()
    page.close()


def test_the_docs_show_the_screenshot() -> None:
    assert DOCS_SCREENSHOT.is_file(), "run this test with DROPSLEUTH_UPDATE_SCREENSHOT=1"
    page = (DOCS_SCREENSHOT.parents[1] / "report.md").read_text(encoding="utf-8")
    assert f"images/{DOCS_SCREENSHOT.name}" in page
