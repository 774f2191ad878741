"""The CloudWatch metrics dropsleuth publishes and alarms on: one list for the agent, the Lambdas and CDK.

Namespace ``DropSleuth``; every metric carries the ``Site`` dimension, some also ``Interface`` or
``Target``. This module is the one contract between the site agent (which publishes) and the investigation
(which reads): metric names, dimension names, what a ``Target`` value is (``target_dimension``) and where
a site's change records live (``change_log_group``). Both sides import it; nothing else spells them.

The alarm settings are chosen so an onset reaches ALARM within 3 minutes (period × datapoints-to-alarm
≤ 180 s): the point of the toolkit is to beat a 15-minute false green.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NAMESPACE = "DropSleuth"
SITE_DIMENSION = "Site"
INTERFACE_DIMENSION = "Interface"
TARGET_DIMENSION = "Target"

# Where each site's change records go (CloudWatch Logs; format in docs/site-agent.md): one log group per
# site, one stream per host. Per site so IAM can grant an agent exactly its own site's group.
CHANGE_LOG_GROUP_PREFIX = "/dropsleuth/site-changes/"


def target_dimension(address: str) -> str:
    """The ``Target`` dimension's value for a probe target: its address, as written in the registry.

    The agent knows the address it probes and the site registry's ``probe_targets`` holds addresses, so the
    address is the identity both sides share (a display name from site.yaml is known to the agent only).
    """
    return address.strip().lower()


def change_log_group(site: str) -> str:
    """The CloudWatch Logs group holding ``site``'s change records."""
    return f"{CHANGE_LOG_GROUP_PREFIX}{site}"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    description: str
    # How an alarm on it is set, or None when it is context only.
    alarm_comparison: (
        Literal[
            "LessThanThreshold",
            "GreaterThanThreshold",
            "GreaterThanOrEqualToThreshold",
            "GreaterThanUpperThreshold",
        ]
        | None
    )
    alarm_statistic: Literal["Average", "Sum", "Maximum", "Minimum"] = "Average"
    alarm_period_s: int = 60
    alarm_datapoints: int = 2
    default_threshold: float | None = None
    # Missing data while the agent is silent must not hide an outage of the uploads themselves.
    treat_missing_data: Literal["breaching", "notBreaching", "missing", "ignore"] = "missing"
    # Alarm above CloudWatch's anomaly detection band of this many standard deviations (learnt per site)
    # instead of a fixed threshold; ``alarm_comparison`` is then "GreaterThanUpperThreshold".
    anomaly_std_devs: float | None = None


UPLOAD_THROUGHPUT = MetricSpec(
    "UploadThroughputMbps",
    "Megabits/Second",
    "Large-payload upload throughput from the site",
    "LessThanThreshold",
    "Average",
    60,
    2,
    default_threshold=10.0,
    treat_missing_data="breaching",
)
# "Rising", not "present": with PMTUD working, a host behind a smaller hop receives one frag-needed per
# new destination path per PMTU cache lifetime (600 s on Linux, docs/reference/aws-facts.md), so a busy site
# with a known MTU step counts a few every minute for ever. A fixed "> 0" would hold that site in ALARM (and
# EventBridge investigates only on the transition into ALARM, so a real onset would go unseen). The band
# learns each site's own trickle (zero where MSS clamping keeps hosts under the path MTU, so there any message
# still alarms) and fires when messages jump above it two minutes running: a hop whose MTU just dropped, what
# rules/onset.py calls a frag-needed rise.
FRAG_NEEDED = MetricSpec(
    "FragNeededCount",
    "Count",
    "ICMP fragmentation-needed / Packet Too Big messages received per interval, above the site's usual level",
    "GreaterThanUpperThreshold",
    "Sum",
    60,
    2,
    treat_missing_data="notBreaching",
    anomaly_std_devs=2.0,
)
PATH_MTU = MetricSpec("PathMtu", "Bytes", "Path MTU measured by DF probes", None)
PATH_MTU_BLACK_HOLE = MetricSpec(
    "PathMtuBlackHole",
    "Count",
    "1 when DF probes above the path MTU vanish without ICMP",
    "GreaterThanOrEqualToThreshold",
    "Maximum",
    60,
    1,
    default_threshold=1.0,
    treat_missing_data="notBreaching",
)
INTERFACE_MTU_MISMATCH = MetricSpec(
    "InterfaceMtuMismatch",
    "Count",
    "Interfaces whose MTU differs from the expected map",
    "GreaterThanOrEqualToThreshold",
    "Maximum",
    60,
    1,
    default_threshold=1.0,
    treat_missing_data="notBreaching",
)
INTERFACE_MTU = MetricSpec(
    "InterfaceMtu",
    "Bytes",
    "Each interface's MTU as the agent measured it (Site, Interface)",
    None,
    "Maximum",
)
INTERFACE_UP = MetricSpec(
    "InterfaceUp",
    "Count",
    "1 when the interface's link is up, 0 when down (Site, Interface)",
    None,
    "Minimum",
)
AGENT_CYCLE_ERRORS = MetricSpec(
    "AgentCycleErrors", "Count", "Parts of an agent cycle that failed (see the agent's journal)", None, "Sum"
)
TCP_RETRANS = MetricSpec("TcpRetransSegs", "Count", "TCP segments retransmitted per interval", None, "Sum")
REJECTED_ICMP = MetricSpec(
    "RejectedIcmpCount", "Count", "Flow-log REJECTs of ICMP toward the site", None, "Sum"
)

METRICS: tuple[MetricSpec, ...] = (
    UPLOAD_THROUGHPUT,
    FRAG_NEEDED,
    PATH_MTU,
    PATH_MTU_BLACK_HOLE,
    INTERFACE_MTU_MISMATCH,
    INTERFACE_MTU,
    INTERFACE_UP,
    AGENT_CYCLE_ERRORS,
    TCP_RETRANS,
    REJECTED_ICMP,
)
ALARMED: tuple[MetricSpec, ...] = tuple(m for m in METRICS if m.alarm_comparison is not None)


# --- Drops beyond PMTUD (issue 15) ----------------------------------------------------------------------
# Published by the agent per interval with dimensions Site and Host (``HOST_DIMENSION``): each is the
# growth of one kernel/NIC counter (``probe/host_counters.py``) over the interval, summed over the host's
# interfaces where the counter is per interface. Context for the investigation, not alarmed: a counter
# that counts all the time on a busy host says nothing until it is compared with before the onset
# (``rules/host_drops.py``). What each counter means, with its kernel/AWS source: docs/runbook/other-drops.md.
HOST_DIMENSION = "Host"


def _count(name: str, description: str) -> MetricSpec:
    return MetricSpec(name, "Count", description, None, "Sum")


HOST_DROP_METRICS: dict[str, MetricSpec] = {
    "TcpExt.ListenOverflows": _count("TcpListenOverflows", "Accept queue full: handshakes dropped"),
    "TcpExt.ListenDrops": _count("TcpListenDrops", "SYNs and handshakes dropped at a listener"),
    "TcpExt.TCPRcvQDrop": _count("TcpRcvQDrop", "Segments dropped: receive queue over its memory limit"),
    "TcpExt.PruneCalled": _count("TcpPruneCalled", "Receive queues pruned under memory pressure"),
    "TcpExt.RcvPruned": _count("TcpRcvPruned", "Segments dropped from receive queues by pruning"),
    "TcpExt.TCPBacklogDrop": _count("TcpBacklogDrop", "Segments dropped: socket backlog full"),
    "TcpExt.IPReversePathFilter": _count("IpReversePathFilterDrops", "Packets dropped by rp_filter"),
    "TcpExt.TCPTimeouts": _count("TcpTimeouts", "TCP retransmission timeouts"),
    "TcpExt.TCPSynRetrans": _count("TcpSynRetrans", "SYNs retransmitted"),
    "Tcp.RetransSegs": _count("TcpHostRetransSegs", "TCP segments retransmitted"),
    "Tcp.OutSegs": _count("TcpOutSegs", "TCP segments sent"),
    "nic.rx_dropped": _count("NicRxDropped", "Received packets dropped by the interfaces"),
    "nic.rx_errors": _count("NicRxErrors", "Receive errors on the interfaces"),
    "nic.rx_crc_errors": _count("NicRxCrcErrors", "Frames with a bad CRC"),
    "nic.tx_dropped": _count("NicTxDropped", "Packets dropped on transmit by the interfaces"),
    "softnet.dropped": _count("SoftnetDropped", "Packets dropped: a CPU's input backlog was full"),
    "conntrack.drop": _count("ConntrackDrop", "Packets dropped: conntrack table full"),
    "conntrack.insert_failed": _count("ConntrackInsertFailed", "Conntrack entries that failed to insert"),
    "conntrack.early_drop": _count("ConntrackEarlyDrop", "Conntrack entries evicted to make room"),
    "ena.bw_in_allowance_exceeded": _count("EnaBwInAllowanceExceeded", "Inbound bandwidth over allowance"),
    "ena.bw_out_allowance_exceeded": _count("EnaBwOutAllowanceExceeded", "Outbound bandwidth over allowance"),
    "ena.pps_allowance_exceeded": _count("EnaPpsAllowanceExceeded", "Packets per second over allowance"),
    "ena.conntrack_allowance_exceeded": _count(
        "EnaConntrackAllowanceExceeded", "Tracked connections over allowance"
    ),
    "ena.linklocal_allowance_exceeded": _count(
        "EnaLinklocalAllowanceExceeded", "Link-local services (DNS, IMDS, NTP) over allowance"
    ),
    # Issue 15, part A: qdisc drops (tc -s qdisc, root qdiscs) and the host firewall's drop/reject rules
    # (published only by an agent that may read them: CAP_NET_ADMIN).
    "qdisc.dropped": _count("QdiscDrops", "Packets dropped by the interfaces' queueing disciplines (tc)"),
    "firewall.dropped": _count(
        "HostFirewallDrops", "Packets the host firewall's drop/reject rules and drop policies counted"
    ),
}
CONNTRACK_USED = MetricSpec(
    "ConntrackTableUsedPercent", "Percent", "nf_conntrack_count / nf_conntrack_max", None, "Maximum"
)


# The host firewall's drops per rule: dimensions Site, Host and ``Rule`` (``rules.host_firewall.DropRule.
# reference``: where the rule is and its text). Bounded: published only for the rules that counted in the
# interval, at most ``FIREWALL_RULES_PER_CYCLE`` of them (those that counted most); a Rule value names one
# rule as written, so a host adds one metric per drop rule that ever counts, never per packet or flow.
RULE_DIMENSION = "Rule"
FIREWALL_RULES_PER_CYCLE = 5
HOST_FIREWALL_RULE_DROPS = MetricSpec(
    "HostFirewallRuleDrops", "Count", "Packets one host firewall rule dropped or rejected", None, "Sum"
)

# The same for queueing disciplines: ``QdiscDropsByQdisc`` with dimension ``Qdisc``
# (``rules.qdisc.QdiscReference.reference``: interface, root/ingress, kind, handle, parameters), only for
# the root/ingress qdiscs that dropped in the interval, at most ``QDISCS_PER_CYCLE`` of them.
QDISC_DIMENSION = "Qdisc"
QDISCS_PER_CYCLE = 3
QDISC_DROPS_BY_QDISC = MetricSpec(
    "QdiscDropsByQdisc", "Count", "Packets one root or ingress qdisc dropped", None, "Sum"
)


def _gauge(name: str, unit: str, description: str) -> MetricSpec:
    return MetricSpec(name, unit, description, None, "Maximum")


# Levels the agent publishes each cycle (Site, Host) that explain a drop counter and put the right value in
# its fix: the settings as the kernel has them, the fullest listener, drop rules that count nothing.
HOST_GAUGE_METRICS: dict[str, MetricSpec] = {
    "setting.somaxconn": _gauge("NetCoreSomaxconn", "Count", "net.core.somaxconn: listen() backlog cap"),
    "setting.rmem_max": _gauge("NetCoreRmemMax", "Bytes", "net.core.rmem_max: SO_RCVBUF cap"),
    "setting.tcp_rmem_max": _gauge("TcpRmemMax", "Bytes", "net.ipv4.tcp_rmem's max: autotuning cap"),
    "setting.nf_conntrack_max": _gauge("NfConntrackMax", "Count", "net.netfilter.nf_conntrack_max"),
    "setting.rp_filter_all": _gauge(
        "RpFilterAll", "None", "net.ipv4.conf.all.rp_filter (0, 1 strict, 2 loose)"
    ),
    "setting.rp_filter_strict_interfaces": _gauge(
        "RpFilterStrictInterfaces", "Count", "Interfaces whose effective rp_filter is 1 (strict)"
    ),
    "listen.fullest_backlog": _gauge(
        "ListenBacklogOfFullestListener", "Count", "Backlog of the listener whose accept queue is fullest"
    ),
    "listen.fullest_queue": _gauge(
        "ListenQueueOfFullestListener", "Count", "Accept queue of that listener when the agent looked"
    ),
    "firewall.uncounted_rules": _gauge(
        "HostFirewallUncountedDropRules", "Count", "Drop/reject rules and policies that keep no counter"
    ),
}
