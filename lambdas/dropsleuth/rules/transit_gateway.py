"""Transit gateway drops tied to the route that causes them (pure: no I/O, no clock).

A transit gateway routes a packet by the route table associated with the attachment the packet *entered*
from, most specific route first; a packet that matches a ``blackhole`` route is dropped and counted in
``PacketDropCountBlackhole``, one that matches no route in ``PacketDropCountNoRoute`` — per transit gateway
and per attachment (dimensions ``TransitGateway`` + ``TransitGatewayAttachment``: Transit Gateways guide,
"CloudWatch metrics for your transit gateways"; routing: "How transit gateways work"; sources in
docs/runbook/other-drops.md).

For each transit gateway on the path, the metrics step looks up (``aws/transit_gateway_routes.py``), for
each attachment the path enters the transit gateway from, the route its route table uses toward the far
end — the VPC's attachment toward the site or peer, the site's attachment (VPN, Direct Connect gateway) back
toward the VPC — and reads that attachment's two drop counters. Each lookup is one ``RouteLookup``; this
module grades them:

================================  ==========================================================================
the route for the path            the attachment's counter
================================  ==========================================================================
blackhole / missing / no table    rose at the onset: ``TRANSIT_GATEWAY_DROPS`` high (the route is the cause);
                                  counting as before: warning; 0 or not published: warning (a risk: the
                                  route drops this path's packets whenever they are sent)
active                            rose at the onset: warning (drops on this attachment toward other
                                  destinations); else a "checked, clean" line with the route
not readable                      an "unknown — why" line
================================  ==========================================================================
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules.counter_windows import CounterWindow, Grade, split_at_onset
from dropsleuth.rules.host_drops import Assessment
from dropsleuth.rules.onset import Point

TGW_NAMESPACE = "AWS/TransitGateway"
BLACKHOLE_DROPS = "PacketDropCountBlackhole"
NO_ROUTE_DROPS = "PacketDropCountNoRoute"
TGW_DROP_METRICS = (BLACKHOLE_DROPS, NO_ROUTE_DROPS)

# What a lookup found (``RouteLookup.state``).
ACTIVE = "active"
BLACKHOLE = "blackhole"
MISSING = "missing"
"""No route in the table covers the address."""
NO_ROUTE_TABLE = "no_route_table"
"""The attachment is associated with no route table: the transit gateway routes nothing it sends."""

# Routes a transit gateway uses for forwarding; ``pending``/``deleting``/``deleted`` ones do not route.
ROUTING_STATES = (ACTIVE, BLACKHOLE)


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(value, strict=False)


def covering_route(routes: Iterable[Mapping[str, Any]], address: str) -> Mapping[str, Any] | None:
    """The route a transit gateway route table uses for ``address`` (an IP or a CIDR): the most specific
    ``active`` or ``blackhole`` route whose ``DestinationCidrBlock`` contains it; None when none does.

    Prefix-list routes (no ``DestinationCidrBlock``) are not expanded here.
    """
    wanted = _network(address)
    best: tuple[int, Mapping[str, Any]] | None = None
    for route in routes:
        cidr = route.get("DestinationCidrBlock")
        if not cidr or route.get("State") not in ROUTING_STATES:
            continue
        network = _network(str(cidr))
        if network.version != wanted.version or not wanted.subnet_of(network):  # type: ignore[arg-type]
            continue
        if best is None or network.prefixlen > best[0]:
            best = (network.prefixlen, route)
    return best[1] if best else None


def _route_attachments(route: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(a.get("TransitGatewayAttachmentId"))
        for a in route.get("TransitGatewayAttachments") or ()
        if isinstance(a, Mapping) and a.get("TransitGatewayAttachmentId")
    )


@dataclass(frozen=True)
class RouteLookup:
    """The route a transit gateway uses for traffic entering from one attachment toward one address."""

    transit_gateway_id: str
    attachment_id: str
    """The attachment the traffic enters the transit gateway from (its route table decides)."""
    attachment_resource: str
    """What the attachment connects: ``vpc-…``, ``vpn-…``, a Direct Connect gateway id."""
    route_table_id: str | None
    """None: the attachment is associated with no route table."""
    address: str
    """The address looked up (an IP or a CIDR)."""
    direction: str
    """``toward the destination`` / ``back toward the source``."""
    route: Mapping[str, Any] | None = None
    """The covering route as ``SearchTransitGatewayRoutes`` returns it; None: no route covers the address."""
    target_attachment_id: str | None = None
    """The attachment that should carry ``address`` (for the fix), when the path model knows it."""
    fix_cidr: str | None = None
    """The CIDR a missing route should cover (the site's CIDR from the registry, else the address)."""

    @property
    def state(self) -> str:
        if self.route_table_id is None:
            return NO_ROUTE_TABLE
        if self.route is None:
            return MISSING
        return BLACKHOLE if self.route.get("State") == BLACKHOLE else ACTIVE

    @property
    def drop_metric(self) -> str:
        """The counter a packet this lookup drops is counted in."""
        return BLACKHOLE_DROPS if self.state == BLACKHOLE else NO_ROUTE_DROPS

    def describe_route(self) -> str:
        """``tgw-rtb-…: 10.0.0.0/8 → tgw-attach-… (active, static)`` or what is missing."""
        if self.route_table_id is None:
            return f"{self.attachment_id} is associated with no route table"
        if self.route is None:
            return f"{self.route_table_id}: no route covers {self.address}"
        targets = ", ".join(_route_attachments(self.route)) or "no attachment"
        kind = self.route.get("Type") or "route"
        return (
            f"{self.route_table_id}: {self.route.get('DestinationCidrBlock')} → "
            f"{'blackhole' if self.state == BLACKHOLE else targets} ({self.route.get('State')}, {kind})"
        )

    def as_data(self) -> dict[str, Any]:
        return {
            "transit_gateway_id": self.transit_gateway_id,
            "attachment_id": self.attachment_id,
            "attachment_resource": self.attachment_resource,
            "route_table_id": self.route_table_id,
            "address": self.address,
            "direction": self.direction,
            "route": dict(self.route) if self.route is not None else None,
            "target_attachment_id": self.target_attachment_id,
            "fix_cidr": self.fix_cidr,
        }

    @classmethod
    def from_data(cls, raw: Mapping[str, Any]) -> RouteLookup:
        route = raw.get("route")
        return cls(
            transit_gateway_id=str(raw.get("transit_gateway_id")),
            attachment_id=str(raw.get("attachment_id")),
            attachment_resource=str(raw.get("attachment_resource") or ""),
            route_table_id=str(raw["route_table_id"]) if raw.get("route_table_id") else None,
            address=str(raw.get("address")),
            direction=str(raw.get("direction") or ""),
            route=route if isinstance(route, Mapping) else None,
            target_attachment_id=str(raw["target_attachment_id"])
            if raw.get("target_attachment_id")
            else None,
            fix_cidr=str(raw["fix_cidr"]) if raw.get("fix_cidr") else None,
        )


@dataclass(frozen=True)
class TransitGatewayCheck:
    """One transit gateway on the path: its lookups and each attachment's drop counters.

    ``drops``: attachment id → metric → per-minute points; a metric missing for an attachment was not
    published in the window (unknown). ``unread``: why the routes could not be read ("" when they were).
    """

    transit_gateway_id: str
    lookups: Sequence[RouteLookup] = ()
    drops: Mapping[str, Mapping[str, Sequence[Point]]] = field(default_factory=dict)
    unread: str = ""


def _fix(lookup: RouteLookup) -> Remediation:
    table = lookup.route_table_id or "TGW_ROUTE_TABLE_ID"
    target = lookup.target_attachment_id or "TGW_ATTACHMENT_ID"
    which = (
        ""
        if lookup.target_attachment_id
        else f" (TGW_ATTACHMENT_ID: the attachment that reaches {lookup.address}; "
        "`aws ec2 describe-transit-gateway-attachments --filters "
        f"Name=transit-gateway-id,Values={lookup.transit_gateway_id}`)"
    )
    verify = (
        f"Verify: `aws ec2 search-transit-gateway-routes --transit-gateway-route-table-id {table} "
        f"--filters Name=route-search.longest-prefix-match,Values={lookup.address}` shows an active route, "
        f"and {lookup.drop_metric} of {lookup.attachment_id} returns to 0."
    )
    if lookup.state == NO_ROUTE_TABLE:
        return Remediation(
            summary=f"Associate {lookup.attachment_id} with the transit gateway route table that routes its "
            "traffic.",
            steps=(
                "An attachment with no associated route table has every packet it sends dropped.",
                verify,
            ),
            commands=(
                (
                    f"aws ec2 associate-transit-gateway-route-table --transit-gateway-route-table-id "
                    f"TGW_ROUTE_TABLE_ID --transit-gateway-attachment-id {lookup.attachment_id}"
                ),
            ),
        )
    if lookup.state == BLACKHOLE:
        cidr = str((lookup.route or {}).get("DestinationCidrBlock"))
        return Remediation(
            summary=f"Point {cidr} in {table} at a live attachment instead of a blackhole{which}.",
            steps=(
                (
                    "A route turns blackhole when its attachment is deleted (a replaced VPN, a detached "
                    "VPC) or when it was created as a blackhole; replacing it keeps the CIDR."
                ),
                (
                    "Rollback: `aws ec2 replace-transit-gateway-route … --blackhole` restores the previous "
                    "route."
                ),
                verify,
            ),
            commands=(
                (
                    f"aws ec2 replace-transit-gateway-route --transit-gateway-route-table-id {table} "
                    f"--destination-cidr-block {cidr} --transit-gateway-attachment-id {target}"
                ),
            ),
        )
    cidr = lookup.fix_cidr or lookup.address
    return Remediation(
        summary=f"Add a route to {cidr} in {table}, or propagate the attachment that reaches it{which}.",
        steps=(
            "No route in the table covers the address: the transit gateway drops the packet.",
            "Prefer propagation for VPN (BGP) and VPC attachments; a static route for anything else.",
            (
                f"Rollback: `aws ec2 delete-transit-gateway-route --transit-gateway-route-table-id {table} "
                f"--destination-cidr-block {cidr}`."
            ),
            verify,
        ),
        commands=(
            (
                f"aws ec2 create-transit-gateway-route --transit-gateway-route-table-id {table} "
                f"--destination-cidr-block {cidr} --transit-gateway-attachment-id {target}"
            ),
            (
                "aws ec2 enable-transit-gateway-route-table-propagation "
                f"--transit-gateway-route-table-id {table} --transit-gateway-attachment-id {target}"
            ),
        ),
    )


def _route_evidence(lookup: RouteLookup) -> Evidence:
    return Evidence(
        kind="transit_gateway_route",
        summary=f"{lookup.transit_gateway_id}, traffic from {lookup.attachment_id} "
        f"({lookup.attachment_resource}) {lookup.direction} {lookup.address}: {lookup.describe_route()}",
        resource_ids=tuple(
            r for r in (lookup.transit_gateway_id, lookup.attachment_id, lookup.route_table_id) if r
        ),
        data={**lookup.as_data(), "state": lookup.state},
    )


def _counter_evidence(lookup: RouteLookup, metric: str, window: CounterWindow) -> Evidence:
    return Evidence(
        kind="metric",
        summary=f"{lookup.attachment_id}: {TGW_NAMESPACE} {metric} {window.describe()}",
        resource_ids=(lookup.transit_gateway_id, lookup.attachment_id),
        data={
            "namespace": TGW_NAMESPACE,
            "metric": metric,
            "resource_id": lookup.attachment_id,
            "transit_gateway_id": lookup.transit_gateway_id,
            **window.as_data(),
        },
    )


def _broken_route(
    lookup: RouteLookup, window: CounterWindow | None, onset: datetime | None, out: Assessment
) -> None:
    what = {
        BLACKHOLE: "a blackhole route",
        MISSING: "no route",
        NO_ROUTE_TABLE: "no route table",
    }[lookup.state]
    grade = window.grade if window is not None else None
    if grade is Grade.ROSE_AT_ONSET:
        severity, confidence = Severity.HIGH, 0.9
        counted = f"{lookup.drop_metric} {window.during_total:,.0f} since the onset" if window else ""
    elif grade is Grade.BACKGROUND:
        severity, confidence = Severity.WARNING, 0.5
        when = "at its usual rate" if onset else "in the window (no onset known)"
        counted = f"{lookup.drop_metric} {window.during_total:,.0f} {when}" if window else ""
    else:
        # Configuration alone is a risk: the route would drop this path's packets, but none were counted.
        severity, confidence = Severity.WARNING, 0.35
        counted = (
            f"a risk: {lookup.drop_metric} counted 0 in the window"
            if grade is Grade.CLEAN
            else f"a risk: {lookup.drop_metric} not published for {lookup.attachment_id} in the window"
        )
    evidence = [_route_evidence(lookup)]
    if window is not None:
        evidence.append(_counter_evidence(lookup, lookup.drop_metric, window))
    out.findings.append(
        Finding(
            code=FindingCode.TRANSIT_GATEWAY_DROPS,
            severity=severity,
            confidence=confidence,
            title=f"Transit gateway {lookup.transit_gateway_id} has {what} for {lookup.address} "
            f"(traffic from {lookup.attachment_id}, {lookup.direction}): {counted}",
            detail=f"{lookup.describe_route()}. A packet that matches a blackhole route, or no route, is "
            f"dropped by the transit gateway and counted in {lookup.drop_metric} of the attachment it came "
            "from; nothing is sent back to the sender.",
            resource_ids=tuple(
                r for r in (lookup.transit_gateway_id, lookup.route_table_id, lookup.attachment_id) if r
            ),
            evidence=tuple(evidence),
            remediation=_fix(lookup),
        )
    )


def _active_route(lookup: RouteLookup, windows: Mapping[str, CounterWindow], out: Assessment) -> None:
    rising = {m: w for m, w in windows.items() if w.grade is Grade.ROSE_AT_ONSET}
    if rising:
        lead = max(rising, key=lambda m: rising[m].during_total)
        out.findings.append(
            Finding(
                code=FindingCode.TRANSIT_GATEWAY_DROPS,
                # The path's own route is active: the drops are other traffic from the same attachment.
                severity=Severity.WARNING,
                confidence=0.3,
                title=f"Transit gateway {lookup.transit_gateway_id}: {lead} of {lookup.attachment_id} rose "
                f"at the onset ({rising[lead].during_total:,.0f} since), but the route for "
                f"{lookup.address} is active",
                detail=f"{lookup.describe_route()}. The drops are packets from the same attachment toward "
                "other destinations: check which routes of the table are blackholes or missing.",
                resource_ids=(lookup.transit_gateway_id, lookup.attachment_id),
                evidence=(
                    _route_evidence(lookup),
                    *(_counter_evidence(lookup, m, w) for m, w in sorted(windows.items())),
                ),
                remediation=Remediation(
                    summary="List the table's blackhole routes and compare them with the destinations "
                    "that stopped working.",
                    commands=(
                        (
                            f"aws ec2 search-transit-gateway-routes --transit-gateway-route-table-id "
                            f"{lookup.route_table_id} --filters Name=state,Values=blackhole"
                        ),
                    ),
                ),
            )
        )
        return
    where = f"traffic from {lookup.attachment_id} {lookup.direction} {lookup.address}"
    if not windows:
        out.checked.append(
            f"transit gateway {lookup.transit_gateway_id}: route checked, active — {where}: "
            f"{lookup.describe_route()}; drops unknown — {', '.join(TGW_DROP_METRICS)} not published for "
            f"{lookup.attachment_id} in the window"
        )
        return
    counters = ", ".join(f"{m} {w.during_total:,.0f}" for m, w in sorted(windows.items()))
    out.checked.append(
        f"transit gateway {lookup.transit_gateway_id}: checked, clean — {where}: {lookup.describe_route()}; "
        f"{counters} on {lookup.attachment_id}"
    )


def assess_transit_gateways(checks: Sequence[TransitGatewayCheck], onset: datetime | None) -> Assessment:
    """Every transit gateway on the path ruled in (a finding per broken route) or out (checked lines)."""
    result = Assessment()
    for check in checks:
        if check.unread:
            result.checked.append(f"transit gateway {check.transit_gateway_id}: unknown — {check.unread}")
            continue
        if not check.lookups:
            result.checked.append(
                f"transit gateway {check.transit_gateway_id}: unknown — no attachment of the path to it was "
                "found, so no route table to read"
            )
            continue
        for lookup in check.lookups:
            published = check.drops.get(lookup.attachment_id, {})
            windows = {m: split_at_onset(points, onset) for m, points in published.items()}
            if lookup.state == ACTIVE:
                _active_route(lookup, windows, result)
            else:
                _broken_route(lookup, windows.get(lookup.drop_metric), onset, result)
    return result
