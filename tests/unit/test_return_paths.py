"""Asymmetric return paths from the flow logs: replies REJECTed on an interface that never saw the request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dropsleuth.aws.errors import AccessDeniedError
from dropsleuth.context import Endpoint, InvestigationContext, StepOutcome, Window
from dropsleuth.model import FindingCode, Severity
from dropsleuth.queries import QueryResult
from dropsleuth.rules import ranking
from dropsleuth.rules.return_paths import MIN_UNLOCATED, assess_return_paths, checked_line
from dropsleuth.steps.queries import outcome_of

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ONSET = T0 + timedelta(minutes=40)
PEER = "10.30.0.8"
APPLIANCE_B, INSTANCE_ENI = "eni-0ccc00000000000b1", "eni-0ccc0000000000001"


def epoch(minute: int) -> int:
    return int((T0 + timedelta(minutes=minute)).timestamp())


def row(
    interface_id: str = APPLIANCE_B,
    *,
    connections: int,
    requested_here: int = 0,
    elsewhere: int = 0,
    request_interface: str | None = None,
    first_minute: int = 41,
    last_minute: int = 60,
) -> dict[str, Any]:
    orphaned = connections - requested_here
    return {
        "interface_id": interface_id,
        "peer_addr": PEER,
        "peer_port": 5432,
        "rejected_connections": connections,
        "rejected_records": connections * 2,
        "rejected_packets": connections * 4,
        "requested_here": requested_here,
        "orphaned": orphaned,
        "requested_elsewhere": elsewhere,
        "request_interface": request_interface,
        "first_orphaned": epoch(first_minute) if orphaned else None,
        "last_orphaned": epoch(last_minute) if orphaned else None,
    }


def test_replies_whose_requests_left_through_another_interface_since_the_onset_are_high() -> None:
    rows = [row(connections=120, elsewhere=118, request_interface=INSTANCE_ENI)]
    (finding,) = assess_return_paths(rows, ONSET).findings
    assert finding.code is FindingCode.ASYMMETRIC_RETURN_PATH
    assert finding.severity is Severity.HIGH
    assert finding.resource_ids == (APPLIANCE_B, INSTANCE_ENI)
    assert f"{PEER}:5432" in finding.title
    assert "120 connection(s)" in finding.title
    assert "none before the onset; from 09:41 UTC to 10:00 UTC" in finding.title
    assert f"left through {INSTANCE_ENI} (118 of 120 connections seen there)" in finding.detail
    (evidence,) = finding.evidence
    assert evidence.data["query"] == "rejected_replies"
    assert evidence.data["rows"][0]["interface_id"] == APPLIANCE_B
    assert finding.remediation is not None
    assert "symmetric" in finding.remediation.summary
    assert any("Stop-gap" in step and "Caution" in step for step in finding.remediation.steps)
    assert "never saw the request" in checked_line(rows)


def test_replies_already_rejected_before_the_onset_or_without_one_are_a_warning() -> None:
    rows = [row(connections=50, elsewhere=50, request_interface=INSTANCE_ENI, first_minute=5)]
    (before,) = assess_return_paths(rows, ONSET).findings
    assert before.severity is Severity.WARNING
    assert "already before the onset (from 09:05 UTC)" in before.title
    (no_onset,) = assess_return_paths(rows, None).findings
    assert no_onset.severity is Severity.WARNING
    assert "no onset to compare with" in no_onset.title
    assert (
        before.confidence
        < assess_return_paths([{**rows[0], "first_orphaned": epoch(41)}], ONSET).findings[0].confidence
    )


def test_replies_rejected_where_the_request_went_out_are_the_nacl_case_not_a_path() -> None:
    # A NACL without the return range: every REJECTed reply's request was recorded on the same interface.
    rows = [row(INSTANCE_ENI, connections=300, requested_here=300)]
    assert assess_return_paths(rows, ONSET).findings == []
    line = checked_line(rows)
    assert line.startswith("return paths in the flow logs: checked, clean")
    assert "300 on the interface that sent the request" in line


def test_a_stray_reply_with_no_request_anywhere_is_no_path_but_a_few_are() -> None:
    # One SYN-ACK out of nowhere can be backscatter; MIN_UNLOCATED of them toward one interface are a path
    # the flow logs do not cover.
    stray = [row(connections=MIN_UNLOCATED - 1)]
    assert assess_return_paths(stray, ONSET).findings == []
    assert "checked, clean" in checked_line(stray)
    (finding,) = assess_return_paths([row(connections=MIN_UNLOCATED)], ONSET).findings
    assert "no record of the window shows where the requests left" in finding.detail
    # A single reply whose request is seen on another interface is the asymmetry itself.
    (single,) = assess_return_paths(
        [row(connections=1, elsewhere=1, request_interface=INSTANCE_ENI)], ONSET
    ).findings
    assert single.code is FindingCode.ASYMMETRIC_RETURN_PATH


def test_no_rejected_reply_is_checked_clean_and_a_failed_query_is_unknown() -> None:
    assert checked_line([]) == (
        "return paths in the flow logs: checked, clean — no interface REJECTed a connection reply (SYN-ACK) "
        "in the window"
    )
    ran = outcome_of(
        {"rejected_replies": QueryResult("rejected_replies", (), [], 0, "duckdb")}, {}, skipped=[]
    )
    assert any(line.startswith("return paths in the flow logs: checked, clean") for line in ran.checked)
    failed = outcome_of(
        {}, {"rejected_replies": AccessDeniedError("not authorized", code="AccessDenied")}, skipped=[]
    )
    assert any(
        line.startswith("return paths in the flow logs: unknown — query rejected_replies did not run")
        for line in failed.checked
    )


def context() -> InvestigationContext:
    return InvestigationContext(
        vpc_id="vpc-0abc",
        source=Endpoint(cidr="10.20.1.0/24"),
        destination=Endpoint(cidr=f"{PEER}/32"),
        window=Window(start=T0, end=T0 + timedelta(minutes=90)),
        port=5432,
    )


def test_the_ranking_folds_the_same_rejects_into_the_path_instead_of_reporting_them_twice() -> None:
    # Given the REJECTs of the same replies in top_rejected_flows (they would make a FLOW_REJECTED) and the
    # path's rows, both since the onset.
    rejects = [
        {"interface_id": APPLIANCE_B, "srcaddr": PEER, "dstaddr": "10.20.1.50", "srcport": 5432,
         "dstport": 45000 + n, "protocol": 6, "records": 2, "rejected_packets": 4, "packets": 4}
        for n in range(5)
    ]  # fmt: skip

    def outcomes(top_rejected_flows: list[dict[str, Any]]) -> dict[str, StepOutcome]:
        return {
            "metrics": StepOutcome(data={"onset": ONSET.isoformat()}),
            "flow_log_queries": StepOutcome(
                data={
                    "top_rejected_flows": top_rejected_flows,
                    "rejected_replies": [row(connections=5, elsewhere=5, request_interface=INSTANCE_ENI)],
                }
            ),
        }

    findings = ranking.rank(context(), outcomes(rejects))
    # Then: one root cause, the path, first, with the REJECTs as its evidence; no FLOW_REJECTED beside it.
    assert findings[0].code is FindingCode.ASYMMETRIC_RETURN_PATH
    assert findings[0].severity is Severity.HIGH
    assert FindingCode.FLOW_REJECTED not in {f.code for f in findings}
    assert any(e.data.get("query") == "top_rejected_flows" for e in findings[0].evidence)
    # A REJECT the path does not explain (another interface) keeps FLOW_REJECTED as it is.
    other = {**rejects[0], "interface_id": "eni-0ddd0000000000009"}
    codes = {f.code for f in ranking.rank(context(), outcomes([*rejects, other]))}
    assert {FindingCode.FLOW_REJECTED, FindingCode.ASYMMETRIC_RETURN_PATH} <= codes
