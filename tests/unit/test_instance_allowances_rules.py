"""The CloudWatch agent's allowance counters: running totals to growth, then graded (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dropsleuth.model import FindingCode, Severity
from dropsleuth.rules.instance_allowances import (
    ALLOWANCE_METRICS,
    AllowanceSeries,
    InstanceAllowances,
    assess_instance_allowances,
    counter_increases,
)

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ONSET = START + timedelta(minutes=40)


def at(minute: int) -> datetime:
    return START + timedelta(minutes=minute)


def totals(before: float, during: float, start: float = 0.0) -> list[tuple[datetime, float]]:
    points, total = [], start
    for minute in range(90):
        total += before if minute < 40 else during
        points.append((at(minute), total))
    return points


def test_the_agent_publishes_the_five_allowance_counters_with_its_prefix() -> None:
    assert set(ALLOWANCE_METRICS) == {
        "ethtool_bw_in_allowance_exceeded",
        "ethtool_bw_out_allowance_exceeded",
        "ethtool_pps_allowance_exceeded",
        "ethtool_conntrack_allowance_exceeded",
        "ethtool_linklocal_allowance_exceeded",
    }


def test_running_totals_become_growth_and_a_restart_counts_from_zero() -> None:
    points = [(at(0), 100.0), (at(1), 100.0), (at(2), 130.0), (at(3), 5.0), (at(4), 9.0)]
    assert counter_increases(points) == ((at(1), 0.0), (at(2), 30.0), (at(3), 5.0), (at(4), 4.0))
    assert counter_increases([(at(0), 7.0)]) == ()
    # Order of arrival does not matter.
    assert counter_increases(list(reversed(points))) == counter_increases(points)


def instance(name: str, *series: AllowanceSeries, unread: str = "") -> InstanceAllowances:
    return InstanceAllowances(name, series, unread=unread)


def pps(points: list[tuple[datetime, float]], interface: str = "eth0") -> AllowanceSeries:
    return AllowanceSeries(
        "ethtool_pps_allowance_exceeded", {"InstanceId": "i-1", "interface": interface}, points
    )


def test_growth_that_began_at_the_onset_is_high_a_steady_one_warning_and_none_clean() -> None:
    def graded(points: list[tuple[datetime, float]], onset: datetime | None = ONSET) -> list[Severity]:
        return [
            f.severity for f in assess_instance_allowances([instance("i-1", pps(points))], onset).findings
        ]

    # A large standing total is history, not a symptom: only growth counts.
    assert graded(totals(0, 50, start=1_000_000)) == [Severity.HIGH]
    assert graded(totals(40, 50)) == [Severity.WARNING]
    assert graded(totals(0, 50), onset=None) == [Severity.WARNING]
    assert graded(totals(0, 0, start=1_000_000)) == []


def test_one_finding_for_every_instance_that_grew_and_a_line_for_the_others() -> None:
    result = assess_instance_allowances(
        [
            instance("i-1", pps(totals(0, 50))),
            instance("i-2", pps(totals(0, 20), "eth1")),
            instance("i-3", pps(totals(0, 0))),
            instance("i-4"),
            instance("i-6"),
            instance("i-5", unread="ListMetrics refused (access_denied: no)"),
        ],
        ONSET,
    )
    (finding,) = result.findings
    assert finding.code is FindingCode.ENA_ALLOWANCE_EXCEEDED
    assert finding.resource_ids == ("i-1", "i-2")
    assert [e.summary.split(":")[0] for e in finding.evidence] == [
        "i-1 eth0 (CloudWatch agent)",
        "i-2 eth1 (CloudWatch agent)",
    ]
    assert finding.remediation is not None
    assert result.checked == [
        (
            "EC2 network allowances of i-3 (CloudWatch agent): checked, clean — 1 "
            "ethtool_*_allowance_exceeded counters did not grow on eth0"
        ),
        "EC2 network allowances of i-5 (CloudWatch agent): unknown — ListMetrics refused (access_denied: no)",
        # The instances without the agent's metrics share one line.
        (
            "EC2 network allowances of i-4, i-6 (CloudWatch agent): unknown — the CloudWatch agent's "
            "ethtool plugin does not publish for i-4, i-6 (no ethtool_*_allowance_exceeded in CWAgent in "
            "the window)"
        ),
    ]
