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

from dropsleuth.metrics_catalog import CONNTRACK_USED, HOST_DROP_METRICS
from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules.counter_windows import CounterWindow, Grade, split_at_onset
from dropsleuth.rules.onset import Point

CONNTRACK_NEAR_FULL_PERCENT = 90.0
"""A conntrack table this full is a risk (warning) even before it drops: the next burst will."""
RETRANS_RATIO_MIN = 0.01
"""Retransmitted / sent segments since the onset below 1% is ordinary loss recovery, not a symptom."""


def _metric(counter: str) -> str:
    return HOST_DROP_METRICS[counter].name


@dataclass(frozen=True)
class Cause:
    """A cause beyond PMTUD: the counters that show it, what it means and the exact fix."""

    code: FindingCode
    name: str
    metrics: tuple[str, ...]
    meaning: str
    fix: Remediation


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
)


@dataclass(frozen=True)
class HostSeries:
    """What one host's agent published in the window: metric name → per-minute points."""

    host: str
    metrics: Mapping[str, Sequence[Point]]


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
        out.checked.append(f"{cause.name}: unknown — no host published {', '.join(cause.metrics)}")
        return
    if not counted:
        out.checked.append(f"{cause.name}: checked, clean — {', '.join(cause.metrics)} counted 0 on {names}")
        return
    out.findings.append(_finding(cause, counted, onset))


def _finding(cause: Cause, counted: list[tuple[str, str, CounterWindow]], onset: datetime | None) -> Finding:
    rose = [c for c in counted if c[2].grade is Grade.ROSE_AT_ONSET]
    lead = max(rose or counted, key=lambda c: c[2].during_total)
    hosts = tuple(dict.fromkeys(host for host, _, _ in (rose or counted)))
    if rose:
        severity, confidence = Severity.HIGH, 0.85
        when = "began at the onset" if lead[2].before_total == 0 else "rose several-fold at the onset"
    else:
        severity, confidence = Severity.WARNING, 0.4
        when = (
            "counting at its usual rate (background)" if onset else "counting in the window (no onset known)"
        )
    title = (
        f"{cause.name[:1].upper()}{cause.name[1:]} on {', '.join(hosts)}: {lead[1]} "
        f"{lead[2].during_total:,.0f} since the onset, {when}"
        if onset
        else f"{cause.name[:1].upper()}{cause.name[1:]} on {', '.join(hosts)}: {lead[1]} "
        f"{lead[2].during_total:,.0f} in the window"
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
        severity=severity,
        confidence=confidence,
        title=title,
        detail=f"The counter shows {cause.meaning}.",
        resource_ids=hosts,
        evidence=evidence,
        remediation=cause.fix,
    )


def _assess_conntrack_level(hosts: Sequence[HostSeries], out: Assessment) -> None:
    """A table nearly full is a risk (warning) even while nothing is dropped yet."""
    full = [
        (h.host, max(v for _, v in h.metrics[CONNTRACK_USED.name]))
        for h in hosts
        if h.metrics.get(CONNTRACK_USED.name)
    ]
    near = [(host, peak) for host, peak in full if peak >= CONNTRACK_NEAR_FULL_PERCENT]
    if not near:
        return
    conntrack = next(c for c in HOST_CAUSES if c.code is FindingCode.CONNTRACK_TABLE_FULL)
    out.findings.append(
        Finding(
            code=FindingCode.CONNTRACK_TABLE_FULL,
            severity=Severity.WARNING,
            confidence=0.5,
            title=f"Connection-tracking table {max(p for _, p in near):.0f}% full on "
            f"{', '.join(h for h, _ in near)} (a risk: nothing dropped yet)",
            detail="At 100% the kernel drops new connections.",
            resource_ids=tuple(h for h, _ in near),
            evidence=tuple(
                Evidence(
                    kind="metric",
                    summary=f"{host}: {CONNTRACK_USED.name} peaked at {peak:.0f}%",
                    resource_ids=(host,),
                    data={"host": host, "metric": CONNTRACK_USED.name, "peak_percent": peak},
                )
                for host, peak in near
            ),
            remediation=conntrack.fix,
        )
    )


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
