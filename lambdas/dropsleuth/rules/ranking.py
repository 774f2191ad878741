"""Correlation and scoring: from what each step found to ranked hypotheses (pure: no I/O, no clock).

Each step leaves its findings and, in ``StepOutcome.data``, the raw material below. The ranking reads
these keys only (a step that did not run simply leaves them out):

==================  =========================================================================================
step                data keys
==================  =========================================================================================
flow_log_queries    ``upload_throughput`` [{minute, mbps}], ``icmp_rejects`` [{minute, rejects|packets}],
                    ``rejects_timeline`` [{minute, rejects, packets}], ``top_rejected_flows`` [{srcaddr,
                    dstaddr, srcport, dstport, protocol, packets, …}], ``stalled_flows`` [rows],
                    ``flow_packet_sizes`` [{interface_id, …, bytes_per_packet}], ``flow_log_location``,
                    ``syn_rst_by_destination`` [{dstaddr, dstport, attempts, unanswered, …}],
                    ``rejected_replies`` [{interface_id, peer_addr, peer_port, orphaned, …}]
metrics             ``throughput`` [{at, value}], ``frag_needed`` [{at, value}], ``tunnel_flaps`` [at],
                    ``onset`` at | None, ``drop_counters`` [{namespace, metric, resource_id, total}],
                    ``black_hole_verdicts`` [{at, value}], ``retransmissions`` [{at, value}]
path_mtu            ``hops`` [{name, kind, mtu, mtu_max, sends_frag_needed, resource_id}], ``path_mtu``,
                    ``source_mtu``, ``verdict``; findings MTU_MISMATCH / PMTUD_BLACKHOLE / NO_ROUTE
recent_changes      ``changes`` [{at, summary, event_name, actor, resource_ids}]
icmp_audit          findings NACL_BLOCKS_ICMP_FRAG_NEEDED / SG_MISSING_ICMP_FRAG_NEEDED
reachability        ``reachable`` bool | None, ``mode`` aws | static
==================  =========================================================================================

The hypotheses are scored from how many independent pieces of evidence agree, and how they agree in time
(a change just before the onset counts; one a day earlier does not); evidence against a hypothesis lowers
its confidence and is shown beside it. Severity comes from symptoms (docs/severity.md): a configuration
that could drop packets is a risk (warning) until the window shows drops happening. Only a root-cause
hypothesis can be critical; the symptoms and supporting findings are kept beside it, ranked below.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules.connection_attempts import QUERY as ATTEMPTS_QUERY
from dropsleuth.rules.connection_attempts import assess_connection_attempts, corroborate
from dropsleuth.rules.onset import Collapse, Point, detect_collapse, frag_needed_rise
from dropsleuth.rules.other_drops import DATA_KEY as OTHER_DROPS
from dropsleuth.rules.other_drops import ROOT_CAUSES as OTHER_ROOT_CAUSES
from dropsleuth.rules.other_drops import assess_other_drops
from dropsleuth.rules.return_paths import QUERY as RETURN_PATHS_QUERY
from dropsleuth.rules.return_paths import absorb_rejects, assess_return_paths
from dropsleuth.rules.severity import Observation, incident_severity, supporting_severity
from dropsleuth.rules.site_measurements import agent_black_hole_evidence, interface_mtu_findings

# A change this long before the onset is a suspect; earlier ones are background (a typical change window).
CHANGE_SUSPECT_BEFORE_ONSET = timedelta(minutes=45)
# Flaps within this distance of the onset are counted as part of the incident.
FLAP_NEAR_ONSET = timedelta(minutes=60)
MIN_FLAPS = 2
# A throughput series this long without a collapse is steady traffic: evidence against a black hole.
STEADY_MIN_POINTS = 10
TCP = 6
ICMP_PROTOCOLS = {1, 58}

_PATH_VERDICTS = {FindingCode.MTU_MISMATCH, FindingCode.PMTUD_BLACKHOLE}
_ROOT_CAUSES = {
    FindingCode.PMTUD_BLACKHOLE,
    FindingCode.MTU_MISMATCH,
    FindingCode.FLOW_REJECTED,
    FindingCode.NO_ROUTE,
    FindingCode.ASYMMETRIC_RETURN_PATH,
    *OTHER_ROOT_CAUSES,
}


# --- evidence gathered from the steps -----------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    at: datetime
    summary: str
    event_name: str = ""
    actor: str = ""
    resource_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signals:
    """Everything the hypotheses are scored from, extracted once from the step outcomes."""

    host_throughput: tuple[Point, ...] = ()
    flow_throughput: tuple[Point, ...] = ()
    frag_needed: tuple[Point, ...] = ()
    icmp_rejects: tuple[Point, ...] = ()
    flaps: tuple[datetime, ...] = ()
    changes: tuple[Change, ...] = ()
    collapse: Collapse | None = None
    onset: datetime | None = None
    symptom_rejects: tuple[Mapping[str, Any], ...] = ()
    stalled_flows: tuple[Mapping[str, Any], ...] = ()
    hops: tuple[Mapping[str, Any], ...] = ()
    source_mtu: int | None = None
    path_mtu: int | None = None
    limiting_hop: str | None = None
    path_verdict: str | None = None
    """The path model's verdict (ok / mtu_mismatch / pmtud_blackhole / no_route) when it ran."""
    reachable: bool | None = None
    stalled_checked: bool = False
    """The stalled-flow query ran (an empty result is then evidence, not a gap)."""
    packet_sizes: tuple[Mapping[str, Any], ...] = ()
    """Flows with their average packet size (bytes ÷ packets), from ``flow_packet_sizes``."""
    black_hole_verdicts: tuple[Point, ...] = ()
    """The host agent's ``PathMtuBlackHole`` (1: DF probes above the path MTU vanished without ICMP)."""
    agent_verdicts: tuple[Evidence, ...] = ()
    """The same verdicts as evidence, one per probe target that saw a black hole."""
    retransmissions: tuple[Point, ...] = ()
    measured_path_mtu: int | None = None
    """The smallest path MTU the host agent's DF probes measured toward any target in the window."""
    flow_log_rows: int = 0
    """Flow-log records the queries found in the window (any query): flow logs exist somewhere."""
    flow_log_location: str | None = None
    gateway_drops: tuple[Mapping[str, Any], ...] = ()
    """NAT/TGW drop counters that counted drops in the window."""
    findings: Mapping[FindingCode, tuple[Finding, ...]] = field(default_factory=dict)

    def found(self, code: FindingCode) -> tuple[Finding, ...]:
        return self.findings.get(code, ())

    @property
    def drops_seen(self) -> bool:
        """Any sign in the window that traffic is being dropped now (docs/severity.md's symptoms)."""
        return bool(
            self.collapse
            or self.icmp_rejects_total > 0
            or self.stalled_flows
            or self.symptom_rejects
            or any(v >= 1 for _, v in self.black_hole_verdicts)
            or frag_needed_rise(self.retransmissions)
        )

    @property
    def icmp_rejects_total(self) -> float:
        return sum(value for _, value in self.icmp_rejects)

    def frag_needed_after_onset(self) -> float | None:
        """Frag-needed messages the host counted after the onset (None: no host counter at all)."""
        if not self.frag_needed:
            return None
        since = self.onset or datetime.min.replace(tzinfo=UTC)
        return sum(v for t, v in self.frag_needed if t >= since)


def gather(context: InvestigationContext, outcomes: Mapping[str, StepOutcome]) -> Signals:
    """Pull the ranking's inputs out of the outcomes of the steps that completed."""
    data = _merged_data(outcomes)
    by_code: dict[FindingCode, list[Finding]] = {}
    for outcome in outcomes.values():
        for finding in outcome.findings:
            by_code.setdefault(finding.code, []).append(finding)
    host = _series(data.get("throughput"), "at", "value")
    flow = _series(data.get("upload_throughput"), "minute", "mbps")
    collapse = detect_collapse(host, source="host") or detect_collapse(flow, source="flow-log")
    frag_needed = _series(data.get("frag_needed"), "at", "value")
    onset = collapse.onset if collapse else _time_or_none(data.get("onset")) or frag_needed_rise(frag_needed)
    source_mtu = _int_or_none(data.get("source_mtu")) or context.source_mtu
    return Signals(
        host_throughput=host,
        flow_throughput=flow,
        frag_needed=frag_needed,
        icmp_rejects=_series(data.get("icmp_rejects"), "minute", ("rejects", "packets", "records")),
        flaps=tuple(sorted(t for t in (_time_or_none(v) for v in _items(data.get("tunnel_flaps"))) if t)),
        changes=_changes(data.get("changes"), by_code.get(FindingCode.RECENT_NETWORK_CHANGE, [])),
        collapse=collapse,
        onset=onset,
        symptom_rejects=tuple(_symptom_rejects(context, data.get("top_rejected_flows"))),
        stalled_flows=tuple(r for r in _items(data.get("stalled_flows")) if isinstance(r, Mapping)),
        hops=tuple(h for h in _items(data.get("hops")) if isinstance(h, Mapping)),
        source_mtu=source_mtu,
        path_mtu=_int_or_none(data.get("path_mtu")),
        limiting_hop=data.get("limiting_hop") if isinstance(data.get("limiting_hop"), str) else None,
        reachable=data.get("reachable") if isinstance(data.get("reachable"), bool) else None,
        path_verdict=data.get("verdict") if isinstance(data.get("verdict"), str) else None,
        stalled_checked=isinstance(data.get("stalled_flows"), list | tuple),
        packet_sizes=tuple(r for r in _items(data.get("flow_packet_sizes")) if isinstance(r, Mapping)),
        black_hole_verdicts=_series(data.get("black_hole_verdicts"), "at", "value"),
        agent_verdicts=tuple(agent_black_hole_evidence(data)),
        retransmissions=_series(data.get("retransmissions"), "at", "value"),
        measured_path_mtu=_measured_path_mtu(data.get("path_mtu_by_target")),
        flow_log_rows=sum(
            len(_items(data.get(name)))
            for name in ("upload_throughput", "rejects_timeline", "stalled_flows", "flow_packet_sizes")
        ),
        flow_log_location=data.get("flow_log_location")
        if isinstance(data.get("flow_log_location"), str)
        else None,
        gateway_drops=tuple(
            c
            for c in _items(data.get("drop_counters"))
            if isinstance(c, Mapping) and _number(c.get("total")) > 0
        ),
        findings={code: tuple(found) for code, found in by_code.items()},
    )


# --- the hypotheses -----------------------------------------------------------------------------------


@dataclass
class _Score:
    """A hypothesis's confidence as the sum of the evidence that supports it, with the reasons."""

    value: float = 0.0
    reasons: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    against: list[str] = field(default_factory=list)
    evidence_against: list[Evidence] = field(default_factory=list)

    def add(self, weight: float, reason: str, *evidence: Evidence) -> None:
        self.value += weight
        if weight < 0:
            self.against.append(f"{reason} ({weight:.2f})")
            self.evidence_against.extend(item for item in evidence if item not in self.evidence_against)
            return
        self.reasons.append(f"{reason} (+{weight:.2f})")
        # Two supporting findings often rest on the same fact (MTU_MISMATCH and PMTUD_BLACKHOLE both carry
        # the path's hops): show it once.
        self.evidence.extend(item for item in evidence if item not in self.evidence)

    def observe(self, observation: Observation) -> None:
        self.add(observation.weight, observation.reason, *observation.evidence)

    @property
    def confidence(self) -> float:
        return max(0.0, min(0.99, self.value))


def rank(
    context: InvestigationContext,
    outcomes: Mapping[str, StepOutcome],
    *,
    failed_steps: Mapping[str, str] | None = None,
) -> tuple[Finding, ...]:
    """The report's findings, most likely root cause first."""
    signals = gather(context, outcomes)
    findings: list[Finding] = []
    root = (
        pmtud_hypothesis(context, signals)
        or mtu_mismatch_hypothesis(signals)
        or site_side_black_hole_hypothesis(context, signals)
    )
    if root is not None:
        findings.append(root)
    rejected = flow_rejected_hypothesis(context, signals)
    if rejected is not None:
        findings.append(rejected)
    findings.extend(_no_route(signals))
    # Causes beyond PMTUD (host counters, NAT/NLB errors), graded against the same onset: rules/other_drops.
    findings.extend(assess_other_drops(_merged_data(outcomes).get(OTHER_DROPS), signals.onset).findings)
    # Replies REJECTed on an interface that never saw their requests: an asymmetric return path.
    findings.extend(
        assess_return_paths(_merged_data(outcomes).get(RETURN_PATHS_QUERY), signals.onset).findings
    )
    # Their trace in the flow logs (unanswered or reset connection attempts): evidence on the cause that
    # explains it, else a finding of its own (rules/connection_attempts).
    attempts = assess_connection_attempts(_merged_data(outcomes).get(ATTEMPTS_QUERY), signals.onset)
    findings = _mismatch_explained_elsewhere(
        list(absorb_rejects(corroborate([*findings, *attempts.findings], _destination_networks(context))))
    )
    roots = [f for f in findings if f.code in _ROOT_CAUSES]
    findings.extend(_supporting(signals, explained=bool(roots)))
    # A black hole happening now, not a latent risk (docs/severity.md): only then is an interface the cause.
    black_hole_now = (
        root is not None
        and root.code is FindingCode.PMTUD_BLACKHOLE
        and root.severity is not Severity.WARNING
    )
    findings.extend(
        interface_mtu_findings(_merged_data(outcomes), signals.onset, black_hole_now=black_hole_now)
    )
    findings.extend(step_failures(failed_steps or {}))
    return with_gateway_drops(order(findings), signals)


def _mismatch_explained_elsewhere(findings: list[Finding]) -> list[Finding]:
    """An MTU mismatch that PMTUD covers is high only as the one suspect of a collapse; when another cause
    with evidence of drops now (high or critical) explains it, the mismatch is context again (warning)."""
    incidents = {Severity.CRITICAL, Severity.HIGH}
    cause = next(
        (
            f.code.value
            for f in findings
            if f.code in _ROOT_CAUSES and f.code is not FindingCode.MTU_MISMATCH and f.severity in incidents
        ),
        None,
    )
    if cause is None:
        return findings
    note = f"The collapse is explained by {cause}; PMTUD covers this hop."
    return [
        f.model_copy(update={"severity": Severity.WARNING, "detail": f"{f.detail}\n\n{note}".strip()})
        if f.code is FindingCode.MTU_MISMATCH and f.severity is Severity.HIGH
        else f
        for f in findings
    ]


def _destination_networks(context: InvestigationContext) -> tuple[str, ...]:
    """The investigation's destination as networks (none for a service name)."""
    destination = context.destination
    if destination.cidr:
        return (destination.cidr,)
    return (destination.ip,) if destination.ip else ()


def with_gateway_drops(findings: tuple[Finding, ...], signals: Signals) -> tuple[Finding, ...]:
    """Gateway drop counters that counted drops, as evidence on the first root cause (else the collapse).

    A NAT or transit gateway dropping packets in the window is context for whatever explains the outage,
    not a hypothesis of its own: AWS does not say which packets, so it neither adds nor removes confidence.
    """
    if not signals.gateway_drops:
        return findings
    evidence = tuple(
        Evidence(
            kind="metric",
            summary=f"{c.get('resource_id')}: {_number(c.get('total')):g} packets dropped in the window "
            f"({c.get('namespace')} {c.get('metric')})",
            resource_ids=(str(c.get("resource_id")),),
            data={k: c.get(k) for k in ("namespace", "metric", "resource_id", "total", "points")},
        )
        for c in signals.gateway_drops
    )
    for wanted in (_ROOT_CAUSES, {FindingCode.THROUGHPUT_COLLAPSE}):
        for index, finding in enumerate(findings):
            if finding.code in wanted:
                updated = finding.model_copy(update={"evidence": (*finding.evidence, *evidence)})
                return (*findings[:index], updated, *findings[index + 1 :])
    return findings


def order(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Most severe first; at equal severity a root cause before the findings that support it."""
    return tuple(
        sorted(
            findings,
            key=lambda f: (f.severity.rank, f.code not in _ROOT_CAUSES, -f.confidence, f.code.value, f.title),
        )
    )


def pmtud_hypothesis(context: InvestigationContext, signals: Signals) -> Finding | None:
    """A PMTUD black hole: a hop smaller than what the source sends, and no frag-needed getting back.

    Its confidence is the configuration evidence plus the symptoms minus the evidence against; its
    severity comes from the symptoms alone (``rules/severity.py``): without one it is a latent risk.
    """
    gap = _mtu_gap(signals)
    if gap is None:
        return None
    score = _Score()
    score.add(0.30, gap[0], *gap[1])
    blocked = _return_blocked(signals)
    rejects = signals.icmp_rejects_total
    if not blocked and rejects <= 0:
        return None
    for reason, evidence in blocked:
        score.add(0.25 / len(blocked), reason, *evidence)
    change = _change_before_onset(signals)
    if change is not None:
        minutes = (signals.onset - change.at).total_seconds() / 60 if signals.onset else 0
        score.add(
            0.10,
            f"{change.summary} ({minutes:.0f} min before the onset)",
            _change_evidence(change, signals.onset),
        )
    symptoms = black_hole_symptoms(signals)
    for observation in symptoms:
        score.observe(observation)
    hop = _limiting_hop(signals)
    hop_mtu = signals.path_mtu or (_int_or_none(hop.get("mtu")) if hop else None)
    for observation in black_hole_refutations(signals, hop_mtu):
        score.observe(observation)
    severity = incident_severity(symptoms, score.confidence, collapse=signals.collapse is not None)
    direction = traffic_direction(context, signals, hop)
    score.evidence.append(direction)
    hop_text = gap[2]
    if severity is Severity.WARNING:
        title = (
            f"Latent PMTUD black-hole risk between {context.source.describe()} and "
            f"{context.destination.describe()}: {hop_text}; {_risk_condition(hop, hop_mtu)}"
        )
        prose = (
            "A configuration that can drop large packets without telling the sender, with no sign in this "
            "window that it is doing so (no throughput collapse, stalled flows, rejected ICMP toward the "
            "sender or failing DF probes): a risk to verify, not an incident. "
            f"{direction.summary}. To verify: {_how_to_verify(hop, hop_mtu)}"
        )
    else:
        title = (
            f"Path MTU Discovery black hole between {context.source.describe()} and "
            f"{context.destination.describe()}: {hop_text}"
        )
        prose = (
            "Packets larger than a hop on the path are dropped there, and the ICMP 'fragmentation needed' "
            "message that would tell the sender to use smaller packets never reaches it: small packets "
            "(handshakes, health checks) pass, large transfers stall. Flow logs cannot show the drop itself "
            "(it is not an SG/NACL decision); the evidence below shows it from every side. "
            f"{direction.summary}."
        )
    return Finding(
        code=FindingCode.PMTUD_BLACKHOLE,
        severity=severity,
        confidence=score.confidence,
        title=title,
        detail=_detail(prose, score),
        resource_ids=_resource_ids(score.evidence, signals.found(FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED)),
        evidence=tuple(score.evidence),
        evidence_against=tuple(score.evidence_against),
        remediation=_black_hole_remediation(signals, change, direction),
    )


def site_side_black_hole_hypothesis(context: InvestigationContext, signals: Signals) -> Finding | None:
    """A black hole only the host agent sees: its DF probes vanish, and AWS's side has no smaller hop.

    The path model covers the AWS side (and the site's link into it); a hop it does not see — the site's
    own gateway, a WAN link, a firewall on premises — shows only in the agent's probes. The probes failing
    is itself a symptom, so this is never a latent risk.
    """
    if not any(v >= 1 for _, v in signals.black_hole_verdicts):
        return None
    score = _Score()
    symptoms = black_hole_symptoms(signals)
    for observation in symptoms:
        score.observe(observation)
    measured = signals.measured_path_mtu
    if measured is not None and signals.source_mtu and measured < signals.source_mtu:
        score.add(
            0.20,
            f"the agent measured a path MTU of {measured} toward its targets, below the {signals.source_mtu} "
            "the site sends",
        )
    if signals.path_verdict == "ok" or (signals.path_mtu and measured and measured < signals.path_mtu):
        score.add(0.15, "the AWS side of the path has no hop that small: the hop is outside what AWS shows")
    for observation in black_hole_refutations(signals, measured):
        score.observe(observation)
    severity = incident_severity(symptoms, score.confidence, collapse=signals.collapse is not None)
    where = f"larger than {measured} bytes" if measured else "above the path MTU"
    source = context.source.describe()
    fix = (
        f"the site's own gateway or WAN link: find the hop with MTU {measured or '?'} (`tracepath`, the "
        f"gateway's interface MTUs) and let it send frag-needed, or clamp the TCP MSS to "
        f"{(measured or 1280) - 40} on the site's edge"
    )
    direction = Evidence(
        kind="direction",
        summary=f"Direction site → AWS: packets from {source} {where} are lost before they reach AWS; "
        f"the device at that hop should send ICMP frag-needed to {source}; the fix goes at {fix}",
        data={
            "direction": "site → AWS",
            "drops_at": "a hop on the site's side (not in AWS's configuration)",
            "frag_needed_from": "the on-premises device in front of the smaller link",
            "frag_needed_to": context.source.describe(),
            "fix_at": fix,
            "fix_device": "the site's own gateway or WAN link",
        },
    )
    score.evidence.append(direction)
    return Finding(
        code=FindingCode.PMTUD_BLACKHOLE,
        severity=severity,
        confidence=score.confidence,
        title=f"Path MTU Discovery black hole on the site's side of {context.source.describe()}: the host "
        f"agent's DF probes {where} vanish without ICMP",
        detail=_detail(
            "The host agent's probes with the Don't Fragment bit set are lost above a size and nothing "
            "answers with frag-needed, while AWS's side of the path carries them: a device on the site's "
            f"side drops them silently. {direction.summary}.",
            score,
        ),
        evidence=tuple(score.evidence),
        evidence_against=tuple(score.evidence_against),
        remediation=Remediation(
            summary="Find the site-side hop that drops large packets silently; let it send frag-needed or "
            "clamp the MSS in front of it.",
            steps=(
                f"Where the fix goes (site → AWS): {fix}.",
                "Re-run `dropsleuth probe pmtu` toward the same targets: the verdict must clear.",
            ),
        ),
    )


def black_hole_symptoms(signals: Signals) -> list[Observation]:
    """Signs in the window that large packets are being dropped now (each one independent evidence)."""
    found: list[Observation] = []
    if signals.collapse:
        found.append(
            Observation(signals.collapse.describe(), 0.15, (_collapse_evidence(signals.collapse),), True)
        )
    rejects = signals.icmp_rejects_total
    if rejects > 0:
        found.append(
            Observation(
                f"{rejects:g} ICMP packets toward the source were REJECTed in the window (flow logs)",
                0.15,
                (
                    Evidence(
                        kind="query_rows",
                        summary="REJECTed ICMP toward the source, per minute",
                        data={"query": "icmp_rejects", "rows": _points_json(signals.icmp_rejects)},
                    ),
                ),
                True,
            )
        )
    if signals.stalled_flows:
        found.append(
            Observation(
                f"{len(signals.stalled_flows)} stalled-flow candidates (packets sent, few bytes moved)",
                0.10,
                (
                    Evidence(
                        kind="query_rows",
                        summary="stalled-flow candidates",
                        data={
                            "query": "stalled_flows",
                            "rows": [_jsonable(r) for r in signals.stalled_flows],
                        },
                    ),
                ),
                True,
            )
        )
    failing = [(t, v) for t, v in signals.black_hole_verdicts if v >= 1]
    if failing:
        found.append(
            Observation(
                f"the host agent's DF probes above the path MTU vanished without ICMP in {len(failing)} "
                "intervals (PathMtuBlackHole)",
                0.20,
                # One piece of evidence per probe target (``rules/site_measurements.py``).
                signals.agent_verdicts
                or (
                    Evidence(
                        kind="metric",
                        summary="host agent PathMtuBlackHole = 1",
                        data={"points": _points_json(failing)},
                    ),
                ),
                True,
            )
        )
    rise = frag_needed_rise(signals.retransmissions)
    if rise is not None:
        found.append(
            Observation(
                f"TCP retransmissions at the site rose from {rise.isoformat()} (host agent TcpRetransSegs)",
                0.15,
                (
                    Evidence(
                        kind="metric",
                        summary="TcpRetransSegs rising",
                        data={"rise_at": rise.isoformat(), "points": _points_json(signals.retransmissions)},
                    ),
                ),
                True,
            )
        )
    received = signals.frag_needed_after_onset()
    if received and signals.collapse and signals.collapse.recovered_at is None:
        found.append(
            Observation(
                f"the site's hosts received {received:g} frag-needed messages yet throughput did not "
                "recover: the messages do not get the senders below the hop",
                0.05,
                symptom=True,
            )
        )
    elif received is not None and received <= 0 and signals.collapse:
        found.append(
            Observation("the site's hosts received no ICMP frag-needed after the onset (host counter)", 0.05)
        )
    return found


def black_hole_refutations(signals: Signals, hop_mtu: int | None) -> list[Observation]:
    """Evidence that large packets do get through, or that nothing is stalling (negative weights)."""
    against: list[Observation] = []
    received = signals.frag_needed_after_onset()
    if received and not (signals.collapse and signals.collapse.recovered_at is None):
        against.append(
            Observation(
                f"the site's hosts did receive {received:g} frag-needed messages: PMTUD partly works", -0.20
            )
        )
    throughput = signals.host_throughput or signals.flow_throughput
    if signals.collapse is None and len(throughput) >= STEADY_MIN_POINTS:
        source = "host agent" if signals.host_throughput else "flow logs"
        values = [v for _, v in throughput]
        against.append(
            Observation(
                f"throughput held steady over the window ({len(throughput)} minutes, "
                f"{min(values):.1f}–{max(values):.1f} Mbps, {source})",
                -0.15,
                (
                    Evidence(
                        kind="metric",
                        summary=f"steady throughput ({source})",
                        data={"points": len(throughput), "min_mbps": min(values), "max_mbps": max(values)},
                    ),
                ),
            )
        )
    if signals.stalled_checked and not signals.stalled_flows:
        against.append(Observation("no stalled flows in the window (flow logs)", -0.05))
    large = _flows_larger_than(signals, hop_mtu)
    if large and hop_mtu:
        biggest = max(_number(r.get("bytes_per_packet")) for r in large)
        against.append(
            Observation(
                f"{len(large)} flow{'s' if len(large) != 1 else ''} from the source arrived averaging more "
                f"than the hop's {hop_mtu} bytes per packet (up to {biggest:.0f}): packets larger than the "
                "hop do get through",
                -0.30,
                (
                    Evidence(
                        kind="query_rows",
                        summary=f"flows averaging more than {hop_mtu} bytes per packet",
                        data={"query": "flow_packet_sizes", "rows": [_jsonable(r) for r in large[:20]]},
                    ),
                ),
            )
        )
    return against


def _flows_larger_than(signals: Signals, hop_mtu: int | None) -> list[Mapping[str, Any]]:
    """Flows recorded beyond the hop whose average packet exceeds it: proof big packets crossed it.

    Only where the source is the far side of the hop (a site sending into the VPC): the flow logs record
    at the VPC's interfaces, after the hop. Packets an instance sends are recorded before they reach a hop
    on their way out, so their size proves nothing about it.
    """
    if not hop_mtu or not signals.hops or signals.hops[0].get("kind") != "site":
        return []
    return [r for r in signals.packet_sizes if _number(r.get("bytes_per_packet")) > hop_mtu]


def traffic_direction(
    context: InvestigationContext, signals: Signals, hop: Mapping[str, Any] | None
) -> Evidence:
    """Which way large packets are lost, who should send frag-needed to whom, and where the fix goes."""
    first = signals.hops[0].get("kind") if signals.hops else None
    last = signals.hops[-1].get("kind") if signals.hops else None
    source = context.source.describe()
    if first == "site":
        direction = "site → AWS"
    elif last == "site":
        direction = "AWS → site"
    else:
        direction = "within AWS" if last in {"eni", "local", "service"} else "AWS → outside"
    hop_name = _hop_name(hop) if hop else "the smallest hop"
    kind = str(hop.get("kind")) if hop else ""
    nacls = signals.found(FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED)
    if kind == "vpn" and direction == "site → AWS":
        sender_of_icmp = "the customer gateway (it encapsulates the site's packets into the tunnel)"
        device = "the customer gateway"
        fix_at = (
            "the customer gateway: clamp the TCP MSS on its tunnel interface (or fragment before encryption)"
        )
    elif kind == "vpn":
        sender_of_icmp = f"the AWS end of {hop_name}, which never does (Site-to-Site VPN has no PMTUD)"
        device = "the customer gateway (what it advertises caps what AWS sends), or the sending instance"
        fix_at = (
            "the customer gateway: its MSS clamp rewrites the MSS the site advertises, which caps what AWS "
            "sends (or lower the sending instance's MTU toward the site)"
        )
    else:
        sender_of_icmp = hop_name
        device = f"the sender's interface, or the edge in front of {hop_name}"
        fix_at = "the sender's interface MTU or an MSS clamp at the edge in front of the hop"
    if nacls:
        acls = ", ".join(r for f in nacls for r in f.resource_ids)
        fix_at = f"{acls}: allow ICMP type 3 code 4; then {fix_at}"
        device = f"{acls} first, then {device}"
    summary = (
        f"Direction {direction}: packets from {source} larger than {hop_name}'s MTU are lost there; "
        f"{sender_of_icmp} should send ICMP frag-needed to {source}"
        + (" and a NACL on the way back denies it" if nacls else "")
        + f"; the fix goes at {fix_at}"
    )
    return Evidence(
        kind="direction",
        summary=summary,
        resource_ids=(str(hop.get("resource_id")),) if hop and hop.get("resource_id") else (),
        data={
            "direction": direction,
            "drops_at": hop_name,
            "frag_needed_from": sender_of_icmp,
            "frag_needed_to": source,
            "fix_at": fix_at,
            "fix_device": device,
        },
    )


def _risk_condition(hop: Mapping[str, Any] | None, hop_mtu: int | None) -> str:
    """The condition under which the risky path still works, in the operator's terms."""
    if not hop_mtu:
        return "works only if every sender's packets fit the smallest hop; verify"
    mss = hop_mtu - 40  # IPv4 + TCP headers (RFC 879)
    if hop and hop.get("kind") == "vpn":
        return f"works only if the customer gateway clamps MSS to ≤ {mss}; verify"
    return f"works only if senders clamp MSS to ≤ {mss} (or send at most {hop_mtu}-byte packets); verify"


def _how_to_verify(hop: Mapping[str, Any] | None, hop_mtu: int | None) -> str:
    steps = []
    if hop and hop.get("kind") == "vpn":
        steps.append(
            "read the customer gateway's MSS clamp (Cisco `show run | include adjust-mss`, Linux "
            "`iptables -t mangle -S | grep TCPMSS`)"
        )
        steps.append("record it as mss_clamp in the site registry so the next report knows")
    if hop_mtu:
        steps.append(
            f"from a site host, `dropsleuth probe pmtu` toward an instance: DF probes of {hop_mtu + 1} bytes "
            "that vanish without ICMP confirm the black hole"
        )
    return "; ".join(steps) or "run the host agent's DF probes toward the destination"


def mtu_mismatch_hypothesis(signals: Signals) -> Finding | None:
    """A smaller hop with PMTUD working: worth knowing (one extra round trip per path), not an outage."""
    gap = _mtu_gap(signals)
    if gap is None:
        return None
    score = _Score()
    score.add(0.50, gap[0], *gap[1])
    received = signals.frag_needed_after_onset()
    if received:
        score.add(0.30, f"the site's hosts received {received:g} ICMP frag-needed messages: PMTUD works")
    if signals.icmp_rejects_total <= 0:
        score.add(0.15, "no ICMP toward the source was REJECTed in the window (flow logs)")
    if not signals.collapse:
        score.add(0.05, "throughput held up over the window")
    severity = Severity.HIGH if signals.collapse else Severity.WARNING
    remediation = _first_remediation(signals.found(FindingCode.MTU_MISMATCH)) or Remediation(
        summary="Nothing is broken: PMTUD adapts. To avoid the first-packet penalty, clamp the TCP MSS "
        "at the site's edge to the path MTU minus 40 bytes."
    )
    return Finding(
        code=FindingCode.MTU_MISMATCH,
        severity=severity,
        confidence=score.confidence,
        title=f"{gap[2]}; Path MTU Discovery works here: not a black hole",
        detail=_detail(
            "A hop on the path is smaller than what an endpoint sends, and the ICMP frag-needed "
            "messages are admitted on the way back, so senders learn the path MTU and continue.",
            score,
        ),
        evidence=tuple(score.evidence),
        remediation=remediation,
    )


def flow_rejected_hypothesis(context: InvestigationContext, signals: Signals) -> Finding | None:
    """SG/NACL REJECTs of the very traffic the alarm is about (TCP to or from the symptom's port)."""
    if not signals.symptom_rejects:
        return None
    packets = sum(_number(row.get("packets")) for row in signals.symptom_rejects)
    score = _Score()
    score.add(
        0.55,
        f"{len(signals.symptom_rejects)} TCP flows on port {context.port} REJECTed ({packets:g} packets)",
        Evidence(
            kind="query_rows",
            summary=f"top REJECTed TCP flows on port {context.port}",
            resource_ids=tuple(
                sorted({str(r["interface_id"]) for r in signals.symptom_rejects if r.get("interface_id")})
            ),
            data={"query": "top_rejected_flows", "rows": [_jsonable(r) for r in signals.symptom_rejects]},
        ),
    )
    if signals.collapse:
        score.add(0.20, signals.collapse.describe(), _collapse_evidence(signals.collapse))
    if signals.reachable is False:
        score.add(0.15, "the path analysis finds the TCP path not reachable")
    change = _change_before_onset(signals)
    if change is not None:
        score.add(0.10, f"{change.summary} just before the onset", _change_evidence(change, signals.onset))
    severity = Severity.CRITICAL if signals.collapse else Severity.HIGH
    return Finding(
        code=FindingCode.FLOW_REJECTED,
        severity=severity,
        confidence=score.confidence,
        title=f"Security groups or network ACLs REJECT the traffic on port {context.port}",
        detail=_detail(
            "Flow logs record these flows as REJECT: a security group or network ACL on the path does "
            "not admit them. This is an access problem, not an MTU problem.",
            score,
        ),
        resource_ids=_resource_ids(score.evidence, ()),
        evidence=tuple(score.evidence),
        remediation=Remediation(
            summary="Find the security group or NACL that lacks the rule for this traffic and add the "
            "narrowest rule that admits it.",
            steps=(
                "Look up the ENIs in the evidence: their security groups and their subnets' NACLs.",
                (
                    f"Admit TCP port {context.port} from {context.source.describe()} (and, for NACLs, "
                    "the ephemeral ports 1024-65535 on the way back)."
                ),
            ),
        ),
    )


def step_failures(failed_steps: Mapping[str, str]) -> list[Finding]:
    """One STEP_FAILED per failed step: what could not be checked and why."""
    return [
        Finding(
            code=FindingCode.STEP_FAILED,
            severity=Severity.INFO,
            confidence=1.0,
            title=f"step {name} failed: {reason}",
            detail="The report was built without this step's evidence; the conclusions above may miss "
            "what it would have shown.",
            evidence=(Evidence(kind="step", summary=reason, data={"step": name}),),
        )
        for name, reason in sorted(failed_steps.items())
    ]


# --- supporting findings ------------------------------------------------------------------------------


def _supporting(signals: Signals, *, explained: bool) -> list[Finding]:
    findings: list[Finding] = []
    for code, found in signals.findings.items():
        if code in _PATH_VERDICTS | {FindingCode.NO_ROUTE, FindingCode.RECENT_NETWORK_CHANGE}:
            continue  # merged into the hypotheses above, or re-graded below
        if code is FindingCode.THROUGHPUT_COLLAPSE:
            continue
        if code is FindingCode.FLOW_LOGS_DISABLED:
            findings.extend(_flow_logs_finding(f, signals) for f in found)
            continue
        findings.extend(_graded(f, signals) for f in found)
    findings.extend(_changes_findings(signals))
    collapse = signals.collapse
    if collapse is not None or signals.found(FindingCode.THROUGHPUT_COLLAPSE):
        findings.append(_collapse_finding(signals, explained=explained))
    if len(signals.flaps) >= MIN_FLAPS and not signals.found(FindingCode.VPN_TUNNEL_FLAPPING):
        near = [t for t in signals.flaps if signals.onset and abs(t - signals.onset) <= FLAP_NEAR_ONSET]
        findings.append(
            Finding(
                code=FindingCode.VPN_TUNNEL_FLAPPING,
                severity=Severity.WARNING,
                confidence=0.9,
                title=f"VPN tunnel went down {len(signals.flaps)} times in the window"
                + (f", {len(near)} near the onset" if near else ""),
                detail="Dead-peer detection and BGP keepalives are small packets: a flapping tunnel "
                "during a black hole is a symptom of the same path, not necessarily its cause.",
                evidence=(
                    Evidence(
                        kind="metric",
                        summary="AWS/VPN TunnelState transitions to 0",
                        data={"flaps": [t.isoformat() for t in signals.flaps]},
                    ),
                ),
            )
        )
    return findings


def _graded(finding: Finding, signals: Signals) -> Finding:
    """A supporting finding graded by the window's symptoms (``severity.supporting_severity``)."""
    severity = supporting_severity(finding, drops_seen=signals.drops_seen)
    return finding if severity is finding.severity else finding.model_copy(update={"severity": severity})


def _flow_logs_finding(finding: Finding, signals: Signals) -> Finding:
    """FLOW_LOGS_DISABLED beside what the queries read: records in the window mean flow logs exist.

    The describe call sees only flow logs defined in this account on the VPC, its subnets or ENIs; the
    records may come from a flow log in another account (a central logging account) or one created since.
    The finding stays, as information, and says where the data came from.
    """
    if signals.flow_log_rows <= 0:
        return _graded(finding, signals)
    where = signals.flow_log_location or "the configured flow-log location"
    note = (
        f"Yet the queries read {signals.flow_log_rows} result rows from flow-log records of this traffic in "
        f"the window, from {where}: flow logs exist for these interfaces, defined where this account's "
        "DescribeFlowLogs does not show them (another account delivering to the bucket, or a flow log "
        "created since)."
    )
    return finding.model_copy(
        update={
            "severity": Severity.INFO,
            "title": f"{finding.title} in this account's flow-log configuration; records found in {where}",
            "detail": f"{finding.detail}\n\n{note}".strip(),
            "evidence": (
                *finding.evidence,
                Evidence(
                    kind="flow_log_records",
                    summary=note,
                    data={"rows": signals.flow_log_rows, "location": where},
                ),
            ),
        }
    )


def _collapse_finding(signals: Signals, *, explained: bool) -> Finding:
    given = signals.found(FindingCode.THROUGHPUT_COLLAPSE)
    collapse = signals.collapse
    title = collapse.describe() if collapse else given[0].title
    evidence = (_collapse_evidence(collapse),) if collapse else given[0].evidence
    return Finding(
        code=FindingCode.THROUGHPUT_COLLAPSE,
        severity=Severity.WARNING if explained else Severity.HIGH,
        confidence=0.9,
        title=title[:1].upper() + title[1:],
        detail="The symptom; explained by the root cause above."
        if explained
        else "No cause found on the AWS side among what was checked; look at the site (host agent "
        "probes, interface MTUs, host firewall) and at the steps that failed.",
        evidence=evidence,
    )


def _changes_findings(signals: Signals) -> list[Finding]:
    findings = []
    for change in signals.changes:
        suspect = _is_suspect(change, signals.onset)
        minutes = (signals.onset - change.at).total_seconds() / 60 if signals.onset else None
        when = f"{minutes:.0f} min before the onset" if minutes is not None else "in the window"
        findings.append(
            Finding(
                code=FindingCode.RECENT_NETWORK_CHANGE,
                severity=Severity.HIGH if suspect else Severity.INFO,
                confidence=0.8 if suspect else 0.3,
                title=f"{change.summary} ({when})",
                detail=f"{change.event_name or 'change'} by {change.actor or 'unknown'} at "
                f"{change.at.isoformat()}",
                resource_ids=change.resource_ids,
                evidence=(_change_evidence(change, signals.onset),),
            )
        )
    return findings


def _no_route(signals: Signals) -> list[Finding]:
    found = signals.found(FindingCode.NO_ROUTE)
    if not found:
        return []
    # A missing route drops everything it would carry; high once the window shows drops, else a risk.
    if signals.collapse:
        severity = Severity.CRITICAL
    else:
        severity = Severity.HIGH if signals.drops_seen else Severity.WARNING
    return [f.model_copy(update={"severity": severity}) for f in found]


# --- pieces of evidence -------------------------------------------------------------------------------


def _mtu_gap(signals: Signals) -> tuple[str, list[Evidence], str] | None:
    """(reason, evidence, short text) when a hop is smaller than what the source sends, else None."""
    verdicts = [f for code in _PATH_VERDICTS for f in signals.found(code)]
    if signals.path_verdict == "ok" and not verdicts:
        # The path model weighed what the raw figures cannot: an MSS clamp that fits the hop's MTU range
        # (AWS's generated configuration over a VPN whose cipher is not known), an endpoint's MTU.
        return None
    hop = _limiting_hop(signals)
    hop_mtu = signals.path_mtu or (_int_or_none(hop.get("mtu")) if hop else None)
    source_mtu = signals.source_mtu
    hop_name = _hop_name(hop) if hop else "a hop"
    if source_mtu and hop_mtu and hop_mtu < source_mtu:
        # A hop known only as a range (a VPN whose negotiated cipher and NAT-T are not known) says so.
        low, most = (_int_or_none(hop.get("mtu")), _int_or_none(hop.get("mtu_max"))) if hop else (None, None)
        carries = f"{hop_mtu}–{most}" if most and low == hop_mtu and most > hop_mtu else str(hop_mtu)
        text = f"{hop_name} carries {carries} bytes, the source sends {source_mtu}"
    elif verdicts:
        text = verdicts[0].title
    else:
        return None
    evidence: list[Evidence] = []
    if signals.hops:
        evidence.append(
            Evidence(
                kind="hop",
                summary=f"path hops and their MTUs; smallest: {hop_name} at {hop_mtu}",
                resource_ids=tuple(str(h["resource_id"]) for h in signals.hops if h.get("resource_id")),
                data={"hops": [_jsonable(h) for h in signals.hops], "source_mtu": source_mtu},
            )
        )
    for verdict in verdicts:
        evidence.extend(verdict.evidence)
    return f"a hop smaller than the source's packets: {text}", evidence, text


def _return_blocked(signals: Signals) -> list[tuple[str, list[Evidence]]]:
    """Why frag-needed cannot get back: a NACL denies it, or a hop never sends it."""
    reasons: list[tuple[str, list[Evidence]]] = [
        (finding.title, list(finding.evidence))
        for finding in signals.found(FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED)
    ]
    reasons.extend(
        (f"{_hop_name(hop)} never sends ICMP frag-needed (AWS documents no PMTUD there)", [])
        for hop in signals.hops
        if hop.get("sends_frag_needed") is False and _hop_is_bottleneck(hop, signals)
    )
    for finding in signals.found(FindingCode.PMTUD_BLACKHOLE):
        if not reasons:
            reasons.append((finding.title, list(finding.evidence)))
    return reasons


def _hop_is_bottleneck(hop: Mapping[str, Any], signals: Signals) -> bool:
    mtu = _int_or_none(hop.get("mtu"))
    return bool(mtu and signals.source_mtu and mtu < signals.source_mtu)


def _limiting_hop(signals: Signals) -> Mapping[str, Any] | None:
    """The hop the path model names as limiting, else the smallest hop after the sender's own."""
    named = signals.limiting_hop
    if named:
        for hop in signals.hops:
            if hop.get("resource_id") == named:
                return hop
    candidates = signals.hops[1:] if len(signals.hops) > 1 else signals.hops
    sized = [h for h in candidates if _int_or_none(h.get("mtu"))]
    return min(sized, key=lambda h: _int_or_none(h.get("mtu")) or 0) if sized else None


def _hop_name(hop: Mapping[str, Any]) -> str:
    kind = str(hop.get("name") or hop.get("kind") or "hop")
    resource = hop.get("resource_id")
    return f"{kind} {resource}" if resource else kind


def _change_before_onset(signals: Signals) -> Change | None:
    suspects = [c for c in signals.changes if _is_suspect(c, signals.onset)]
    return max(suspects, key=lambda c: c.at) if suspects else None


def _is_suspect(change: Change, onset: datetime | None) -> bool:
    return onset is not None and onset - CHANGE_SUSPECT_BEFORE_ONSET <= change.at <= onset


def _collapse_evidence(collapse: Collapse) -> Evidence:
    return Evidence(
        kind="metric",
        summary=collapse.describe(),
        data={
            "source": collapse.source,
            "onset": collapse.onset.isoformat(),
            "baseline_mbps": round(collapse.baseline, 3),
            "during_mbps": round(collapse.during, 3),
            "recovered_at": collapse.recovered_at.isoformat() if collapse.recovered_at else None,
        },
    )


def _change_evidence(change: Change, onset: datetime | None) -> Evidence:
    return Evidence(
        kind="change_event",
        summary=change.summary,
        resource_ids=change.resource_ids,
        data={
            "at": change.at.isoformat(),
            "event_name": change.event_name,
            "actor": change.actor,
            "minutes_before_onset": round((onset - change.at).total_seconds() / 60, 1) if onset else None,
        },
    )


def _black_hole_remediation(signals: Signals, change: Change | None, direction: Evidence) -> Remediation:
    # Where, not what: the steps below say what to change there (one MSS step, with the hop's figures).
    where = direction.data.get("fix_device") or direction.data["fix_at"]
    steps: list[str] = [f"Where the fix goes ({direction.data['direction']}): {where}."]
    commands: list[str] = []
    if change is not None:
        steps.append(f"Undo or correct the change made just before the onset: {change.summary}.")
    hop = _limiting_hop(signals)
    hop_mtu = signals.path_mtu or (_int_or_none(hop.get("mtu")) if hop else None)
    for code in (
        FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED,
        FindingCode.PMTUD_BLACKHOLE,
        FindingCode.MTU_MISMATCH,
    ):
        for finding in signals.found(code):
            if finding.remediation:
                # The summaries only: each source finding, listed below the root cause, keeps its details.
                # The path verdicts' summaries say "make the packets fit" in their own words; where the
                # smallest hop is known, the one MSS step below says it with the figures instead.
                if code is FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED or not hop_mtu:
                    steps.append(finding.remediation.summary)
                commands.extend(finding.remediation.commands)
    if hop_mtu:
        # TCP MSS = MTU − 20 (IPv4 header) − 20 (TCP header); RFC 879.
        steps.append(
            f"Clamp the TCP MSS at the site's edge to {hop_mtu - 40} (path MTU {hop_mtu} − 40), or set the "
            f"sending interface's MTU to at most {hop_mtu}, so no packet needs the ICMP to get through."
        )
    steps.append(
        "Allow exactly ICMP type 3 code 4 (and ICMPv6 type 2) inbound and outbound where MTUs differ, as "
        "AWS's VPC User Guide recommends; scanners that flag 'ICMP open' do not distinguish it."
    )
    return Remediation(
        summary="Let the frag-needed ICMP through and make the packets fit the smallest hop.",
        steps=tuple(dict.fromkeys(steps)),
        commands=tuple(dict.fromkeys(commands)),
    )


def _first_remediation(findings: Iterable[Finding]) -> Remediation | None:
    return next((f.remediation for f in findings if f.remediation), None)


def _detail(prose: str, score: _Score) -> str:
    lines = "\n".join(f"- {reason}" for reason in score.reasons)
    text = f"{prose}\n\nEvidence that agrees:\n{lines}"
    if score.against:
        text += "\n\nEvidence against:\n" + "\n".join(f"- {reason}" for reason in score.against)
    return text


def _resource_ids(evidence: Iterable[Evidence], findings: Iterable[Finding]) -> tuple[str, ...]:
    ids: list[str] = []
    for item in evidence:
        ids.extend(item.resource_ids)
    for finding in findings:
        ids.extend(finding.resource_ids)
    return tuple(dict.fromkeys(ids))


def _symptom_rejects(context: InvestigationContext, rows: object) -> list[Mapping[str, Any]]:
    if not isinstance(rows, list | tuple):
        return []
    return [
        row
        for row in rows
        if isinstance(row, Mapping)
        and _number(row.get("protocol")) == TCP
        and context.port in {_number(row.get("dstport")), _number(row.get("srcport"))}
    ]


def _changes(raw: object, findings: Iterable[Finding]) -> tuple[Change, ...]:
    changes: dict[tuple[datetime, str], Change] = {}
    for item in raw if isinstance(raw, list | tuple) else ():
        if not isinstance(item, Mapping):
            continue
        at = _time_or_none(item.get("at"))
        if at is None:
            continue
        change = Change(
            at=at,
            summary=str(item.get("summary") or item.get("event_name") or "network change"),
            event_name=str(item.get("event_name") or ""),
            actor=str(item.get("actor") or ""),
            resource_ids=tuple(str(r) for r in _items(item.get("resource_ids"))),
        )
        changes[(at, change.summary)] = change
    for finding in findings:
        for evidence in finding.evidence:
            at = _time_or_none(evidence.data.get("at") or evidence.data.get("event_time"))
            if at is not None and not any(key[0] == at for key in changes):
                changes[(at, finding.title)] = Change(
                    at=at,
                    summary=finding.title,
                    event_name=str(evidence.data.get("event_name") or ""),
                    actor=str(evidence.data.get("actor") or evidence.data.get("username") or ""),
                    resource_ids=finding.resource_ids,
                )
    return tuple(sorted(changes.values(), key=lambda c: c.at))


# --- what one step's evidence says about another's ----------------------------------------------------


def measured_path_mtu_notes(outcomes: Mapping[str, StepOutcome]) -> tuple[str, ...]:
    """The host agent's measured path MTU per probe target (the metrics step) beside the modelled one.

    A measurement below the model's path MTU means a hop or a clamp the model does not see. The measurement
    is never the sender's MTU (it is the smallest hop's), so it only informs the report.
    """
    data = _merged_data(outcomes)
    by_target = data.get("path_mtu_by_target")
    modelled = _int_or_none(data.get("path_mtu"))
    notes = []
    for target, rows in by_target.items() if isinstance(by_target, Mapping) else ():
        values = [value for _, value in _series(rows, "at", "value")]
        if not values:
            continue
        measured = min(values)
        line = f"host agent measured path MTU {measured:g} toward {target} (modelled: {modelled or '?'})"
        if modelled is not None and measured < modelled:
            line += "; below the model's: a hop or clamp the model does not see"
        notes.append(line)
    return tuple(notes)


# --- the timeline the report charts -------------------------------------------------------------------


def timeline(context: InvestigationContext, outcomes: Mapping[str, StepOutcome]) -> dict[str, Any]:
    """Series and markers for the report's chart: throughput, frag-needed, ICMP rejects; onset, changes,
    flaps, the alarm."""
    signals = gather(context, outcomes)
    throughput = signals.host_throughput or signals.flow_throughput
    markers: list[dict[str, str]] = []
    if signals.onset:
        markers.append({"kind": "onset", "at": signals.onset.isoformat(), "label": "onset"})
    if signals.collapse and signals.collapse.recovered_at:
        markers.append(
            {"kind": "recovery", "at": signals.collapse.recovered_at.isoformat(), "label": "recovery"}
        )
    markers.extend(
        {"kind": "change", "at": c.at.isoformat(), "label": c.event_name or c.summary[:40]}
        for c in signals.changes
    )
    markers.extend({"kind": "flap", "at": t.isoformat(), "label": "tunnel down"} for t in signals.flaps)
    alarm_at = _time_or_none(context.alarm.get("changed_at")) if context.alarm else None
    if alarm_at:
        markers.append({"kind": "alarm", "at": alarm_at.isoformat(), "label": "alarm"})
    return {
        "window": {"start": context.window.start.isoformat(), "end": context.window.end.isoformat()},
        "throughput_source": "host" if signals.host_throughput else "flow-log" if throughput else None,
        "throughput_mbps": _points_json(throughput),
        "frag_needed": _points_json(signals.frag_needed),
        "icmp_rejects": _points_json(signals.icmp_rejects),
        "markers": sorted(markers, key=lambda m: m["at"]),
    }


# --- small conversions --------------------------------------------------------------------------------


def _merged_data(outcomes: Mapping[str, StepOutcome]) -> dict[str, Any]:
    """Every step's data keys in one mapping (the steps' keys are distinct; the first one wins)."""
    data: dict[str, Any] = {}
    for outcome in outcomes.values():
        for key, value in outcome.data.items():
            data.setdefault(key, value)
    return data


def _items(value: object) -> list[Any] | tuple[Any, ...]:
    """A list from step data, or nothing when the data is not a list (a step's bug must not stop us)."""
    return value if isinstance(value, list | tuple) else ()


def _series(rows: object, time_key: str, value_keys: str | tuple[str, ...]) -> tuple[Point, ...]:
    keys = (value_keys,) if isinstance(value_keys, str) else value_keys
    points: list[Point] = []
    for row in rows if isinstance(rows, list | tuple) else ():
        if isinstance(row, Mapping):
            at = _time_or_none(row.get(time_key))
            value = next((row[k] for k in keys if row.get(k) is not None), None)
        elif isinstance(row, list | tuple) and len(row) == 2:
            at, value = _time_or_none(row[0]), row[1]
        else:
            continue
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if at is not None and numeric and math.isfinite(value):  # type: ignore[arg-type]
            points.append((at, float(value)))  # type: ignore[arg-type]
    return tuple(sorted(points))


def _measured_path_mtu(by_target: object) -> int | None:
    if not isinstance(by_target, Mapping):
        return None
    values = [value for rows in by_target.values() for _, value in _series(rows, "at", "value")]
    return int(min(values)) if values else None


def _time_or_none(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float | str):
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            return None
    return None


def _number(value: object) -> float:
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return 0.0
    return 0.0


def _points_json(points: Sequence[Point]) -> list[list[Any]]:
    return [[t.isoformat(), round(v, 4)] for t, v in points]


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
