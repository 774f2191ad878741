"""Unanswered and reset connection attempts from the flow logs: graded at the onset, folded into the cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dropsleuth.context import Endpoint, InvestigationContext, StepOutcome, Window
from dropsleuth.model import FindingCode, Severity
from dropsleuth.rules import ranking
from dropsleuth.rules.connection_attempts import (
    MIN_REPEATED,
    assess_connection_attempts,
    checked_line,
)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ONSET = T0 + timedelta(minutes=40)
REMOTE = "203.0.113.80"


def row(dst: str = REMOTE, *, attempts: int, unanswered: int = 0, resets: int = 0,
        first_minute: int | None = None, last_minute: int | None = None) -> dict[str, Any]:  # fmt: skip
    def epoch(m: int | None) -> int | None:
        return None if m is None else int((T0 + timedelta(minutes=m)).timestamp())

    return {
        "dstaddr": dst,
        "dstport": 443,
        "attempts": attempts,
        "unanswered": unanswered,
        "unanswered_syn_records": unanswered * 2,
        "reset_attempts": resets,
        "unanswered_share": unanswered / attempts,
        "reset_share": resets / attempts,
        "first_unanswered": epoch(first_minute if unanswered else None),
        "last_unanswered": epoch(last_minute if unanswered else None),
    }


def test_unanswered_attempts_that_began_at_the_onset_are_high_with_the_destination_and_numbers() -> None:
    rows = [row(attempts=3000, unanswered=1800, first_minute=40, last_minute=89), row("10.0.0.5", attempts=9,
            unanswered=2, first_minute=3, last_minute=70)]  # fmt: skip
    (finding,) = assess_connection_attempts(rows, ONSET).findings
    assert finding.code is FindingCode.SYNS_UNANSWERED
    assert finding.severity is Severity.HIGH
    assert f"{REMOTE}:443" in finding.title
    assert "1,800 of 3,000" in finding.title
    assert "none before the onset" in finding.title
    # Two SYN records per attempt: the clients kept retransmitting across aggregation intervals.
    assert "2.0 SYN records per unanswered attempt" in finding.detail
    # Only the repeated destination is listed; the stray attempts elsewhere are not.
    (evidence,) = finding.evidence
    assert [r["dstaddr"] for r in evidence.data["rows"]] == [REMOTE]
    assert finding.remediation is not None


def test_the_same_pattern_already_there_before_the_onset_or_with_no_onset_is_a_warning() -> None:
    rows = [row(attempts=3000, unanswered=1800, first_minute=2, last_minute=89)]
    (before,) = assess_connection_attempts(rows, ONSET).findings
    assert before.severity is Severity.WARNING
    assert "already before the onset" in before.title
    (no_onset,) = assess_connection_attempts(rows, None).findings
    assert no_onset.severity is Severity.WARNING
    assert "no onset" in no_onset.title


def test_a_few_unanswered_attempts_or_a_small_share_are_no_finding_and_say_checked_clean() -> None:
    rows = [
        row(attempts=MIN_REPEATED - 1, unanswered=MIN_REPEATED - 1, first_minute=41, last_minute=50),
        # Many, but a small share of a busy destination's attempts: ordinary loss.
        row("198.51.100.7", attempts=1000, unanswered=30, first_minute=41, last_minute=80),
    ]
    assert assess_connection_attempts(rows, ONSET).findings == []
    rows = [r | {"all_attempts": 1019 + 400, "all_destinations": 7} for r in rows]
    line = checked_line(rows)
    assert line.startswith("connection attempts in the flow logs: checked, clean — 1,419 attempts toward 7")
    assert "at most 30 unanswered" in line


def test_no_attempt_at_all_is_unknown_not_clean() -> None:
    assert checked_line([]).startswith("connection attempts in the flow logs: unknown — the source made no")


def test_reset_heavy_destinations_are_a_warning_at_most() -> None:
    rows = [row(attempts=400, resets=300)]
    (finding,) = assess_connection_attempts(rows, ONSET).findings
    assert finding.code is FindingCode.CONNECTION_RESETS
    assert finding.severity is Severity.WARNING
    assert "300 of 400" in finding.title
    assert "resetting attempts" in checked_line(rows)


def context(destination: str) -> InvestigationContext:
    return InvestigationContext(
        vpc_id="vpc-0abc",
        source=Endpoint(cidr="10.90.2.0/24"),
        destination=Endpoint(cidr=destination),
        window=Window(start=T0, end=T0 + timedelta(minutes=90)),
        port=443,
    )


def nat_outcomes(*, port_errors_before: float, syn_first_minute: int) -> dict[str, StepOutcome]:
    nat = "nat-0a1b2c3d4e5f60718"
    points = [
        {"at": (T0 + timedelta(minutes=m)).isoformat(), "value": port_errors_before if m < 40 else 400.0}
        for m in range(90)
    ]
    other_drops = {
        "hosts": {},
        "aws_resources": [{"namespace": "AWS/NATGateway", "resource_id": nat}],
        "aws": [
            {"namespace": "AWS/NATGateway", "resource_id": nat, "metric": "ErrorPortAllocation",
             "points": points},
            {"namespace": "AWS/NATGateway", "resource_id": nat, "metric": "IdleTimeoutCount",
             "points": [{"at": p["at"], "value": 0.0} for p in points]},
        ],
    }  # fmt: skip
    rows = [row(attempts=3000, unanswered=1800, first_minute=syn_first_minute, last_minute=89)]
    return {
        "metrics": StepOutcome(data={"onset": ONSET.isoformat(), "other_drops": other_drops}),
        "flow_log_queries": StepOutcome(data={"syn_rst_by_destination": rows}),
    }


def test_nat_port_exhaustion_toward_the_same_destination_takes_the_pattern_as_evidence_once() -> None:
    # Given NAT port errors and unanswered attempts, both from the onset, toward the investigated destination.
    outcomes = nat_outcomes(port_errors_before=0.0, syn_first_minute=40)
    alone = list(ranking.rank(context("10.99.0.0/16"), outcomes))
    # When the pattern's destination is elsewhere, it stays a finding of its own beside the cause.
    assert {FindingCode.NAT_PORT_EXHAUSTION, FindingCode.SYNS_UNANSWERED} <= {f.code for f in alone}
    # When it is the investigated destination: one finding, the cause, first, with the rows as evidence.
    findings = ranking.rank(context(f"{REMOTE}/32"), outcomes)
    assert findings[0].code is FindingCode.NAT_PORT_EXHAUSTION
    assert findings[0].severity is Severity.HIGH
    assert FindingCode.SYNS_UNANSWERED not in {f.code for f in findings}
    flow_rows = [e for e in findings[0].evidence if e.data.get("query") == "syn_rst_by_destination"]
    assert flow_rows
    assert flow_rows[0].summary.startswith("corroborated by the flow logs")
    nat_alone = next(f for f in alone if f.code is FindingCode.NAT_PORT_EXHAUSTION)
    assert findings[0].confidence > nat_alone.confidence


def test_nat_errors_at_their_usual_rate_do_not_absorb_a_pattern_that_is_new() -> None:
    # The NAT counts as before the onset (background, warning): it explains nothing new, so the attempts
    # that began at the onset stay a finding of their own.
    outcomes = nat_outcomes(port_errors_before=400.0, syn_first_minute=40)
    findings = ranking.rank(context(f"{REMOTE}/32"), outcomes)
    nat = next(f for f in findings if f.code is FindingCode.NAT_PORT_EXHAUSTION)
    assert nat.severity is Severity.WARNING
    syns = next(f for f in findings if f.code is FindingCode.SYNS_UNANSWERED)
    assert syns.severity is Severity.HIGH


def test_a_background_pattern_folds_into_the_background_cause() -> None:
    # Both at their usual rate since before the onset: one warning, the NAT's, with the rows as evidence.
    outcomes = nat_outcomes(port_errors_before=400.0, syn_first_minute=2)
    findings = ranking.rank(context(f"{REMOTE}/32"), outcomes)
    assert FindingCode.SYNS_UNANSWERED not in {f.code for f in findings}
    nat = next(f for f in findings if f.code is FindingCode.NAT_PORT_EXHAUSTION)
    assert nat.severity is Severity.WARNING
    assert any(e.data.get("query") == "syn_rst_by_destination" for e in nat.evidence)
