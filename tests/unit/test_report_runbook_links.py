"""Every finding in every report view links to its runbook section, and that section exists."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dropsleuth.model import FindingCode
from dropsleuth.report.render import summary_text, to_html, to_markdown
from dropsleuth.report.runbook import DOCS_URL_VARIABLE, runbook_anchor, runbook_link, runbook_page
from tests.unit.test_report_render import incident_report

DOCS = Path(__file__).resolve().parents[2] / "docs"


def anchors_in(page: str) -> set[str]:
    """The explicit anchors (``<a id="…">``) of a docs page."""
    return set(re.findall(r'<a id="([^"]+)"></a>', (DOCS / f"{page}.md").read_text()))


@pytest.mark.parametrize("code", list(FindingCode))
def test_every_finding_code_has_its_section_in_a_runbook(code: FindingCode) -> None:
    assert runbook_anchor(code) in anchors_in(runbook_page(code)), (
        f'{code.value}: add <a id="{runbook_anchor(code)}"></a> to docs/{runbook_page(code)}.md'
    )


def test_the_pmtud_family_is_in_the_pmtud_runbook() -> None:
    for code in (
        FindingCode.PMTUD_BLACKHOLE,
        FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED,
        FindingCode.MTU_MISMATCH,
    ):
        assert runbook_page(code) == "runbook/pmtud"
    assert runbook_page(FindingCode.FLOW_REJECTED) == "runbook/findings"


def test_link_points_at_the_repository_page_without_a_docs_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DOCS_URL_VARIABLE, raising=False)
    link = runbook_link(FindingCode.PMTUD_BLACKHOLE)
    assert link == "docs/runbook/pmtud.md#pmtud-blackhole"
    assert (DOCS.parent / link.split("#")[0]).is_file()


def test_link_points_at_the_published_site_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DOCS_URL_VARIABLE, "https://docs.example.com/dropsleuth/")
    assert (
        runbook_link(FindingCode.NO_ROUTE) == "https://docs.example.com/dropsleuth/runbook/findings/#no-route"
    )
    assert runbook_link(FindingCode.NO_ROUTE, docs_url="https://x.example") == (
        "https://x.example/runbook/findings/#no-route"
    )


def test_markdown_links_each_finding_to_its_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DOCS_URL_VARIABLE, raising=False)
    report = incident_report()
    sections = to_markdown(report).split("\n### ")[1:]
    assert len(sections) == len(report.findings)
    for finding, section in zip(report.findings, sections, strict=True):
        assert f"Runbook: [{finding.code.value}]({runbook_link(finding.code)})" in section


class _Links(HTMLParser):
    """The href of every link inside each ``div.finding``, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.findings: list[list[str]] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div":
            if dict(attrs).get("class") == "finding":
                self.findings.append([])
                self._depth = 1
            elif self._depth:
                self._depth += 1
        if tag == "a" and self._depth:
            self.findings[-1].append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._depth:
            self._depth -= 1


def test_html_links_each_finding_to_its_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DOCS_URL_VARIABLE, "https://docs.example.com/dropsleuth")
    report = incident_report()
    parser = _Links()
    parser.feed(to_html(report))
    assert len(parser.findings) == len(report.findings)
    for finding, hrefs in zip(report.findings, parser.findings, strict=True):
        assert runbook_link(finding.code) in hrefs


def test_sns_summary_links_the_top_findings_runbook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DOCS_URL_VARIABLE, raising=False)
    report = incident_report()
    assert report.top_finding is not None
    assert f"Runbook: {runbook_link(report.top_finding.code)}" in summary_text(report)
