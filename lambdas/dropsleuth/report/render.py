"""The report as Markdown, as a self-contained HTML page (with the timeline chart), and as a short summary.

The JSON form is the contract (``Report.to_json``, documented in ``docs/report.md``); these are views of it
for people: the Markdown for a ticket or a terminal, the HTML for a browser, the summary for SNS. Every view
links each finding to its runbook section (``report.runbook``).
"""

from __future__ import annotations

from html import escape
from typing import Any

from dropsleuth.model import Evidence, Finding, Report, Severity, StepStatus
from dropsleuth.report.chart import timeline_svg
from dropsleuth.report.runbook import runbook_link

_SEVERITY_MARK = {
    Severity.CRITICAL: "CRITICAL",
    Severity.HIGH: "HIGH",
    Severity.WARNING: "WARNING",
    Severity.INFO: "INFO",
}
_SEVERITY_COLOR = {
    Severity.CRITICAL: "#b91c1c",
    Severity.HIGH: "#c2410c",
    Severity.WARNING: "#a16207",
    Severity.INFO: "#4b5563",
}


def headline(report: Report) -> str:
    """One line: the top finding, or that nothing was found, and where."""
    where = where_of(report)
    top = report.top_finding
    if top is None or top.severity in {Severity.INFO}:
        return f"No problem found for {where}: {len(report.checked)} checks, see the report."
    return (
        f"{top.code.value} ({top.severity.value}, confidence {top.confidence:.0%}) for {where}: {top.title}"
    )


def where_of(report: Report) -> str:
    subject = report.subject
    site = subject.get("site")
    path = f"{subject.get('source', '?')} → {subject.get('destination', '?')}:{subject.get('port', '?')}"
    return f"site {site} ({path})" if site else f"{subject.get('vpc_id', '?')} {path}"


def to_markdown(report: Report) -> str:
    """The whole report in Markdown."""
    lines = [f"# dropsleuth investigation: {where_of(report)}", "", f"**{headline(report)}**", ""]
    lines += _subject_lines(report)
    lines += ["", "## Findings", ""]
    if not report.findings:
        lines.append("No findings: nothing on the path explains a drop. See what was checked below.")
    for index, finding in enumerate(report.findings, 1):
        lines += _finding_markdown(index, finding)
    lines += ["", "## Steps", "", "| step | status | time | reason |", "|---|---|---|---|"]
    for step in report.steps:
        reason = step.reason.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {step.name} | {step.status.value} | {step.duration_s:.2f} s | {reason} |")
    lines += ["", "## What was checked", ""]
    lines += [f"- {item}" for item in report.checked]
    lines += [
        "",
        f"_Report {report.report_id}, schema {report.schema_version}, {report.created_at.isoformat()}_",
    ]
    return "\n".join(lines) + "\n"


def _subject_lines(report: Report) -> list[str]:
    subject = report.subject
    window = subject.get("window") or {}
    lines = [
        f"- VPC: `{subject.get('vpc_id', '?')}`",
        (
            f"- Traffic: `{subject.get('source', '?')}` → `{subject.get('destination', '?')}` "
            f"port {subject.get('port', '?')}"
        ),
        f"- Window: {window.get('start', '?')} → {window.get('end', '?')}",
    ]
    alarm = subject.get("alarm")
    if isinstance(alarm, dict) and alarm.get("alarm_name"):
        lines.append(f"- Alarm: `{alarm['alarm_name']}` → {alarm.get('state')} at {alarm.get('changed_at')}")
    return lines


def _finding_markdown(index: int, finding: Finding) -> list[str]:
    lines = [
        (
            f"### {index}. [{_SEVERITY_MARK[finding.severity]}] `{finding.code.value}` "
            f"(confidence {finding.confidence:.0%})"
        ),
        "",
        finding.title,
        "",
    ]
    if finding.detail:
        lines += [finding.detail, ""]
    if finding.resource_ids:
        lines += ["Resources: " + ", ".join(f"`{r}`" for r in finding.resource_ids), ""]
    for heading, items in (("Evidence:", finding.evidence), ("Evidence against:", finding.evidence_against)):
        if items:
            lines.append(heading)
            lines += [
                f"- *{e.kind}*: {e.summary}" + (f" ({', '.join(e.resource_ids)})" if e.resource_ids else "")
                for e in items
            ]
            lines.append("")
    if finding.remediation:
        lines += [f"**Fix:** {finding.remediation.summary}", ""]
        lines += [f"{n}. {step}" for n, step in enumerate(finding.remediation.steps, 1)]
        if finding.remediation.commands:
            lines += ["", "```sh", *finding.remediation.commands, "```"]
        lines.append("")
    link = runbook_link(finding.code)
    lines += [f"Runbook: [{finding.code.value}]({link})", ""]
    return lines


def to_html(report: Report) -> str:
    """A self-contained HTML page: headline, the timeline chart, findings, steps, what was checked."""
    chart = timeline_svg(report.timeline, title="Upload throughput and ICMP over the window")
    findings = "".join(_finding_html(i, f) for i, f in enumerate(report.findings, 1)) or (
        "<p>No findings: nothing on the path explains a drop. See what was checked below.</p>"
    )
    steps = "".join(
        f"<tr><td>{escape(s.name)}</td><td class='st-{s.status.value}'>{s.status.value}</td>"
        f"<td>{s.duration_s:.2f} s</td><td>{escape(s.reason)}</td></tr>"
        for s in report.steps
    )
    checked = "".join(f"<li>{escape(c)}</li>" for c in report.checked)
    subject = "".join(f"<li>{escape(line[2:]).replace('`', '')}</li>" for line in _subject_lines(report))
    top = report.top_finding
    color = _SEVERITY_COLOR[top.severity] if top else "#166534"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>dropsleuth: {escape(where_of(report))}</title>
<style>
body {{ font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 1000px;
  color: #111827; line-height: 1.45; padding: 0 1rem; }}
h1 {{ font-size: 1.4rem; }} h2 {{ margin-top: 2rem; border-bottom: 1px solid #e5e7eb; }}
.headline {{ border-left: 6px solid {color}; background: #f9fafb; padding: .75rem 1rem; font-weight: 600; }}
.finding {{ border: 1px solid #e5e7eb; border-radius: 6px; padding: .5rem 1rem; margin: 1rem 0; }}
.sev {{ color: #fff; border-radius: 4px; padding: 0 .4rem; font-size: .85rem; }}
code, pre {{ background: #f3f4f6; border-radius: 4px; }} pre {{ padding: .5rem; overflow-x: auto; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #e5e7eb; padding: .25rem .5rem; }}
.st-ok {{ color: #166534; }} .st-failed {{ color: #b91c1c; font-weight: 600; }}
.st-skipped {{ color: #6b7280; }}
.detail {{ white-space: pre-line; overflow-wrap: anywhere; }}
svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>dropsleuth investigation: {escape(where_of(report))}</h1>
<p class="headline">{escape(headline(report))}</p>
<ul>{subject}</ul>
<h2>Timeline</h2>
{chart}
<h2>Findings</h2>
{findings}
<h2>Steps</h2>
<table><tr><th>step</th><th>status</th><th>time</th><th>reason</th></tr>{steps}</table>
<h2>What was checked</h2>
<ul>{checked}</ul>
<p><small>Report {escape(report.report_id)}, schema {escape(report.schema_version)},
{escape(report.created_at.isoformat())}</small></p>
</body></html>
"""


def _evidence_items_html(items: tuple[Evidence, ...]) -> str:
    return "".join(
        f"<li><em>{escape(e.kind)}</em>: {escape(e.summary)}"
        + (f" (<code>{escape(', '.join(e.resource_ids))}</code>)" if e.resource_ids else "")
        + "</li>"
        for e in items
    )


def _finding_html(index: int, finding: Finding) -> str:
    color = _SEVERITY_COLOR[finding.severity]
    evidence = _evidence_items_html(finding.evidence)
    against = _evidence_items_html(finding.evidence_against)
    fix = ""
    if finding.remediation:
        steps = "".join(f"<li>{escape(s)}</li>" for s in finding.remediation.steps)
        commands = (
            f"<pre>{escape(chr(10).join(finding.remediation.commands))}</pre>"
            if finding.remediation.commands
            else ""
        )
        fix = f"<p><strong>Fix:</strong> {escape(finding.remediation.summary)}</p><ol>{steps}</ol>{commands}"
    link = escape(runbook_link(finding.code), quote=True)
    runbook = f"<p class='runbook'>Runbook: <a href=\"{link}\">{link}</a></p>"
    return (
        f"<div class='finding'><h3>{index}. <span class='sev' style='background:{color}'>"
        f"{finding.severity.value}</span> <code>{finding.code.value}</code> "
        f"<small>confidence {finding.confidence:.0%}</small></h3>"
        f"<p><strong>{escape(finding.title)}</strong></p>"
        f"<p class='detail'>{escape(finding.detail)}</p>"
        + (f"<ul>{evidence}</ul>" if evidence else "")
        + (f"<p><strong>Evidence against:</strong></p><ul>{against}</ul>" if against else "")
        + fix
        + runbook
        + "</div>"
    )


def summary_text(report: Report, *, link: str | None = None) -> str:
    """The SNS message: what, where, the fix, the link (well under SNS's 256 KB)."""
    lines = [headline(report), "", f"Where: {where_of(report)}"]
    window = report.subject.get("window") or {}
    lines.append(f"Window: {window.get('start', '?')} → {window.get('end', '?')}")
    top = report.top_finding
    if top is not None and top.remediation is not None:
        lines += ["", f"Fix: {top.remediation.summary}"]
        lines += [f"  {n}. {step}" for n, step in enumerate(top.remediation.steps[:4], 1)]
        lines += [f"  $ {command}" for command in top.remediation.commands[:2]]
    if top is not None and top.severity is not Severity.INFO:
        lines += ["", f"Runbook: {runbook_link(top.code)}"]
    others = [f for f in report.findings[1:] if f.severity is not Severity.INFO][:4]
    if others:
        lines += ["", "Also:"] + [f"  - {f.code.value}: {f.title}" for f in others]
    failed = [s for s in report.steps if s.status is StepStatus.FAILED]
    if failed:
        lines += ["", "Not checked (step failed): " + ", ".join(f"{s.name} ({s.reason})" for s in failed)]
    if link:
        lines += ["", f"Report: {link}"]
    return "\n".join(lines)


def summary_subject(report: Report) -> str:
    """An SNS subject: ASCII-safe, at most 100 characters (SNS's limit)."""
    top = report.top_finding
    what = top.code.value if top and top.severity is not Severity.INFO else "no problem found"
    site = report.subject.get("site") or report.subject.get("vpc_id") or "?"
    text = f"dropsleuth: {what} at {site}"
    return text.encode("ascii", "replace").decode()[:100]


def report_views(report: Report) -> dict[str, Any]:
    """Every rendering by file extension: ``json``, ``md``, ``html``."""
    return {"json": report.to_json(), "md": to_markdown(report), "html": to_html(report)}
