"""Asymmetric return paths, from the flow-log query ``rejected_replies`` (pure).

Security groups are stateful per network interface: a reply is admitted because the interface tracked the
request it answers, whatever the rules say (EC2 User Guide, "Amazon EC2 security group connection
tracking"; docs/runbook/other-drops.md). When the request leaves through one interface (a firewall or NAT
appliance, a second ENI of the instance) and the reply comes back through another, that one never tracked
the flow: its rules alone judge the reply, and it REJECTs it. The client times out on connect.

The query lists, per interface and replying peer, the SYN-ACKs (``tcp-flags`` 18) the interface REJECTed
and, per connection, whether that interface had recorded the request (an ACCEPTed SYN of the reverse
5-tuple). A reply REJECTed where its request went out is a NACL without the return range — the stateless
case, ``FLOW_REJECTED`` — and no finding here. A reply REJECTed on an interface that never saw its request
is ``ASYMMETRIC_RETURN_PATH``; the row says where the request was seen instead, when it was.

Severity from symptoms (docs/severity.md): high when the orphaned replies began at or after the incident's
onset (drops now, nothing like it before); otherwise (no onset, or already there before) a warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules.query_rows import as_int, epoch_utc, hhmm, jsonable

QUERY = "rejected_replies"
MIN_UNLOCATED = 3
"""Orphaned connections toward one interface before a reply whose request is in no record counts as a path:
a single SYN-ACK out of nowhere can be backscatter of someone else's spoofed SYNs. One whose request was seen
on another interface needs no such margin: that is the asymmetry itself."""
ONSET_SLACK = timedelta(minutes=2)
"""A record starts up to its aggregation interval (≤ 1 min on Nitro) before the packets that mark it."""
SHOWN_ROWS = 10

FIX = Remediation(
    summary="Make the path symmetric: the replies must come back through the interface (or appliance) the "
    "requests left from, so the security group that tracked the request admits its reply.",
    steps=(
        (
            "Find where the requests leave and where the replies come back: the evidence names the "
            "interface that REJECTed the replies and, when the flow logs show it, the one the requests left "
            "through. Look up both (`aws ec2 describe-network-interfaces`) and the route tables of their "
            "subnets and of the peer's subnet."
        ),
        (
            "A firewall or NAT appliance (or a pair of them): route both directions through the same "
            "appliance (the peer subnet's route back to the same appliance ENI; a transit gateway "
            "attachment in appliance mode), and disable the source/destination check on an appliance that "
            "forwards traffic."
        ),
        (
            "An instance with a second ENI: answer from the interface the request came on (policy routing "
            "per source address on the host), or send the requests from the address the replies come back "
            "to."
        ),
        (
            "Stop-gap only: an inbound rule on the REJECTing interface's security group that admits the "
            "peer's replies: TCP from the peer's address to the ephemeral ports 1024-65535 (a rule cannot "
            "name the peer's source port). Caution: it admits any packet from that peer to those ports, not "
            "only replies, and a stateful appliance on the other path still misses the flow's state — "
            "remove it once the path is symmetric."
        ),
    ),
    commands=(
        "aws ec2 describe-route-tables --filters Name=association.subnet-id,Values=SUBNET_ID",
        "aws ec2 modify-instance-attribute --instance-id APPLIANCE_ID --no-source-dest-check",
        (
            "aws ec2 authorize-security-group-ingress --group-id SG_ID --ip-permissions "
            "'IpProtocol=tcp,FromPort=1024,ToPort=65535,IpRanges=[{CidrIp=PEER/32,"
            'Description="stop-gap: replies on an asymmetric path"}]\''
        ),
    ),
)


@dataclass(frozen=True)
class RejectedReplies:
    """One row of the query: the replies of one peer (address and port) one interface REJECTed."""

    interface_id: str
    peer: str
    port: int
    rejected_connections: int
    rejected_packets: int
    requested_here: int
    orphaned: int
    requested_elsewhere: int
    request_interface: str | None
    first_orphaned: datetime | None
    last_orphaned: datetime | None
    row: Mapping[str, Any]

    @property
    def name(self) -> str:
        return f"{self.peer}:{self.port}"

    @property
    def asymmetric(self) -> bool:
        """Replies this interface never saw the requests of: seen leaving elsewhere, or enough of them."""
        return self.requested_elsewhere > 0 or self.orphaned >= MIN_UNLOCATED


@dataclass
class ReturnPathAssessment:
    findings: list[Finding] = field(default_factory=list)


def rejected_replies(rows: object) -> list[RejectedReplies]:
    """The query's rows (rows without an interface or a peer are skipped)."""
    parsed = []
    for row in rows if isinstance(rows, list | tuple) else ():
        if not isinstance(row, Mapping) or not isinstance(row.get("interface_id"), str):
            continue
        if not isinstance(row.get("peer_addr"), str):
            continue
        request_interface = row.get("request_interface")
        parsed.append(
            RejectedReplies(
                interface_id=row["interface_id"],
                peer=row["peer_addr"],
                port=as_int(row.get("peer_port")),
                rejected_connections=as_int(row.get("rejected_connections")),
                rejected_packets=as_int(row.get("rejected_packets")),
                requested_here=as_int(row.get("requested_here")),
                orphaned=as_int(row.get("orphaned")),
                requested_elsewhere=as_int(row.get("requested_elsewhere")),
                request_interface=request_interface if isinstance(request_interface, str) else None,
                first_orphaned=epoch_utc(row.get("first_orphaned")),
                last_orphaned=epoch_utc(row.get("last_orphaned")),
                row=row,
            )
        )
    return parsed


def checked_line(rows: object) -> str:
    """The report's line for the query's result (the step writes it; it ran, so never "unknown")."""
    found = rejected_replies(rows)
    asymmetric = [r for r in found if r.asymmetric]
    if asymmetric:
        return (
            "return paths in the flow logs: replies REJECTed on an interface that never saw the request "
            f"({_names(asymmetric)})"
        )
    if not found:
        return (
            "return paths in the flow logs: checked, clean — no interface REJECTed a connection reply "
            "(SYN-ACK) in the window"
        )
    here = sum(r.requested_here for r in found)
    return (
        f"return paths in the flow logs: checked, clean — {sum(r.rejected_connections for r in found):,} "
        f"REJECTed replies, {here:,} on the interface that sent the request (a NACL without the return "
        f"range: REJECTs, not an asymmetric path); at most {max(r.orphaned for r in found)} without a "
        f"request seen anywhere on one interface (a path needs ≥ {MIN_UNLOCATED})"
    )


def unknown_line(reason: str) -> str:
    """The report's line when the query could not run."""
    return f"return paths in the flow logs: unknown — query {QUERY} did not run ({reason})"


def assess_return_paths(rows: object, onset: datetime | None) -> ReturnPathAssessment:
    """``ASYMMETRIC_RETURN_PATH`` from the query's rows, graded at ``onset``: one finding per interface."""
    result = ReturnPathAssessment()
    asymmetric = [r for r in rejected_replies(rows) if r.asymmetric]
    by_interface: dict[str, list[RejectedReplies]] = {}
    for replies in sorted(asymmetric, key=lambda r: (-r.orphaned, -r.rejected_packets, r.interface_id)):
        by_interface.setdefault(replies.interface_id, []).append(replies)
    result.findings.extend(_finding(found, onset) for found in by_interface.values())
    return result


def absorb_rejects(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """Fold a ``FLOW_REJECTED`` whose REJECTed flows are all replies of an asymmetric path into that path.

    The same REJECTs would otherwise be reported twice, once with the wrong fix ("add the rule the traffic
    lacks"). The REJECTs' rows (``top_rejected_flows``) become evidence on the path's finding, which takes
    their severity when it is higher (they carry the collapse that made them critical). A ``FLOW_REJECTED``
    with one row the path does not explain stays as it is.
    """
    result = list(findings)
    rejected = next((f for f in result if f.code is FindingCode.FLOW_REJECTED), None)
    if rejected is None:
        return tuple(result)
    rows = [
        r for e in rejected.evidence if e.data.get("query") == "top_rejected_flows" for r in e.data["rows"]
    ]
    for index, path in enumerate(result):
        if path.code is not FindingCode.ASYMMETRIC_RETURN_PATH:
            continue
        replies = {
            (r.get("interface_id"), r.get("peer_addr"), as_int(r.get("peer_port")))
            for e in path.evidence
            if e.data.get("query") == QUERY
            for r in e.data["rows"]
        }
        if not rows or any(
            (r.get("interface_id"), r.get("srcaddr"), as_int(r.get("srcport"))) not in replies for r in rows
        ):
            continue
        severity = min(path.severity, rejected.severity, key=lambda s: s.rank)
        result[index] = path.model_copy(
            update={
                "severity": severity,
                "evidence": (
                    *path.evidence,
                    *(
                        e.model_copy(update={"summary": f"the same REJECTs, as {rejected.code}: {e.summary}"})
                        for e in rejected.evidence
                    ),
                ),
                "confidence": min(0.95, max(path.confidence, rejected.confidence) + 0.05),
            }
        )
        result.remove(rejected)
        break
    return tuple(result)


def _began_at_onset(found: Sequence[RejectedReplies], onset: datetime | None) -> bool:
    firsts = [r.first_orphaned for r in found if r.first_orphaned is not None]
    return onset is not None and bool(firsts) and min(firsts) >= onset - ONSET_SLACK


def _finding(found: Sequence[RejectedReplies], onset: datetime | None) -> Finding:
    top = found[0]
    eni = top.interface_id
    orphaned = sum(r.orphaned for r in found)
    packets = sum(r.rejected_packets for r in found)
    firsts = [r.first_orphaned for r in found if r.first_orphaned is not None]
    lasts = [r.last_orphaned for r in found if r.last_orphaned is not None]
    first, last = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
    now = _began_at_onset(found, onset)
    if now:
        timing = f"none before the onset; from {hhmm(first)} to {hhmm(last)}"
    elif onset is not None and first is not None:
        timing = f"already before the onset (from {hhmm(first)}): not new"
    else:
        timing = f"from {hhmm(first)} to {hhmm(last)}; no onset to compare with"
    elsewhere = sorted({r.request_interface for r in found if r.request_interface})
    located = sum(r.requested_elsewhere for r in found)
    where = (
        f"the requests left through {', '.join(elsewhere)} ({located:,} of {orphaned:,} connections seen "
        "there)"
        if elsewhere
        else "no record of the window shows where the requests left (a path without flow logs)"
    )
    return Finding(
        code=FindingCode.ASYMMETRIC_RETURN_PATH,
        severity=Severity.HIGH if now else Severity.WARNING,
        confidence=(0.75 if elsewhere else 0.45) if now else (0.5 if elsewhere else 0.3),
        title=f"Replies from {top.name} are REJECTed on {eni}, which never saw the requests: {orphaned:,} "
        f"connection(s) ({timing})",
        detail=f"{eni} REJECTed the SYN-ACKs of connections whose SYN it never recorded: {where}. Security "
        "groups are stateful per network interface, so a reply is admitted only where its request was "
        "tracked; on this path it comes back through another interface, whose rules alone judge it, and "
        f"the client's connection times out ({packets:,} packets REJECTed). A reply REJECTed where its "
        "request went out (a NACL without the return range) is a REJECT of its own, not this.",
        resource_ids=(eni, *elsewhere),
        evidence=(
            Evidence(
                kind="query_rows",
                summary=f"replies REJECTed on {eni} without their requests ({QUERY}): {_names(found)}",
                resource_ids=(eni, *elsewhere),
                data={"query": QUERY, "rows": [jsonable(r.row) for r in found[:SHOWN_ROWS]]},
            ),
        ),
        remediation=FIX,
    )


def _names(found: Sequence[RejectedReplies]) -> str:
    shown = ", ".join(
        f"{r.name} → {r.interface_id} {r.orphaned:,} connection(s)"
        + (f" (requests via {r.request_interface})" if r.request_interface else "")
        for r in found[:3]
    )
    return shown + (f" and {len(found) - 3} more" if len(found) > 3 else "")
