"""Connection attempts left unanswered or reset, from the flow-log query ``syn_rst_by_destination`` (pure).

The query lists, per destination address and port, the sources' connection attempts (a 5-tuple whose
``tcp-flags`` show SYN without ACK) that got no SYN-ACK back, and those reset by either side, with when the
unanswered ones were first and last seen. ``tcp-flags`` is the OR of the flags over the aggregation
interval: SYN 2, SYN-ACK 18, RST 4, FIN 1 (VPC User Guide, "Flow log records"; docs/flow-logs.md).

- ``SYNS_UNANSWERED``: a destination that left at least ``MIN_REPEATED`` attempts (and
  ``MIN_SHARE`` of its attempts) unanswered. The client sees connect timeouts: a firewall dropping
  silently, a NAT gateway out of source ports, a listener gone or its accept queue full, an allowance
  exceeded on the instance.
- ``CONNECTION_RESETS``: a destination whose attempts were reset as often: a load balancer or NAT gateway
  closing idle connections, a service refusing or aborting them.

Severity from symptoms (docs/severity.md): high only when the pattern is happening now — its first
unanswered attempt is at or after the incident's onset, so nothing like it came before. Otherwise (no
onset, or it was already there before) a warning. Reset rows carry no time, so resets are a warning at
most; the cause that resets (``LB_RESETS``, ``NAT_IDLE_TIMEOUT``) carries the timing.

When a root cause in the report already explains the pattern toward the investigated destination (NAT port
exhaustion, an accept-queue overflow, REJECTs …), the rows become that cause's evidence instead of a
finding of their own (``corroborate``): the same drops are counted once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules.query_rows import as_int, epoch_utc, hhmm, jsonable

QUERY = "syn_rst_by_destination"
MIN_REPEATED = 20
"""Attempts toward one destination in the window before the pattern is "repeated", not a stray SYN (a
black hole's retries or a restarted client spread a handful over many destinations)."""
MIN_SHARE = 0.25
"""The share of a destination's attempts that must be unanswered (or reset) for it to be listed."""
ONSET_SLACK = timedelta(minutes=2)
"""A record starts up to its aggregation interval (≤ 1 min on Nitro) before the packets that mark it; an
attempt this close before the onset still belongs to the incident."""
SHOWN_ROWS = 10
RETRIED_ACROSS_INTERVALS = 1.05
"""SYN records per unanswered attempt above which the retransmissions spanned several aggregation
intervals (worth saying: the client waited more than a minute)."""

UNANSWERED_EXPLAINED_BY = frozenset(
    {
        FindingCode.NAT_PORT_EXHAUSTION,
        FindingCode.LISTEN_QUEUE_OVERFLOW,
        FindingCode.CONNTRACK_TABLE_FULL,
        FindingCode.ENA_ALLOWANCE_EXCEEDED,
        FindingCode.HOST_FIREWALL_DROPS,
        FindingCode.FLOW_REJECTED,
        FindingCode.ASYMMETRIC_RETURN_PATH,
    }
)
"""Root causes whose drops show in flow logs as connection attempts without an answer."""
RESETS_EXPLAINED_BY = frozenset({FindingCode.LB_RESETS, FindingCode.NAT_IDLE_TIMEOUT})
"""Root causes whose drops show in flow logs as reset connections."""

UNANSWERED_FIX = Remediation(
    summary="Find what swallows the handshakes toward the destination: the report's other checks rule "
    "the usual causes in or out; check the ones they could not read.",
    steps=(
        "A NAT gateway on the path: AWS/NATGateway ErrorPortAllocation (source ports to one destination).",
        (
            "The destination host: `ss -ltn` (is the port listening; Recv-Q against the backlog), "
            "`nstat -az TcpExtListenOverflows`."
        ),
        (
            "A firewall that drops without REJECT (a host's nft/iptables DROP rule, a network appliance); "
            "security groups and NACLs show as REJECT records instead."
        ),
        "The instances' ENA allowances: `ethtool -S eth0 | grep allowance_exceeded`.",
    ),
    commands=(
        (
            "aws cloudwatch get-metric-statistics --namespace AWS/NATGateway --metric-name "
            "ErrorPortAllocation --dimensions Name=NatGatewayId,Value=NAT_ID --statistics Sum --period 60 "
            "--start-time START --end-time END"
        ),
        "ss -ltn 'sport = :PORT'",
    ),
)
RESETS_FIX = Remediation(
    summary="Find who resets: an idle timeout on the path (NAT gateway or load balancer, 350 s), or the "
    "destination refusing or aborting connections.",
    steps=(
        (
            "Connections reset after a quiet period: keepalives below the path's idle timeout (NAT gateway "
            "350 s; Network Load Balancer 350 s by default)."
        ),
        "Resets right after the SYN: nothing listens on the port, or the service aborts on overload.",
    ),
    commands=("sysctl -w net.ipv4.tcp_keepalive_time=300",),
)


@dataclass(frozen=True)
class Destination:
    """One row of the query: a destination address and port and what happened to the attempts toward it."""

    address: str
    port: int
    attempts: int
    unanswered: int
    unanswered_syn_records: int
    reset_attempts: int
    first_unanswered: datetime | None
    last_unanswered: datetime | None
    row: Mapping[str, Any]

    @property
    def name(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def repeated_unanswered(self) -> bool:
        return self.unanswered >= MIN_REPEATED and self.unanswered >= MIN_SHARE * self.attempts

    @property
    def reset_heavy(self) -> bool:
        return self.reset_attempts >= MIN_REPEATED and self.reset_attempts >= MIN_SHARE * self.attempts


@dataclass
class AttemptsAssessment:
    """The findings; the checked line comes from ``checked_line`` in the step, which has the rows."""

    findings: list[Finding] = field(default_factory=list)


def destinations(rows: object) -> list[Destination]:
    """The query's rows as ``Destination``s (rows without an address or counts are skipped)."""
    parsed = []
    for row in rows if isinstance(rows, list | tuple) else ():
        if not isinstance(row, Mapping) or not isinstance(row.get("dstaddr"), str):
            continue
        parsed.append(
            Destination(
                address=row["dstaddr"],
                port=as_int(row.get("dstport")),
                attempts=as_int(row.get("attempts")),
                unanswered=as_int(row.get("unanswered")),
                unanswered_syn_records=as_int(row.get("unanswered_syn_records")),
                reset_attempts=as_int(row.get("reset_attempts")),
                first_unanswered=epoch_utc(row.get("first_unanswered")),
                last_unanswered=epoch_utc(row.get("last_unanswered")),
                row=row,
            )
        )
    return parsed


def checked_line(rows: object) -> str:
    """The report's line for the query's result, before any onset is known (the step writes it)."""
    found = destinations(rows)
    unanswered = [d for d in found if d.repeated_unanswered]
    resets = [d for d in found if d.reset_heavy]
    if not found:
        # The query lists every destination the source tried: no row is no attempt, not a clean result.
        return (
            "connection attempts in the flow logs: unknown — the source made no connection attempt (no SYN "
            "from it) in the window's records: nothing to judge"
        )
    if not unanswered and not resets:
        total = found[0].row.get("all_attempts")
        count = found[0].row.get("all_destinations")
        judged = (
            f"{as_int(total):,} attempts toward {as_int(count):,} destination(s)"
            if total is not None and count is not None
            else f"{sum(d.attempts for d in found):,} attempts toward {len(found):,} destination(s)"
        )
        most = max(found, key=lambda d: (d.unanswered, d.reset_attempts))
        worst = (
            f"; at most {most.unanswered} unanswered and {most.reset_attempts} reset toward {most.name}"
            if most.unanswered or most.reset_attempts
            else ", every one answered and none reset"
        )
        return (
            f"connection attempts in the flow logs: checked, clean — {judged}{worst} (repeated means "
            f"≥ {MIN_REPEATED} and ≥ {MIN_SHARE:.0%} of a destination's attempts)"
        )
    parts = []
    if unanswered:
        parts.append(f"{len(unanswered)} destination(s) leaving attempts unanswered ({_names(unanswered)})")
    if resets:
        parts.append(f"{len(resets)} destination(s) resetting attempts ({_names(resets)})")
    return "connection attempts in the flow logs: " + "; ".join(parts)


def assess_connection_attempts(rows: object, onset: datetime | None) -> AttemptsAssessment:
    """``SYNS_UNANSWERED`` and ``CONNECTION_RESETS`` findings from the query's rows, graded at ``onset``."""
    result = AttemptsAssessment()
    found = destinations(rows)
    unanswered = sorted(
        (d for d in found if d.repeated_unanswered), key=lambda d: (-d.unanswered, d.address, d.port)
    )
    if unanswered:
        result.findings.append(_unanswered_finding(unanswered, onset))
    resets = sorted((d for d in found if d.reset_heavy), key=lambda d: (-d.reset_attempts, d.address, d.port))
    if resets:
        result.findings.append(_resets_finding(resets))
    return result


def _began_at_onset(destination: Destination, onset: datetime | None) -> bool:
    first = destination.first_unanswered
    return onset is not None and first is not None and first >= onset - ONSET_SLACK


def _unanswered_finding(found: Sequence[Destination], onset: datetime | None) -> Finding:
    top = found[0]
    now = _began_at_onset(top, onset)
    retries = top.unanswered_syn_records / top.unanswered if top.unanswered else 0.0
    if now:
        timing = f"none before the onset; first at {hhmm(top.first_unanswered)}"
    elif onset is not None and top.first_unanswered is not None:
        timing = f"already before the onset (first at {hhmm(top.first_unanswered)}): not new"
    else:
        timing = "no onset to compare with"
    return Finding(
        code=FindingCode.SYNS_UNANSWERED,
        severity=Severity.HIGH if now else Severity.WARNING,
        confidence=0.6 if now else 0.35,
        title=f"Connection attempts to {top.name} go unanswered: {top.unanswered:,} of {top.attempts:,} got "
        f"no SYN-ACK ({timing})",
        detail="The flow logs show the source's SYNs toward these destinations and no SYN-ACK coming back"
        + (
            f" ({retries:.1f} SYN records per unanswered attempt: the client kept retransmitting across "
            "aggregation intervals)"
            if retries > RETRIED_ACROSS_INTERVALS
            else ""
        )
        + ". Something on the way or at the destination drops the handshakes without a REJECT: a NAT gateway "
        "out of source ports, a listener gone or its accept queue full, a firewall dropping silently, an "
        "instance allowance exceeded.",
        evidence=(_rows_evidence(found, "unanswered connection attempts per destination"),),
        remediation=UNANSWERED_FIX,
    )


def _resets_finding(found: Sequence[Destination]) -> Finding:
    top = found[0]
    return Finding(
        code=FindingCode.CONNECTION_RESETS,
        severity=Severity.WARNING,
        confidence=0.4,
        title=f"Connections to {top.name} are reset: {top.reset_attempts:,} of {top.attempts:,} attempts",
        detail="The flow logs show RST in these connections (either direction). The flow logs do not say "
        "when in the connection: the load balancers' and NAT gateways' reset and idle-timeout counters, "
        "checked in this report, tell who resets and since when.",
        evidence=(_rows_evidence(found, "reset connection attempts per destination"),),
        remediation=RESETS_FIX,
    )


def _rows_evidence(found: Sequence[Destination], what: str) -> Evidence:
    return Evidence(
        kind="query_rows",
        summary=f"{what} ({QUERY}): " + _names(found),
        data={"query": QUERY, "rows": [jsonable(d.row) for d in found[:SHOWN_ROWS]]},
    )


def corroborate(findings: Sequence[Finding], destination_networks: Iterable[str]) -> tuple[Finding, ...]:
    """Fold the flow-log pattern into the root cause that explains it, so it is counted once.

    A ``SYNS_UNANSWERED`` (``CONNECTION_RESETS``) finding whose destinations lie in the investigation's
    destination becomes evidence on the first root cause, at least as severe, that shows up as unanswered
    (reset) attempts: its confidence rises a little, and the pattern is no finding of its own. A pattern
    toward other destinations, or newer than any cause that could explain it, stays as it is.
    """
    networks = [ipaddress.ip_network(n, strict=False) for n in destination_networks]
    result = list(findings)
    for code, causes in (
        (FindingCode.SYNS_UNANSWERED, UNANSWERED_EXPLAINED_BY),
        (FindingCode.CONNECTION_RESETS, RESETS_EXPLAINED_BY),
    ):
        pattern = next((f for f in result if f.code is code), None)
        if pattern is None or not _toward(pattern, networks):
            continue
        # A cause explains the pattern when it is at least as pressing: a background cause (warning) does
        # not swallow a pattern that began at the onset (high), which stays a finding of its own.
        cause_index = next(
            (
                i
                for i, f in enumerate(result)
                if f.code in causes and f.severity.rank <= pattern.severity.rank
            ),
            None,
        )
        if cause_index is None:
            continue
        cause = result[cause_index]
        supporting = tuple(
            e.model_copy(update={"summary": f"corroborated by the flow logs: {pattern.title}"})
            for e in pattern.evidence
        )
        result[cause_index] = cause.model_copy(
            update={
                "evidence": (*cause.evidence, *supporting),
                "confidence": min(0.95, cause.confidence + 0.05),
            }
        )
        result.remove(pattern)
    return tuple(result)


def _toward(pattern: Finding, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether the pattern's first (largest) destination lies in one of ``networks``."""
    rows = next((e.data.get("rows") for e in pattern.evidence if e.data.get("query") == QUERY), None)
    if not rows or not networks:
        return False
    try:
        address = ipaddress.ip_address(str(rows[0].get("dstaddr")))
    except ValueError:
        return False
    return any(address in network for network in networks)


def _names(found: Sequence[Destination]) -> str:
    shown = ", ".join(
        f"{d.name} {d.unanswered:,} unanswered" if d.unanswered else f"{d.name} {d.reset_attempts:,} reset"
        for d in found[:3]
    )
    return shown + (f" and {len(found) - 3} more" if len(found) > 3 else "")
