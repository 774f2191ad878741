"""Causes beyond PMTUD, from the metrics step's ``other_drops`` data (pure: no I/O, no clock).

The metrics step (``steps/metrics.py``) reads the series into ``StepOutcome.data["other_drops"]``::

    {"hosts": {HOST: {METRIC: [{"at": iso, "value": n}, ...]}},
     "firewall_rules": {HOST: {RULE: [{"at", "value"}]}},   # HostFirewallRuleDrops by its Rule dimension
     "qdiscs": {HOST: {QDISC: [{"at", "value"}]}},          # QdiscDropsByQdisc by its Qdisc dimension
     "aws_resources": [{"namespace", "resource_id"}],   # every AWS resource read, data or not
     "aws": [{"namespace", "resource_id", "metric", "points": [{"at", "value"}]}]}

and ``assess_other_drops`` turns them into findings (for the ranking) and checked lines (for the report).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from dropsleuth.model import FindingCode
from dropsleuth.rules.aws_drops import ResourceSeries, assess_aws_drops
from dropsleuth.rules.host_drops import Assessment, HostSeries, assess_host_drops
from dropsleuth.rules.onset import Point

DATA_KEY = "other_drops"

ROOT_CAUSES = frozenset(
    {
        FindingCode.LISTEN_QUEUE_OVERFLOW,
        FindingCode.RECEIVE_BUFFER_PRUNING,
        FindingCode.NIC_DROPS,
        FindingCode.CONNTRACK_TABLE_FULL,
        FindingCode.REVERSE_PATH_FILTER_DROPS,
        FindingCode.ENA_ALLOWANCE_EXCEEDED,
        FindingCode.NAT_PORT_EXHAUSTION,
        FindingCode.LB_RESETS,
        FindingCode.HOST_FIREWALL_DROPS,
        FindingCode.QDISC_DROPS,
    }
)
"""The causes that can explain an outage by themselves (retransmissions and idle timeouts cannot)."""


def _points(raw: object) -> tuple[Point, ...]:
    points: list[Point] = []
    for item in raw if isinstance(raw, list | tuple) else ():
        if not isinstance(item, Mapping):
            continue
        at, value = item.get("at"), item.get("value")
        when = at if isinstance(at, datetime) else datetime.fromisoformat(at) if isinstance(at, str) else None
        if when is not None and isinstance(value, int | float):
            points.append((when, float(value)))
    return tuple(sorted(points))


def _series_by_name(raw: object) -> dict[str, tuple[Point, ...]]:
    return {str(r): _points(p) for r, p in raw.items()} if isinstance(raw, Mapping) else {}


def assess_other_drops(data: object, onset: datetime | None) -> Assessment:
    """Findings and checked lines for every cause beyond PMTUD (empty when the step read nothing)."""
    if not isinstance(data, Mapping):
        return Assessment()
    hosts_raw = data.get("hosts")
    rules_raw, qdiscs_raw = data.get("firewall_rules"), data.get("qdiscs")
    rules = rules_raw if isinstance(rules_raw, Mapping) else {}
    qdiscs = qdiscs_raw if isinstance(qdiscs_raw, Mapping) else {}
    hosts = [
        HostSeries(
            str(host),
            {str(m): _points(p) for m, p in metrics.items()},
            firewall_rules=_series_by_name(rules.get(host)),
            qdiscs=_series_by_name(qdiscs.get(host)),
        )
        for host, metrics in sorted(hosts_raw.items() if isinstance(hosts_raw, Mapping) else ())
        if isinstance(metrics, Mapping)
    ]
    aws_raw = data.get("aws")
    series = [
        ResourceSeries(
            str(s.get("namespace")), str(s.get("resource_id")), str(s.get("metric")), _points(s.get("points"))
        )
        for s in (aws_raw if isinstance(aws_raw, list) else ())
        if isinstance(s, Mapping)
    ]
    resources_raw = data.get("aws_resources")
    resources = [
        (str(r.get("namespace")), str(r.get("resource_id")))
        for r in (resources_raw if isinstance(resources_raw, list) else ())
        if isinstance(r, Mapping)
    ]
    host_part = assess_host_drops(hosts, onset)
    aws_part = assess_aws_drops(series, onset, resources=resources)
    return Assessment(
        findings=[*host_part.findings, *aws_part.findings],
        checked=[*host_part.checked, *aws_part.checked],
    )
