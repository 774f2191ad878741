"""Host-side causes of dropped TCP beyond PMTUD, from the agent's counters (pure: no I/O, no clock).

Input: for each host, the per-minute series the agent published (metric names from
``metrics_catalog.HOST_DROP_METRICS``), split at the onset (``rules/counter_windows.py``). Output: one
finding per cause that counted (the hosts and numbers before/during as evidence, the fix) and a
"checked, clean" line for each cause whose counters counted nothing — or an "unknown" line for each cause
no host published counters for. What each counter means and where that is documented:
docs/runbook/other-drops.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from dropsleuth.metrics_catalog import CONNTRACK_USED, HOST_DROP_METRICS, HOST_GAUGE_METRICS
from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules.counter_windows import CounterWindow, Grade, grade_cause, split_at_onset
from dropsleuth.rules.host_firewall import accept_before_commands, parse_rule_reference
from dropsleuth.rules.onset import Point
from dropsleuth.rules.qdisc import parse_qdisc_reference, qdisc_commands

CONNTRACK_NEAR_FULL_PERCENT = 90.0
"""A conntrack table this full is a risk (warning) even before it drops: the next burst will."""
RETRANS_RATIO_MIN = 0.01
"""Retransmitted / sent segments since the onset below 1% is ordinary loss recovery, not a symptom."""


def _metric(counter: str) -> str:
    return HOST_DROP_METRICS[counter].name


def _gauge(key: str) -> str:
    return HOST_GAUGE_METRICS[key].name


@dataclass(frozen=True)
class Cause:
    """A cause beyond PMTUD: the counters that show it, what it means and the exact fix."""

    code: FindingCode
    name: str
    metrics: tuple[str, ...]
    meaning: str
    fix: Remediation
    unknown_why: str = ""
    """Appended to the "unknown" line: why an agent may not publish these metrics."""


HOST_CAUSES: tuple[Cause, ...] = (
    Cause(
        FindingCode.LISTEN_QUEUE_OVERFLOW,
        "accept queue overflow",
        (_metric("TcpExt.ListenOverflows"), _metric("TcpExt.ListenDrops")),
        "a listening socket's accept queue was full: the kernel dropped completed handshakes and SYNs, "
        "so clients wait out SYN retransmission timeouts (1 s, 3 s, 7 s …) before they connect",
        Remediation(
            summary="Give the listener a longer accept queue and make the application accept faster.",
            steps=(
                "On the host, `ss -ltn`: for each listener Recv-Q is the queue now, Send-Q its backlog.",
                (
                    "listen()'s backlog is capped at net.core.somaxconn: raise both (the application's own "
                    "setting, e.g. nginx `listen 443 backlog=4096;`, then somaxconn)."
                ),
                "If the queue fills anyway, the application accepts too slowly: add workers.",
            ),
            commands=(
                "ss -ltn",
                "sysctl net.core.somaxconn",
                (
                    "sysctl -w net.core.somaxconn=4096 && echo 'net.core.somaxconn = 4096' > "
                    "/etc/sysctl.d/60-somaxconn.conf"
                ),
            ),
        ),
    ),
    Cause(
        FindingCode.RECEIVE_BUFFER_PRUNING,
        "receive-buffer pressure",
        (
            _metric("TcpExt.TCPRcvQDrop"),
            _metric("TcpExt.RcvPruned"),
            _metric("TcpExt.TCPBacklogDrop"),
            _metric("TcpExt.PruneCalled"),
        ),
        "sockets' receive queues ran over their memory limit: the kernel pruned queued data or dropped "
        "arriving segments, which the sender then retransmits",
        Remediation(
            summary="Let receive buffers grow (tcp_rmem / rmem_max) and make the application read faster.",
            steps=(
                (
                    "Check net.ipv4.tcp_rmem (min default max) and net.core.rmem_max; an application "
                    "that sets SO_RCVBUF is capped by rmem_max and loses autotuning."
                ),
                "Raise the maximum, then confirm TcpRcvQDrop/RcvPruned stop counting.",
            ),
            commands=(
                "sysctl net.ipv4.tcp_rmem net.core.rmem_max",
                "sysctl -w net.ipv4.tcp_rmem='4096 131072 16777216' net.core.rmem_max=16777216",
                "nstat -az TcpExtTCPRcvQDrop TcpExtRcvPruned TcpExtPruneCalled TcpExtTCPBacklogDrop",
            ),
        ),
    ),
    Cause(
        FindingCode.NIC_DROPS,
        "interface and driver drops",
        (
            _metric("nic.rx_dropped"),
            _metric("nic.rx_errors"),
            _metric("nic.rx_crc_errors"),
            _metric("nic.tx_dropped"),
            _metric("softnet.dropped"),
        ),
        "the interfaces or the kernel's per-CPU input backlog dropped packets before TCP saw them "
        "(ring buffer full, backlog full, or frames damaged on the wire: CRC errors)",
        Remediation(
            summary="Find which counter counts: ring size for rx_dropped, backlog for softnet drops, the "
            "physical link for CRC errors.",
            steps=(
                "`ip -s link show` per interface; `ethtool -g IFACE` shows the ring size and its maximum.",
                "Softnet drops: raise net.core.netdev_max_backlog; spread interrupts (RPS/irqbalance).",
                "CRC errors are a cable, optic or switch port: replace it.",
            ),
            commands=(
                "ip -s link show",
                "ethtool -g eth0 && ethtool -G eth0 rx 4096",
                "sysctl -w net.core.netdev_max_backlog=4096",
            ),
        ),
    ),
    Cause(
        FindingCode.CONNTRACK_TABLE_FULL,
        "connection-tracking table full",
        (_metric("conntrack.drop"), _metric("conntrack.insert_failed"), _metric("conntrack.early_drop")),
        "netfilter's connection-tracking table was full: new connections were dropped (the kernel logs "
        '"nf_conntrack: table full, dropping packet")',
        Remediation(
            summary="Make room in the conntrack table: raise nf_conntrack_max, shorten idle timeouts, or "
            "stop tracking flows that need no state.",
            steps=(
                "Compare net.netfilter.nf_conntrack_count with nf_conntrack_max.",
                "Raise the maximum (each entry is a few hundred bytes of kernel memory).",
                "For high-volume stateless traffic, a `notrack` rule in the raw table skips tracking.",
            ),
            commands=(
                "sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max",
                "sysctl -w net.netfilter.nf_conntrack_max=524288",
                "conntrack -S",
            ),
        ),
    ),
    Cause(
        FindingCode.REVERSE_PATH_FILTER_DROPS,
        "reverse-path filter drops",
        (_metric("TcpExt.IPReversePathFilter"),),
        "strict reverse-path filtering (rp_filter=1) dropped packets that arrived on an interface other "
        "than the one the host would route the reply out of: an asymmetric path",
        Remediation(
            summary="Make the path symmetric, or switch the interface to loose reverse-path filtering.",
            steps=(
                (
                    "Find the interface: `sysctl -a | grep '\\.rp_filter'` (the kernel uses the maximum of "
                    "conf.all and conf.IFACE)."
                ),
                (
                    "Fix the routing so replies leave where requests arrive; otherwise set "
                    "rp_filter=2 (loose) on both conf.all and the interface."
                ),
            ),
            commands=(
                "sysctl -a 2>/dev/null | grep '\\.rp_filter'",
                "sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.eth1.rp_filter=2",
            ),
        ),
    ),
    Cause(
        FindingCode.ENA_ALLOWANCE_EXCEEDED,
        "EC2 network allowance exceeded",
        (
            _metric("ena.bw_in_allowance_exceeded"),
            _metric("ena.bw_out_allowance_exceeded"),
            _metric("ena.pps_allowance_exceeded"),
            _metric("ena.conntrack_allowance_exceeded"),
            _metric("ena.linklocal_allowance_exceeded"),
        ),
        "the instance went over one of EC2's per-instance network maximums (bandwidth, packets per "
        "second, tracked connections, link-local services) and AWS queued then dropped the excess",
        Remediation(
            summary="Stay within the instance's network maximums: a larger or network-optimised instance "
            "type, fewer tracked connections, or spread the load.",
            steps=(
                (
                    "bw_*/pps_*: the instance type's limits are on its specification page; microbursts "
                    "exceed them even when the CloudWatch averages look low."
                ),
                (
                    "conntrack_*: allow the traffic in both directions with 0.0.0.0/0 rules so security "
                    "groups do not track it (untracked connections), or shorten the ENI's idle timeouts."
                ),
                "linklocal_*: cache DNS answers locally; do not poll the instance metadata service.",
            ),
            commands=("ethtool -S eth0 | grep allowance",),
        ),
    ),
    Cause(
        FindingCode.HOST_FIREWALL_DROPS,
        "host firewall drops",
        (_metric("firewall.dropped"),),
        "the host's own firewall (nftables/iptables) dropped or rejected packets by a rule or a chain's "
        "drop policy",
        # The generic fix; a finding names the rule that counted and the commands for it (_firewall_rules).
        Remediation(
            summary="See which rule drops, then let the traffic that must pass through ahead of it; the "
            "drop is there on purpose until someone who knows the host judges otherwise.",
            steps=(
                "List the drop rules with their counters and find the one that grows.",
                (
                    "Insert an accept for exactly the traffic that must pass before that rule, then persist "
                    "it in the firewall's own configuration (nftables.conf, iptables-persistent, firewalld, "
                    "ufw)."
                ),
            ),
            commands=(
                "nft -a list ruleset | grep -E 'drop|reject'",
                "iptables-save -c | grep -E 'DROP|REJECT'",
            ),
        ),
        unknown_why=" (the agent reads nft/iptables counters only with CAP_NET_ADMIN: docs/agent.md)",
    ),
    # Not folded into NIC_DROPS: the fix differs. A NIC or softnet drop is a ring or backlog too small for
    # the packets arriving; a qdisc drop is the host's own egress queueing discipline (a shaper's rate, a
    # queue's limit) discarding what it was configured not to send: the fix is that qdisc's parameters.
    Cause(
        FindingCode.QDISC_DROPS,
        "queueing discipline (qdisc) drops",
        (_metric("qdisc.dropped"),),
        "an interface's queueing discipline dropped packets the host was sending: a shaper (tbf, htb) "
        "over its rate with its queue full, or a queue (pfifo, fq_codel) at its packet limit",
        Remediation(
            summary="Find the qdisc that drops and raise its rate or limit to what the link carries.",
            steps=(
                "`tc -s qdisc show`: the root qdisc whose `dropped` grows, and its kind and parameters.",
                (
                    "tbf/htb: the configured rate is below the traffic; raise it (or remove a shaper nobody "
                    "wants) — tc-tbf(8), tc-htb(8). pfifo/bfifo/fq_codel: raise `limit`."
                ),
                "Check it again a minute later: `dropped` stops growing.",
            ),
            commands=(
                "tc -s qdisc show",
                "tc qdisc change dev IFACE root tbf rate RATE burst BURST limit LIMIT",
                "tc qdisc change dev IFACE root fq_codel limit 10240",
            ),
        ),
        unknown_why=" (tc is not installed on the host, or an older agent)",
    ),
)


@dataclass(frozen=True)
class HostSeries:
    """What one host's agent published in the window: metric name → per-minute points."""

    host: str
    metrics: Mapping[str, Sequence[Point]]
    firewall_rules: Mapping[str, Sequence[Point]] = field(default_factory=dict)
    """``HostFirewallRuleDrops`` by its ``Rule`` dimension (a rule reference): the rules that counted."""
    qdiscs: Mapping[str, Sequence[Point]] = field(default_factory=dict)
    """``QdiscDropsByQdisc`` by its ``Qdisc`` dimension (a qdisc reference): the qdiscs that dropped."""


@dataclass
class Assessment:
    """Findings for the causes that counted, and the report's "checked" lines for the others."""

    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)


def assess_host_drops(hosts: Sequence[HostSeries], onset: datetime | None) -> Assessment:
    """Every host cause ruled in (a finding) or out (a checked line), with the numbers."""
    result = Assessment()
    if not hosts:
        result.checked.append(
            "host drop counters (accept queue, receive buffers, NIC, conntrack, rp_filter, ENA "
            "allowances): unknown — no host agent published them for this site in the window"
        )
        return result
    for cause in HOST_CAUSES:
        _assess_cause(cause, hosts, onset, result)
    _assess_conntrack_level(hosts, result)
    _assess_retransmissions(hosts, onset, result)
    return result


def _assess_cause(cause: Cause, hosts: Sequence[HostSeries], onset: datetime | None, out: Assessment) -> None:
    counted: list[tuple[str, str, CounterWindow]] = []
    published = 0
    for host in hosts:
        for metric in cause.metrics:
            if metric not in host.metrics:
                continue
            published += 1
            window = split_at_onset(host.metrics[metric], onset)
            if window.grade is not Grade.CLEAN:
                counted.append((host.host, metric, window))
    names = ", ".join(h.host for h in hosts)
    if not published:
        out.checked.append(
            f"{cause.name}: unknown — no host published {', '.join(cause.metrics)}{cause.unknown_why}"
        )
        return
    if not counted:
        out.checked.append(
            f"{cause.name}: checked, clean — {', '.join(cause.metrics)} counted 0 on {names}"
            + _uncounted_note(cause, hosts)
        )
        return
    finding = _finding(cause, counted, onset)
    if cause.code is FindingCode.HOST_FIREWALL_DROPS:
        finding = _with_firewall_rules(finding, hosts, onset)
    elif cause.code is FindingCode.QDISC_DROPS:
        finding = _with_qdiscs(finding, hosts, onset)
    out.findings.append(_with_settings(finding, hosts))


def latest(points: Sequence[Point]) -> float | None:
    """The last value of a level (a setting, a gauge) in the window."""
    return max(points)[1] if points else None


def _uncounted_note(cause: Cause, hosts: Sequence[HostSeries]) -> str:
    """Drop rules that keep no counter make "clean" a statement about the other rules only: say so."""
    if cause.code is not FindingCode.HOST_FIREWALL_DROPS:
        return ""
    metric = _gauge("firewall.uncounted_rules")
    blind = [(h.host, latest(h.metrics.get(metric, ()))) for h in hosts]
    named = [f"{n:.0f} on {host}" for host, n in blind if n]
    if not named:
        return ""
    return (
        f"; drop/reject rules without a counter ({', '.join(named)}: nft rules without `counter`, nft "
        "chain policies) drop unseen"
    )


def _finding(cause: Cause, counted: list[tuple[str, str, CounterWindow]], onset: datetime | None) -> Finding:
    graded = grade_cause(counted, lambda c: c[2], onset_known=onset is not None)
    _, lead_metric, lead_window = graded.lead
    hosts = tuple(dict.fromkeys(host for host, _, _ in graded.shown))
    name = f"{cause.name[:1].upper()}{cause.name[1:]} on {', '.join(hosts)}: {lead_metric}"
    title = (
        f"{name} {lead_window.during_total:,.0f} since the onset, {graded.when}"
        if onset
        else f"{name} {lead_window.during_total:,.0f} in the window"
    )
    evidence = tuple(
        Evidence(
            kind="metric",
            summary=f"{host}: {metric} {window.describe()}",
            resource_ids=(host,),
            data={"host": host, "metric": metric, **window.as_data()},
        )
        for host, metric, window in counted
    )
    return Finding(
        code=cause.code,
        severity=graded.severity,
        confidence=graded.confidence,
        title=title,
        detail=f"The counter shows {cause.meaning}.",
        resource_ids=hosts,
        evidence=evidence,
        remediation=cause.fix,
    )


def _assess_conntrack_level(hosts: Sequence[HostSeries], out: Assessment) -> None:
    """A table nearly full is a risk (warning) even while nothing is dropped yet; on a host whose table
    already drops, its fill is evidence on that finding instead (one finding, not a risk beside it)."""
    full = [
        (h.host, max(v for _, v in h.metrics[CONNTRACK_USED.name]))
        for h in hosts
        if h.metrics.get(CONNTRACK_USED.name)
    ]
    near = [(host, peak) for host, peak in full if peak >= CONNTRACK_NEAR_FULL_PERCENT]
    if not near:
        return
    evidence = {
        host: Evidence(
            kind="metric",
            summary=f"{host}: {CONNTRACK_USED.name} peaked at {peak:.0f}%",
            resource_ids=(host,),
            data={"host": host, "metric": CONNTRACK_USED.name, "peak_percent": peak},
        )
        for host, peak in near
    }
    for index, finding in enumerate(out.findings):
        if finding.code is FindingCode.CONNTRACK_TABLE_FULL:
            shown = tuple(evidence.pop(h) for h in finding.resource_ids if h in evidence)
            out.findings[index] = finding.model_copy(update={"evidence": (*finding.evidence, *shown)})
    if not evidence:
        return
    conntrack = next(c for c in HOST_CAUSES if c.code is FindingCode.CONNTRACK_TABLE_FULL)
    risk = Finding(
        code=FindingCode.CONNTRACK_TABLE_FULL,
        severity=Severity.WARNING,
        confidence=0.5,
        title=f"Connection-tracking table {max(p for h, p in near if h in evidence):.0f}% full on "
        f"{', '.join(evidence)} (a risk: nothing dropped yet)",
        detail="At 100% the kernel drops new connections.",
        resource_ids=tuple(evidence),
        evidence=tuple(evidence.values()),
        remediation=conntrack.fix,
    )
    out.findings.append(_with_settings(risk, hosts))


def _assess_retransmissions(hosts: Sequence[HostSeries], onset: datetime | None, out: Assessment) -> None:
    """Retransmitted / sent segments, before and since the onset: the symptom that ties the causes."""
    retrans_metric, sent_metric = _metric("Tcp.RetransSegs"), _metric("Tcp.OutSegs")
    rising: list[Evidence] = []
    read = []
    for host in hosts:
        if retrans_metric not in host.metrics or sent_metric not in host.metrics:
            continue
        read.append(host.host)
        retrans = split_at_onset(host.metrics[retrans_metric], onset)
        sent = split_at_onset(host.metrics[sent_metric], onset)
        during = retrans.during_total / sent.during_total if sent.during_total else 0.0
        before = retrans.before_total / sent.before_total if sent.before_total else 0.0
        if onset is not None and during >= RETRANS_RATIO_MIN and during >= 3 * before:
            rising.append(
                Evidence(
                    kind="metric",
                    summary=f"{host.host}: {during:.1%} of segments retransmitted since the onset "
                    f"({before:.2%} before)",
                    resource_ids=(host.host,),
                    data={"host": host.host, "ratio_before": before, "ratio_during": during},
                )
            )
    if not read:
        out.checked.append(f"TCP retransmissions: unknown — no host published {retrans_metric}/{sent_metric}")
    elif not rising:
        out.checked.append(f"TCP retransmissions: checked, not rising at the onset on {', '.join(read)}")
    else:
        out.findings.append(
            Finding(
                code=FindingCode.TCP_RETRANSMISSIONS_RISING,
                severity=Severity.WARNING,
                confidence=0.7,
                title=f"TCP retransmissions rose at the onset on {len(rising)} host(s)",
                detail="The symptom of drops somewhere on the path; the cause is whichever counter rose "
                "with it.",
                resource_ids=tuple(e.resource_ids[0] for e in rising),
                evidence=tuple(rising),
            )
        )


# --- a finding's rules and settings ---------------------------------------------------------------------

FIREWALL_RULES_SHOWN = 5


def _rule_window(
    host: HostSeries, points: Sequence[Point], onset: datetime | None, total_metric: str
) -> CounterWindow:
    """A rule's (or qdisc's) totals before and since the onset, over the host's minutes, not its own.

    Such a series has a point only in the minutes it counted (the agent publishes nothing for a rule that
    did not), so its own point count is not the window's length: the host total, published every cycle,
    says how many minutes the agent was there.
    """
    rule = split_at_onset(points, onset)
    total = split_at_onset(host.metrics.get(_metric(total_metric), ()), onset)
    return CounterWindow(
        before_total=rule.before_total,
        before_minutes=max(total.before_minutes, rule.before_minutes),
        during_total=rule.during_total,
        during_minutes=max(total.during_minutes, rule.during_minutes),
        first_counted=rule.first_counted,
    )


def _counted_by_reference(
    finding: Finding,
    series: Sequence[tuple[HostSeries, Mapping[str, Sequence[Point]]]],
    onset: datetime | None,
    total_metric: str,
) -> list[tuple[str, str, CounterWindow]]:
    """(host, reference, window) of each rule or qdisc of the finding's hosts that counted, the most since
    the onset first."""
    counted = [
        (host.host, reference, _rule_window(host, points, onset, total_metric))
        for host, by_reference in series
        if host.host in finding.resource_ids
        for reference, points in by_reference.items()
    ]
    counted = [c for c in counted if c[2].during_total > 0 or c[2].before_total > 0]
    return sorted(counted, key=lambda c: (-c[2].during_total, -c[2].before_total, c[0], c[1]))


def _with_firewall_rules(finding: Finding, hosts: Sequence[HostSeries], onset: datetime | None) -> Finding:
    """The rules that counted (``HostFirewallRuleDrops``), most since the onset first, and the commands to
    inspect the lead rule and to insert an accept just before it."""
    counted = _counted_by_reference(
        finding, [(host, host.firewall_rules) for host in hosts], onset, "firewall.dropped"
    )
    if not counted:
        return finding
    evidence = []
    for host, reference, window in counted[:FIREWALL_RULES_SHOWN]:
        parsed = parse_rule_reference(reference)
        evidence.append(
            Evidence(
                kind="firewall_rule",
                summary=f"{host}: `{reference}` {window.describe()}",
                resource_ids=(host,),
                data={
                    "host": host,
                    "rule": reference,
                    **(
                        {
                            "source": parsed.source,
                            "table": parsed.table,
                            "chain": parsed.chain,
                            "handle": parsed.handle,
                            "position": parsed.position,
                            "text": parsed.text,
                        }
                        if parsed
                        else {}
                    ),
                    **window.as_data(),
                },
            )
        )
    lead_host, lead_reference, _ = counted[0]
    lead = parse_rule_reference(lead_reference)
    remediation = finding.remediation
    if lead is not None and remediation is not None:
        where = "the chain's drop policy" if lead.position is None and lead.handle is None else "the rule"
        remediation = Remediation(
            summary=remediation.summary,
            steps=(
                f"On {lead_host}, {where} that counted most: `{lead_reference}`.",
                (
                    "Show it in its chain with its counters (first command) and judge whether the traffic "
                    "it drops should pass."
                ),
                (
                    "If it should: replace <MATCH> with the narrowest match of that traffic (e.g. "
                    "`ip saddr 172.22.31.0/24 tcp dport 443` for nft, `-s 172.22.31.0/24 -p tcp --dport 443` "
                    "for iptables) and run the second command, which inserts the accept just before it."
                ),
                (
                    "Persist it in the firewall's own configuration (nftables.conf, iptables-persistent, "
                    "firewalld, ufw), or the next reload drops it. Rollback: delete the accept you inserted."
                ),
            ),
            commands=accept_before_commands(lead),
        )
    return finding.model_copy(
        update={
            "title": f"{finding.title} — lead rule: {lead_reference}",
            "evidence": (*finding.evidence, *evidence),
            "remediation": remediation,
        }
    )


SETTINGS_SHOWN: dict[FindingCode, tuple[str, ...]] = {
    FindingCode.LISTEN_QUEUE_OVERFLOW: (
        "setting.somaxconn",
        "listen.fullest_backlog",
        "listen.fullest_queue",
    ),
    FindingCode.RECEIVE_BUFFER_PRUNING: ("setting.tcp_rmem_max", "setting.rmem_max"),
    FindingCode.REVERSE_PATH_FILTER_DROPS: ("setting.rp_filter_all", "setting.rp_filter_strict_interfaces"),
    FindingCode.CONNTRACK_TABLE_FULL: ("setting.nf_conntrack_max",),
}
"""The agent's settings gauges (``HOST_GAUGE_METRICS`` keys) that explain each cause."""

_SETTING_NAMES = {
    "setting.somaxconn": "net.core.somaxconn",
    "setting.tcp_rmem_max": "net.ipv4.tcp_rmem (max)",
    "setting.rmem_max": "net.core.rmem_max",
    "setting.rp_filter_all": "net.ipv4.conf.all.rp_filter",
    "setting.nf_conntrack_max": "net.netfilter.nf_conntrack_max",
}
_RP_FILTER_MODES = {0: "off", 1: "strict", 2: "loose"}
_STEPS_REPLACED = frozenset({FindingCode.LISTEN_QUEUE_OVERFLOW})
"""Causes whose generic steps the settings make wrong (raising somaxconn when the application's backlog is
the limit): their steps are replaced, not prefixed."""
_SLOW_ACCEPT = (
    "If the queue still fills, the application accepts too slowly: add workers, or find what it waits on."
)


def _host_settings(host: HostSeries, keys: Sequence[str]) -> dict[str, int]:
    values = {}
    for key in keys:
        value = latest(host.metrics.get(_gauge(key), ()))
        if value is not None:
            values[key] = int(value)
    return values


def _describe_settings(values: Mapping[str, int]) -> list[str]:
    parts = []
    for key, value in values.items():
        if key in _SETTING_NAMES:
            mode = f" ({_RP_FILTER_MODES.get(value, '?')})" if key == "setting.rp_filter_all" else ""
            parts.append(f"{_SETTING_NAMES[key]} = {value}{mode}")
    if "listen.fullest_backlog" in values:
        parts.append(
            f"fullest listener: accept queue {values.get('listen.fullest_queue', '?')} of backlog "
            f"{values['listen.fullest_backlog']}"
        )
    if "setting.rp_filter_strict_interfaces" in values:
        parts.append(f"{values['setting.rp_filter_strict_interfaces']} interface(s) filter strictly")
    return parts


def _with_settings(finding: Finding, hosts: Sequence[HostSeries]) -> Finding:
    """The settings the agent published for the finding's hosts as evidence, and the fix with their values
    (the setting as it is, and what to set it to) where a cause's fix depends on them."""
    keys = SETTINGS_SHOWN.get(finding.code)
    if not keys:
        return finding
    by_host = {h.host: _host_settings(h, keys) for h in hosts if h.host in finding.resource_ids}
    by_host = {host: values for host, values in by_host.items() if values}
    if not by_host:
        return finding
    evidence = tuple(
        Evidence(
            kind="setting",
            summary=f"{host}: {'; '.join(_describe_settings(values))}",
            resource_ids=(host,),
            data={"host": host, **{_gauge(k): v for k, v in values.items()}},
        )
        for host, values in by_host.items()
    )
    lead_host, lead = next(iter(by_host.items()))
    remediation = finding.remediation
    fixed = _fix_with_settings(finding.code, lead_host, lead)
    if remediation is not None and fixed is not None:
        steps, commands = fixed
        kept = () if finding.code in _STEPS_REPLACED else remediation.steps
        remediation = Remediation(summary=remediation.summary, steps=(*steps, *kept), commands=commands)
    return finding.model_copy(update={"evidence": (*finding.evidence, *evidence), "remediation": remediation})


def _fix_with_settings(
    code: FindingCode, host: str, values: Mapping[str, int]
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(steps to put first, the commands) for a cause, from one host's published settings."""
    if code is FindingCode.LISTEN_QUEUE_OVERFLOW and "setting.somaxconn" in values:
        cap, backlog = values["setting.somaxconn"], values.get("listen.fullest_backlog")
        if backlog is not None and backlog < cap:
            return (
                (
                    (
                        f"On {host} the fullest listener's backlog is {backlog}, below net.core.somaxconn "
                        f"{cap}: the application asked for {backlog}. Raise the application's own backlog "
                        "(e.g. nginx `listen 443 backlog=4096;`); somaxconn is not what limits it."
                    ),
                    _SLOW_ACCEPT,
                ),
                ("ss -ltn", "sysctl net.core.somaxconn"),
            )
        new = max(4096, 2 * cap)
        return (
            (
                (
                    f"On {host} net.core.somaxconn is {cap}: every listen() backlog is capped there. "
                    f"Raise it to {new}, and the application's own backlog with it."
                ),
                _SLOW_ACCEPT,
            ),
            (
                "ss -ltn",
                (
                    f"sysctl -w net.core.somaxconn={new} && echo 'net.core.somaxconn = {new}' > "
                    "/etc/sysctl.d/60-somaxconn.conf"
                ),
            ),
        )
    if code is FindingCode.RECEIVE_BUFFER_PRUNING and values:
        now = max(values.get("setting.tcp_rmem_max", 0), values.get("setting.rmem_max", 0))
        new = max(16 * 1024 * 1024, 2 * now)
        return (
            (f"On {host}: {'; '.join(_describe_settings(values))}. Raise both maximums to {new}.",),
            (
                "sysctl net.ipv4.tcp_rmem net.core.rmem_max",
                f"sysctl -w net.ipv4.tcp_rmem='4096 131072 {new}' net.core.rmem_max={new}",
                "nstat -az TcpExtTCPRcvQDrop TcpExtRcvPruned TcpExtPruneCalled TcpExtTCPBacklogDrop",
            ),
        )
    if code is FindingCode.REVERSE_PATH_FILTER_DROPS and "setting.rp_filter_all" in values:
        find = "sysctl -a 2>/dev/null | grep '\\.rp_filter = 1'"
        if values["setting.rp_filter_all"] == 1:
            return (
                (
                    (
                        f"On {host} net.ipv4.conf.all.rp_filter is 1 (strict): it applies to every interface "
                        "(the kernel uses the maximum of conf.all and the interface's). Fix the path's "
                        "symmetry, or make conf.all loose (2)."
                    ),
                ),
                (find, "sysctl -w net.ipv4.conf.all.rp_filter=2"),
            )
        if values.get("setting.rp_filter_strict_interfaces") == 0:
            return (
                (
                    (
                        f"On {host} no interface filters strictly (conf.all.rp_filter is "
                        f"{values['setting.rp_filter_all']}): in loose mode (2) the kernel drops packets "
                        "from sources it has no route to at all. Add the route to those sources."
                    ),
                ),
                ("ip route get SOURCE_ADDRESS", "sysctl -a 2>/dev/null | grep '\\.rp_filter'"),
            )
        return (
            (
                (
                    f"On {host} conf.all.rp_filter is {values['setting.rp_filter_all']}; "
                    f"{values.get('setting.rp_filter_strict_interfaces', '?')} interface(s) filter strictly: "
                    "find them (first command) and make them loose (2), or fix the path's symmetry."
                ),
            ),
            (find, "sysctl -w net.ipv4.conf.IFACE.rp_filter=2"),
        )
    if code is FindingCode.CONNTRACK_TABLE_FULL and "setting.nf_conntrack_max" in values:
        limit = values["setting.nf_conntrack_max"]
        return (
            (
                (
                    f"On {host} net.netfilter.nf_conntrack_max is {limit}: double it (or stop tracking "
                    "stateless flows)."
                ),
            ),
            (
                "sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max",
                f"sysctl -w net.netfilter.nf_conntrack_max={2 * limit}",
                "conntrack -S",
            ),
        )
    return None


QDISCS_SHOWN = 3


def _with_qdiscs(finding: Finding, hosts: Sequence[HostSeries], onset: datetime | None) -> Finding:
    """The root qdiscs that dropped (``QdiscDropsByQdisc``), most since the onset first, and the commands
    for the lead one: show it, change the parameter of its kind that drops."""
    counted = _counted_by_reference(finding, [(host, host.qdiscs) for host in hosts], onset, "qdisc.dropped")
    if not counted:
        return finding
    evidence = []
    for host, reference, window in counted[:QDISCS_SHOWN]:
        parsed = parse_qdisc_reference(reference)
        parts = (
            {
                "interface": parsed.interface,
                "kind": parsed.kind,
                "handle": parsed.handle,
                "params": parsed.params,
            }
            if parsed
            else {}
        )
        evidence.append(
            Evidence(
                kind="qdisc",
                summary=f"{host}: `{reference}` {window.describe()}",
                resource_ids=(host,),
                data={"host": host, "qdisc": reference, **parts, **window.as_data()},
            )
        )
    lead_host, lead_reference, _ = counted[0]
    lead = parse_qdisc_reference(lead_reference)
    remediation = finding.remediation
    if lead is not None and remediation is not None:
        remediation = Remediation(
            summary=remediation.summary,
            steps=(
                (
                    f"On {lead_host} the qdisc that dropped most: `{lead_reference}` ({lead.kind} on "
                    f"{lead.interface}, {'egress' if lead.attachment == 'root' else 'ingress'})."
                ),
                *remediation.steps[1:],
            ),
            commands=qdisc_commands(lead),
        )
    return finding.model_copy(
        update={
            "title": f"{finding.title} — {lead_reference}",
            "evidence": (*finding.evidence, *evidence),
            "remediation": remediation,
        }
    )
