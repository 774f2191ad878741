"""Causes beyond PMTUD, from the metrics step's ``other_drops`` data (pure: no I/O, no clock).

The metrics step (``steps/metrics.py``) reads the series into ``StepOutcome.data["other_drops"]``::

    {"hosts": {HOST: {METRIC: [{"at": iso, "value": n}, ...]}},
     "firewall_rules": {HOST: {RULE: [{"at", "value"}]}},   # HostFirewallRuleDrops by its Rule dimension
     "qdiscs": {HOST: {QDISC: [{"at", "value"}]}},          # QdiscDropsByQdisc by its Qdisc dimension
     "aws_resources": [{"namespace", "resource_id"}],   # every AWS resource read, data or not
     "aws": [{"namespace", "resource_id", "metric", "points": [{"at", "value"}]}],
     "transit_gateways": [                                # each transit gateway on the path
         {"transit_gateway_id": "tgw-…",
          "lookups": [{"transit_gateway_id", "attachment_id", "attachment_resource", "route_table_id",
                       "address", "direction", "route": {SearchTransitGatewayRoutes record} | None,
                       "target_attachment_id", "fix_cidr"}],   # rules/transit_gateway.RouteLookup
          "drops": {ATTACHMENT_ID: {"PacketDropCountBlackhole" | "PacketDropCountNoRoute": [points]}},
          "unread": ""}],                                 # why the routes were not read ("" when they were)
     "instance_allowances": [                             # the instances behind the path's ends
         {"instance_id": "i-…", "namespace": "CWAgent",
          "unread": "",                                   # why ListMetrics failed ("" when it answered)
          "series": [{"metric": "ethtool_…_allowance_exceeded", "dimensions": {NAME: VALUE},
                      "points": [{"at", "value"}]}]}],   # the CloudWatch agent's running totals
     "connection_tracking": {                             # the destination's ENIs (describe records)
         "client_keepalive_s": n | None,                  # the site registry's
         "interfaces": [{"eni_id", "instance_id", "configuration": {"TcpEstablishedTimeout", …} | None}]},
     "idle_timeouts": {                                   # the clients' keepalive against the path's timeouts
         "client_keepalive_s": n | None, "nat_gateways": ["nat-…"], "load_balancers": ["net/…"],
         "unread": "",
         "listeners": [{"load_balancer", "listener_arn", "protocol", "port", "idle_timeout_s"}]}}

and ``assess_other_drops`` turns them into findings (for the ranking) and checked lines (for the report).
A series with no point in the window is left out (not published: "unknown", never "clean").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from dropsleuth.model import FindingCode
from dropsleuth.rules.aws_drops import ResourceSeries, assess_aws_drops
from dropsleuth.rules.connection_tracking import assess_connection_tracking, tracked_interfaces
from dropsleuth.rules.host_drops import Assessment, HostSeries, assess_host_drops
from dropsleuth.rules.idle_timeouts import ListenerTimeout, assess_idle_timeouts
from dropsleuth.rules.instance_allowances import (
    AllowanceSeries,
    InstanceAllowances,
    assess_instance_allowances,
)
from dropsleuth.rules.onset import Point
from dropsleuth.rules.transit_gateway import RouteLookup, TransitGatewayCheck, assess_transit_gateways

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
        FindingCode.TRANSIT_GATEWAY_DROPS,
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
    parts = (
        assess_host_drops(hosts, onset),
        assess_aws_drops(series, onset, resources=resources),
        assess_transit_gateways(_transit_gateway_checks(data.get("transit_gateways")), onset),
        assess_instance_allowances(_instance_allowances(data.get("instance_allowances")), onset),
        _connection_tracking(data.get("connection_tracking")),
        _idle_timeouts(data.get("idle_timeouts")),
    )
    return Assessment(
        findings=[f for part in parts for f in part.findings],
        checked=[line for part in parts for line in part.checked],
    )


def _transit_gateway_checks(raw: object) -> list[TransitGatewayCheck]:
    checks = []
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, Mapping):
            continue
        drops = item.get("drops")
        checks.append(
            TransitGatewayCheck(
                transit_gateway_id=str(item.get("transit_gateway_id")),
                lookups=tuple(
                    RouteLookup.from_data(lookup)
                    for lookup in item.get("lookups") or ()
                    if isinstance(lookup, Mapping)
                ),
                drops={
                    str(attachment): {str(m): _points(p) for m, p in metrics.items()}
                    for attachment, metrics in (drops.items() if isinstance(drops, Mapping) else ())
                    if isinstance(metrics, Mapping)
                },
                unread=str(item.get("unread") or ""),
            )
        )
    return checks


def _instance_allowances(raw: object) -> list[InstanceAllowances]:
    found = []
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, Mapping):
            continue
        series = [
            AllowanceSeries(
                str(s.get("metric")),
                {str(k): str(v) for k, v in (s.get("dimensions") or {}).items()},
                _points(s.get("points")),
            )
            for s in item.get("series") or ()
            if isinstance(s, Mapping)
        ]
        found.append(
            InstanceAllowances(
                instance_id=str(item.get("instance_id")),
                series=tuple(series),
                namespace=str(item.get("namespace") or "CWAgent"),
                unread=str(item.get("unread") or ""),
            )
        )
    return found


def _connection_tracking(raw: object) -> Assessment:
    if not isinstance(raw, Mapping):
        return Assessment()
    keepalive = raw.get("client_keepalive_s")
    return assess_connection_tracking(
        tracked_interfaces(raw.get("interfaces")),
        keepalive_s=keepalive if isinstance(keepalive, int) and keepalive > 0 else None,
    )


def _idle_timeouts(raw: object) -> Assessment:
    if not isinstance(raw, Mapping):
        return Assessment()
    if raw.get("unread"):
        return Assessment(checked=[f"idle-timeout mismatch: unknown — {raw['unread']}"])
    keepalive = raw.get("client_keepalive_s")
    return assess_idle_timeouts(
        keepalive_s=keepalive if isinstance(keepalive, int) and keepalive > 0 else None,
        listeners=[
            ListenerTimeout.from_data(item)
            for item in raw.get("listeners") or ()
            if isinstance(item, Mapping)
        ],
        nat_gateways=[str(nat) for nat in raw.get("nat_gateways") or ()],
        load_balancers=[str(lb) for lb in raw.get("load_balancers") or ()],
    )
