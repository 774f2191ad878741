"""The report's views: JSON round trip, Markdown, HTML with its SVG timeline chart, the SNS summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dropsleuth.context import StepOutcome
from dropsleuth.investigate import StepRecord, build_report
from dropsleuth.model import FindingCode, Report, StepStatus
from dropsleuth.report.chart import timeline_svg
from dropsleuth.report.render import headline, summary_subject, summary_text, to_html, to_markdown
from dropsleuth.sites import Site
from dropsleuth.steps import StepSpec
from tests.unit.test_ranking_rules import context, incident_outcomes, minute

SVG = "{http://www.w3.org/2000/svg}"


def _spec(name: str) -> StepSpec:
    def run(*_: object) -> StepOutcome:
        return StepOutcome()

    return StepSpec(name=name, checks=f"what {name} checks", run=run)


def incident_report() -> Report:
    site = Site(name="plant-7", cidrs=("10.20.0.0/24",), vpc_id="vpc-0abc")
    ctx = context(
        site=site, alarm={"alarm_name": "plant-7-upload", "state": "ALARM", "changed_at": minute(33)}
    )
    records = [StepRecord(_spec(name), StepStatus.OK, "", 0.1, o) for name, o in incident_outcomes().items()]
    records.append(
        StepRecord(_spec("metrics"), StepStatus.FAILED, "throttled Throttling: Rate exceeded", 0.2)
    )
    records.append(StepRecord(_spec("reachability"), StepStatus.SKIPPED, "not available here", 0.0))
    return build_report(ctx, records)


def test_json_round_trips_with_its_schema_version() -> None:
    report = incident_report()
    again = Report.from_json(report.to_json())
    assert again == report
    assert again.schema_version == report.schema_version
    assert again.top_finding is not None
    assert again.top_finding.code is FindingCode.PMTUD_BLACKHOLE


def test_report_records_every_step_and_what_was_not_checked() -> None:
    report = incident_report()
    statuses = {s.name: s.status for s in report.steps}
    assert statuses["metrics"] is StepStatus.FAILED
    assert statuses["reachability"] is StepStatus.SKIPPED
    assert any(c.startswith("NOT checked (metrics failed)") for c in report.checked)
    assert FindingCode.STEP_FAILED in report.codes()


def test_markdown_has_the_headline_the_fix_and_the_steps() -> None:
    text = to_markdown(incident_report())
    assert "PMTUD_BLACKHOLE" in text.splitlines()[2]
    assert "create-network-acl-entry" in text
    assert "| metrics | failed |" in text
    assert "## What was checked" in text


def test_html_embeds_a_well_formed_chart_with_series_and_markers() -> None:
    report = incident_report()
    html = to_html(report)
    svg_text = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    svg = ET.fromstring(svg_text)
    lines = svg.findall(f".//{SVG}polyline")
    assert len(lines) == 1  # throughput (no host frag-needed series in this report)
    assert len(lines[0].get("points", "").split()) == len(report.timeline["throughput_mbps"])
    labels = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    for marker in ("onset", "alarm", "recovery", "ModifyInterfaceMtu"):
        assert marker in labels
    bars = svg.findall(f".//{SVG}g/{SVG}rect")
    assert len(bars) == len(report.timeline["icmp_rejects"])


def test_chart_draws_frag_needed_on_the_right_axis_and_a_mark_per_flap() -> None:
    flaps = [minute(m) for m in (33, 41, 52)]
    timeline = {
        "throughput_mbps": [[minute(m), 42.0 if m < 30 else 2.0] for m in range(60)],
        "frag_needed": [[minute(m), float(m % 7)] for m in range(60)],
        "markers": [{"kind": "flap", "at": at, "label": "tunnel down"} for at in flaps],
    }
    svg = ET.fromstring(timeline_svg(timeline))
    lines = svg.findall(f".//{SVG}polyline")
    # frag-needed is told apart from throughput by its dash, not only by its colour
    (frag,) = [line for line in lines if line.get("stroke-dasharray")]
    (throughput,) = [line for line in lines if not line.get("stroke-dasharray")]
    assert len(frag.get("points", "").split()) == len(throughput.get("points", "").split()) == 60
    frag_y = [float(p.split(",")[1]) for p in frag.get("points", "").split()]
    assert frag_y[6] < frag_y[0]  # 6 messages in minute 6 sit higher than 0 in minute 0 (y grows down)
    flap_marks = [t.text or "" for t in svg.iter(f"{SVG}title") if (t.text or "").startswith("tunnel down")]
    assert flap_marks == [f"tunnel down {at[11:16]}" for at in flaps]
    legend = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    assert "frag-needed" in legend
    assert "flap" in legend.lower() or "tunnel" in legend.lower()
    # A flap marker sits at its minute: the marks keep the order and the spacing of the flaps.
    xs = [float(path.get("d", "M0").split(",")[0][1:]) + 5 for path in svg.iter(f"{SVG}path")]
    assert xs == sorted(xs)
    assert xs[2] - xs[1] > xs[1] - xs[0]  # 11 minutes apart vs 8


def test_chart_places_the_collapse_lower_than_the_baseline() -> None:
    svg = ET.fromstring(timeline_svg(incident_report().timeline))
    points = [tuple(map(float, p.split(","))) for p in svg.find(f".//{SVG}polyline").get("points").split()]  # type: ignore[union-attr]
    # SVG y grows downwards: minutes inside the collapse sit lower on the page than before it.
    assert points[40][1] > points[10][1]
    assert points[80][1] < points[40][1]


def test_chart_without_series_says_so() -> None:
    svg = timeline_svg({"markers": []})
    assert "No time series" in svg
    ET.fromstring(svg)


def test_chart_survives_garbage() -> None:
    ET.fromstring(timeline_svg({"throughput_mbps": [["x", 1], [minute(1)], None], "markers": [{"at": 3}]}))
    one_point = timeline_svg({"throughput_mbps": [[minute(1), 5.0]]})
    ET.fromstring(one_point)


def test_summary_has_what_where_fix_and_link() -> None:
    report = incident_report()
    text = summary_text(report, link="https://example.invalid/report.html")
    assert text.startswith("PMTUD_BLACKHOLE")
    assert "site plant-7" in text
    assert "Fix:" in text
    assert "https://example.invalid/report.html" in text
    assert "metrics (throttled" in text
    subject = summary_subject(report)
    assert len(subject) <= 100
    assert subject.isascii()


def test_headline_of_a_healthy_report_says_no_problem() -> None:
    ctx = context()
    report = build_report(ctx, [StepRecord(_spec("path_mtu"), StepStatus.OK, "", 0.1, StepOutcome())])
    assert headline(report).startswith("No problem found")
    assert report.findings == ()


def test_report_sets_the_agents_measured_path_mtu_beside_the_model() -> None:
    measured = StepOutcome(data={"path_mtu_by_target": {"10.40.1.10": [{"at": minute(5), "value": 1300.0}]}})
    modelled = StepOutcome(data={"path_mtu": 1406})
    records = [
        StepRecord(_spec("metrics"), StepStatus.OK, "", 0.1, measured),
        StepRecord(_spec("path_mtu"), StepStatus.OK, "", 0.1, modelled),
    ]
    report = build_report(context(), records)
    line = "host agent measured path MTU 1300 toward 10.40.1.10 (modelled: 1406); below"
    assert any(c.startswith(line) for c in report.checked)
