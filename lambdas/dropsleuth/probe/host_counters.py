"""The kernel's and the NIC's own drop counters, beyond ICMP: one reading of every source, with the settings
that explain them, and an honest "unknown" (with why) for every source this host does not have.

Sources (each fact and its kernel/AWS page: docs/runbook/other-drops.md):

- ``/proc/net/netstat`` ``TcpExt``: ``ListenOverflows``, ``ListenDrops`` (accept queue full),
  ``TCPRcvQDrop``, ``PruneCalled``, ``RcvPruned``, ``TCPBacklogDrop`` (receive-buffer pressure),
  ``TCPTimeouts``, ``TCPSynRetrans``; ``IPReversePathFilter`` (rp_filter drops);
- ``/proc/net/snmp`` ``Tcp``: ``RetransSegs``, ``OutSegs``;
- ``/sys/class/net/*/statistics``: ``rx_dropped``, ``rx_errors``, ``rx_crc_errors``, ``tx_dropped``
  (loopback left out: it never carries the traffic that matters);
- ``/proc/net/softnet_stat``: the second column, packets dropped because a CPU's backlog was full (hex, one
  line per CPU);
- ``/proc/sys/net/netfilter/nf_conntrack_count`` / ``_max`` and ``/proc/net/stat/nf_conntrack`` (``drop``,
  ``insert_failed``, ``early_drop``; hex, one line per CPU);
- ``ethtool -S`` on ENA interfaces: ``bw_in_allowance_exceeded``, ``bw_out_allowance_exceeded``,
  ``pps_allowance_exceeded``, ``conntrack_allowance_exceeded``, ``linklocal_allowance_exceeded``;
- ``tc -s qdisc show``: packets each interface's root (and ingress) qdisc dropped;
- the host firewall's drop and reject rules with their counters (``iptables-save -c``, ``nft -j list
  ruleset``; needs CAP_NET_ADMIN), each rule its own counter (``fw.`` + the rule's reference);
- settings: ``net.core.somaxconn``, ``net.ipv4.tcp_rmem``, ``net.core.rmem_max``, each interface's
  ``rp_filter``; the listening sockets' accept queues (``ss -ltnH``).

Counters are flat keys (``TcpExt.ListenOverflows``, ``nic.eth0.rx_dropped``, ``ena.eth0.pps_allowance_
exceeded``) so two readings subtract with ``counters.counter_delta`` (wraps and restarts handled there).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dropsleuth.probe.counters import counter_delta, parse_snmp_table
from dropsleuth.probe.firewall import RulesetReading
from dropsleuth.rules.host_firewall import drop_rules
from dropsleuth.rules.qdisc import QdiscReference

NETSTAT_COUNTERS = {
    "TcpExt": (
        "ListenOverflows",
        "ListenDrops",
        "TCPRcvQDrop",
        "PruneCalled",
        "RcvPruned",
        "TCPBacklogDrop",
        "TCPTimeouts",
        "TCPSynRetrans",
        "IPReversePathFilter",
    ),
}
SNMP_COUNTERS = {"Tcp": ("RetransSegs", "OutSegs")}
NIC_COUNTERS = ("rx_dropped", "rx_errors", "rx_crc_errors", "tx_dropped")
CONNTRACK_COUNTERS = ("drop", "insert_failed", "early_drop")
# The ENA driver's allowance counters (EC2 User Guide, "Monitor network performance for ENA settings on
# your EC2 instance"): packets queued or dropped because the instance exceeded a network maximum.
ENA_ALLOWANCE_COUNTERS = (
    "bw_in_allowance_exceeded",
    "bw_out_allowance_exceeded",
    "pps_allowance_exceeded",
    "conntrack_allowance_exceeded",
    "linklocal_allowance_exceeded",
)
ENA_DRIVER = "ena"

EthtoolStats = Callable[[str], str | None]
"""``ethtool -S IFACE`` output for an interface, or None when it cannot be run."""
CommandText = Callable[[], str | None]
"""A listing command's output (``tc -s qdisc show``, ``ss -ltnH``), or None when it cannot be run."""
FirewallReader = Callable[[], RulesetReading]
"""``probe.firewall.read_ruleset`` or a stand-in: the ruleset with counters, sources, notes, unread."""
FIREWALL_RULE_PREFIX = "fw."
"""Counter keys of the firewall's drop rules: ``fw.`` + ``DropRule.reference``."""
QDISC_PREFIX = "qd."
"""Counter keys of each root/ingress qdisc: ``qd.`` + ``QdiscReference.reference`` (the per-interface
totals, ``qdisc.IFACE.dropped``, sum the same numbers)."""


@dataclass(frozen=True)
class HostCounters:
    """One reading of every drop counter on a host.

    ``counters`` are monotonic (subtract two readings); ``gauges`` are levels (conntrack entries in use and
    the table's size); ``settings`` the sysctls that explain a counter; ``unknown`` maps each source that
    could not be read to why, so a missing source is never read as zero.
    """

    taken_at: float
    counters: dict[str, int] = field(default_factory=dict)
    gauges: dict[str, int] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)


# --- parsers of the files' own text (pure) ------------------------------------------------------------


def parse_softnet_dropped(text: str) -> int | None:
    """Total of ``/proc/net/softnet_stat``'s second column (hex, one line per CPU); None on no lines."""
    total = 0
    seen = False
    for line in text.splitlines():
        columns = line.split()
        if len(columns) >= 2:
            total += int(columns[1], 16)
            seen = True
    return total if seen else None


def parse_conntrack_stat(text: str) -> dict[str, int]:
    """``/proc/net/stat/nf_conntrack``: a header line, then one hex line per CPU; summed over CPUs."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return {}
    header = lines[0]
    totals = dict.fromkeys(header, 0)
    for values in lines[1:]:
        for name, value in zip(header, values, strict=False):
            totals[name] += int(value, 16)
    return totals


def parse_ethtool_stats(text: str) -> dict[str, int]:
    """``ethtool -S`` output ("NIC statistics:" then ``name: value`` lines) as a dict of integers."""
    stats: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition(":")
        value = value.strip()
        if sep and value.isdigit():
            stats[name.strip()] = int(value)
    return stats


def parse_tc_qdiscs(text: str) -> list[tuple[QdiscReference, int]]:
    """Each interface's root and ingress/clsact qdisc from ``tc -s qdisc show``, with the packets it dropped.

    Only those: a classful root's statistics already include its children's drops (htb, tbf and mq count
    a child's failed enqueue as their own drop; mq sums its per-queue children), so adding the child lines
    too would count each drop twice (tests/fixtures/qdisc: an htb root and its pfifo leaf both show 293).
    Ingress drops are packets a filter's action discarded on the way in (policing).
    """
    found: list[tuple[QdiscReference, int]] = []
    qdisc: QdiscReference | None = None
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["qdisc"] and "dev" in words and len(words) >= 5:
            qdisc = _root_qdisc(words)
        elif qdisc is not None and words[:1] == ["Sent"] and "(dropped" in words:
            value = words[words.index("(dropped") + 1].rstrip(",")
            if value.isdigit():
                found.append((qdisc, int(value)))
            qdisc = None
    return found


def _root_qdisc(words: list[str]) -> QdiscReference | None:
    """``qdisc KIND HANDLE dev IFACE (root | parent X) [refcnt N] PARAMS``: the root or ingress ones."""
    kind, handle, interface = words[1], words[2], words[words.index("dev") + 1]
    rest = words[words.index("dev") + 2 :]
    if "root" in rest:
        attachment = "root"
    elif kind in ("ingress", "clsact"):
        attachment = "ingress"
    else:
        return None
    params = []
    skip = 0
    for word in rest:
        if skip:
            skip -= 1
        elif word in ("refcnt", "parent"):
            skip = 1
        elif word != "root":
            params.append(word)
    return QdiscReference(interface, attachment, kind, handle, " ".join(params))


def parse_tc_qdisc_drops(text: str) -> dict[str, int]:
    """Packets dropped per interface (its root and ingress qdiscs; see ``parse_tc_qdiscs``)."""
    drops: dict[str, int] = {}
    for qdisc, dropped in parse_tc_qdiscs(text):
        drops[qdisc.interface] = drops.get(qdisc.interface, 0) + dropped
    return drops


def parse_listen_queues(text: str) -> list[tuple[int, int]]:
    """``ss -ltnH``: (accept queue now, backlog) per listening socket. For a listener ss prints the queue
    as Recv-Q and the backlog (listen()'s argument, capped at somaxconn) as Send-Q (ss(8))."""
    queues = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 4 and words[0] == "LISTEN" and words[1].isdigit() and words[2].isdigit():
            queues.append((int(words[1]), int(words[2])))
    return queues


# --- reading a host (a root directory: "/" or a fixture tree) -----------------------------------------


THIS_HOST = Path("/")
_THREAD_NET = Path("/proc/thread-self/net")


def _path(root: Path, relative: str) -> Path:
    # On this host, /proc/net is /proc/self/net: the process leader's network namespace. thread-self follows
    # the calling thread's (an agent thread that entered a namespace reads that namespace's counters).
    if root == THIS_HOST and relative.startswith("proc/net/") and _THREAD_NET.exists():
        return _THREAD_NET / relative.removeprefix("proc/net/")
    return root / relative


def _text(root: Path, relative: str) -> str | None:
    try:
        return _path(root, relative).read_text()
    except OSError:
        return None


def _first_line(root: Path, relative: str) -> str | None:
    text = _text(root, relative)
    return text.strip() if text is not None else None


def run_ethtool_stats(interface: str) -> str | None:
    """``ethtool -S`` on this host (None when ethtool is missing or fails)."""
    ethtool = shutil.which("ethtool")
    if ethtool is None:
        return None
    done = subprocess.run(  # noqa: S603 -- fixed argv; the interface name comes from /sys/class/net
        [ethtool, "-S", interface], capture_output=True, text=True, timeout=5, check=False
    )
    return done.stdout if done.returncode == 0 else None


def _listing(*argv: str) -> str | None:
    tool = shutil.which(argv[0])
    if tool is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 -- fixed argv of a read-only listing command
            [tool, *argv[1:]], capture_output=True, text=True, timeout=5, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    return done.stdout if done.returncode == 0 else None


def run_tc_qdisc() -> str | None:
    """``tc -s qdisc show`` on this host (an unprivileged netlink dump); None when tc is missing or fails."""
    return _listing("tc", "-s", "qdisc", "show")


def run_ss_listeners() -> str | None:
    """``ss -ltnH`` on this host (unprivileged); None when ss is missing or fails."""
    return _listing("ss", "-ltnH")


def interface_driver(root: Path, interface: str) -> str | None:
    """The driver bound to an interface (``/sys/class/net/IF/device/driver`` is a link to it)."""
    try:
        return (root / "sys/class/net" / interface / "device/driver").resolve(strict=True).name
    except OSError:
        return None


def read_host_counters(
    root: Path = THIS_HOST,
    *,
    ethtool: EthtoolStats | None = run_ethtool_stats,
    tc: CommandText | None = None,
    firewall: FirewallReader | None = None,
    listeners: CommandText | None = None,
    wall_clock: float | None = None,
) -> HostCounters:
    """Read every source once under ``root`` (default this host, as the calling process sees it).

    ``ethtool`` is called for ENA interfaces only; a fixture's ENA interface has a
    ``device/driver`` link and its ``ethtool -S`` text beside it (see tests/fixtures/host_counters).
    ``tc``, ``firewall`` and ``listeners`` are the listing commands (``run_tc_qdisc``, ``probe.firewall.
    read_ruleset``, ``run_ss_listeners`` on this host, as the agent passes them); None: that source is not
    read here, which ``unknown`` says.
    """
    found = HostCounters(taken_at=wall_clock if wall_clock is not None else time.time())
    _read_snmp_files(root, found)
    _read_interfaces(root, found, ethtool)
    dropped = parse_softnet_dropped(_text(root, "proc/net/softnet_stat") or "")
    if dropped is None:
        found.unknown["softnet"] = "/proc/net/softnet_stat is missing or empty"
    else:
        found.counters["softnet.dropped"] = dropped
    _read_conntrack(root, found)
    _read_settings(root, found)
    _read_qdiscs(found, tc)
    _read_firewall(found, firewall)
    _read_listeners(found, listeners)
    return found


def _read_qdiscs(found: HostCounters, tc: CommandText | None) -> None:
    if tc is None:
        found.unknown["qdisc"] = "not read here (no tc reader)"
        return
    text = tc()
    if text is None:
        found.unknown["qdisc"] = "tc -s qdisc show could not be run (install iproute2's tc)"
        return
    for qdisc, dropped in parse_tc_qdiscs(text):
        if qdisc.interface == "lo":
            continue
        total = f"qdisc.{qdisc.interface}.dropped"
        found.counters[total] = found.counters.get(total, 0) + dropped
        found.counters[f"{QDISC_PREFIX}{qdisc.reference}"] = dropped


def _read_firewall(found: HostCounters, firewall: FirewallReader | None) -> None:
    if firewall is None:
        found.unknown["firewall"] = "not read here (no firewall reader)"
        return
    ruleset, sources, _notes, unread = firewall()
    if unread or not sources:
        # A partial reading would undercount: only a complete one is published (docs/agent.md: the rule
        # counters need CAP_NET_ADMIN, an optional drop-in of the agent's unit).
        reasons = "; ".join(unread) or "neither iptables-save nor nft is installed"
        found.unknown["firewall"] = f"{reasons} (reading rule counters needs CAP_NET_ADMIN)"
        return
    rules = drop_rules(ruleset)
    found.gauges["firewall.drop_rules"] = len(rules)
    found.gauges["firewall.uncounted_rules"] = sum(1 for rule in rules if rule.packets is None)
    for rule in rules:
        if rule.packets is not None:
            key = f"{FIREWALL_RULE_PREFIX}{rule.reference}"
            found.counters[key] = found.counters.get(key, 0) + rule.packets


def _read_listeners(found: HostCounters, listeners: CommandText | None) -> None:
    if listeners is None:
        found.unknown["listeners"] = "not read here (no ss reader)"
        return
    text = listeners()
    queues = parse_listen_queues(text or "")
    if not queues:
        found.unknown["listeners"] = (
            "ss -ltnH could not be run" if text is None else "no TCP listener on this host"
        )
        return
    # One listener stands for the host, so the metric needs no per-socket dimension: the one whose accept
    # queue is fullest relative to its backlog (the one an overflow comes from), ties to the smaller backlog.
    queue, backlog = max(queues, key=lambda q: (q[0] / q[1] if q[1] else 0.0, -q[1]))
    found.gauges["listen.fullest_backlog"] = backlog
    found.gauges["listen.fullest_queue"] = queue


def _read_snmp_files(root: Path, found: HostCounters) -> None:
    for relative, wanted in (("proc/net/netstat", NETSTAT_COUNTERS), ("proc/net/snmp", SNMP_COUNTERS)):
        text = _text(root, relative)
        if text is None:
            found.unknown[relative] = f"/{relative} could not be read"
            continue
        table = parse_snmp_table(text)
        for protocol, names in wanted.items():
            for name in names:
                value = table.get(protocol, {}).get(name)
                if value is None:
                    # Older kernels lack some counters (TCPRcvQDrop came in 5.x): unknown, not zero.
                    found.unknown[f"{protocol}.{name}"] = f"this kernel's /{relative} has no {name}"
                else:
                    found.counters[f"{protocol}.{name}"] = value


def _read_interfaces(root: Path, found: HostCounters, ethtool: EthtoolStats | None) -> None:
    net = root / "sys/class/net"
    try:
        interfaces = sorted(p.name for p in net.iterdir() if p.name != "lo")
    except OSError:
        found.unknown["nic"] = "/sys/class/net could not be listed"
        return
    ena_seen = False
    for interface in interfaces:
        for name in NIC_COUNTERS:
            value = _first_line(root, f"sys/class/net/{interface}/statistics/{name}")
            if value is not None and value.isdigit():
                found.counters[f"nic.{interface}.{name}"] = int(value)
        if interface_driver(root, interface) != ENA_DRIVER:
            continue
        ena_seen = True
        text = ethtool(interface) if ethtool is not None else None
        stats = parse_ethtool_stats(text or "")
        missing = [name for name in ENA_ALLOWANCE_COUNTERS if name not in stats]
        if text is None:
            found.unknown[f"ena.{interface}"] = "ethtool -S could not be run (install ethtool)"
        elif missing:
            # The allowance counters need ENA driver 2.2.10 or later (EC2 User Guide, ENA metrics page).
            found.unknown[f"ena.{interface}"] = (
                f"ethtool -S shows no {', '.join(missing)} (ENA driver older than 2.2.10?)"
            )
        for name in ENA_ALLOWANCE_COUNTERS:
            if name in stats:
                found.counters[f"ena.{interface}.{name}"] = stats[name]
    if not ena_seen:
        found.settings["ena"] = "no ENA interface (not an EC2 Nitro instance): allowances not applicable"


def _read_conntrack(root: Path, found: HostCounters) -> None:
    count = _first_line(root, "proc/sys/net/netfilter/nf_conntrack_count")
    limit = _first_line(root, "proc/sys/net/netfilter/nf_conntrack_max")
    if count is None or limit is None or not count.isdigit() or not limit.isdigit():
        found.unknown["conntrack"] = "nf_conntrack is not loaded (no /proc/sys/net/netfilter/nf_conntrack_*)"
        return
    found.gauges["conntrack.count"] = int(count)
    found.gauges["conntrack.max"] = int(limit)
    stats = parse_conntrack_stat(_text(root, "proc/net/stat/nf_conntrack") or "")
    for name in CONNTRACK_COUNTERS:
        if name in stats:
            found.counters[f"conntrack.{name}"] = stats[name]
        else:
            found.unknown[f"conntrack.{name}"] = f"/proc/net/stat/nf_conntrack has no {name} column"


def _read_settings(root: Path, found: HostCounters) -> None:
    for key, relative in (
        ("net.core.somaxconn", "proc/sys/net/core/somaxconn"),
        ("net.ipv4.tcp_rmem", "proc/sys/net/ipv4/tcp_rmem"),
        ("net.core.rmem_max", "proc/sys/net/core/rmem_max"),
    ):
        value = _first_line(root, relative)
        if value is not None:
            found.settings[key] = " ".join(value.split())
    for key, gauge in (("net.core.somaxconn", "somaxconn"), ("net.core.rmem_max", "rmem_max")):
        if found.settings.get(key, "").isdigit():
            found.gauges[f"setting.{gauge}"] = int(found.settings[key])
    rmem = found.settings.get("net.ipv4.tcp_rmem", "").split()
    if len(rmem) == 3 and rmem[2].isdigit():
        found.gauges["setting.tcp_rmem_max"] = int(rmem[2])
    if "conntrack.max" in found.gauges:
        found.gauges["setting.nf_conntrack_max"] = found.gauges["conntrack.max"]
    conf = root / "proc/sys/net/ipv4/conf"
    try:
        names = sorted(p.name for p in conf.iterdir())
    except OSError:
        return
    for name in names:
        value = _first_line(root, f"proc/sys/net/ipv4/conf/{name}/rp_filter")
        if value is not None:
            found.settings[f"net.ipv4.conf.{name}.rp_filter"] = value
    _rp_filter_gauges(found)


def _rp_filter_gauges(found: HostCounters) -> None:
    """conf.all's rp_filter and how many interfaces filter strictly.

    The kernel applies the maximum of conf/all and conf/IFACE (ip-sysctl.rst, rp_filter): 1 is strict, 2
    loose. Host-level numbers rather than one series per interface: container hosts create and destroy
    veth interfaces all day, and each would be a new CloudWatch metric.
    """
    prefix, suffix = "net.ipv4.conf.", ".rp_filter"
    values = {
        key.removeprefix(prefix).removesuffix(suffix): int(value)
        for key, value in found.settings.items()
        if key.startswith(prefix) and key.endswith(suffix) and value.isdigit()
    }
    if "all" not in values:
        return
    found.gauges["setting.rp_filter_all"] = values["all"]
    interfaces = [name for name in values if name not in ("all", "default", "lo")]
    found.gauges["setting.rp_filter_strict_interfaces"] = sum(
        1 for name in interfaces if max(values["all"], values[name]) == 1
    )


# --- two readings ------------------------------------------------------------------------------------


def host_counter_deltas(before: HostCounters, after: HostCounters) -> dict[str, int]:
    """How much each counter grew between two readings.

    Only counters present in both: one that appeared (an interface added, a module loaded) has no
    previous value, and its total since boot is not one interval's growth.
    """
    return {
        key: counter_delta(before.counters[key], value)
        for key, value in after.counters.items()
        if key in before.counters
    }


FIREWALL_TOTAL = "firewall.dropped"


def totals_by_metric(deltas: Mapping[str, int]) -> dict[str, int]:
    """Per-interface counters summed over interfaces (``nic.eth0.rx_dropped`` → ``nic.rx_dropped``), and
    the firewall's drop rules summed into ``firewall.dropped``."""
    totals: dict[str, int] = {}
    for key, value in deltas.items():
        source, _, rest = key.partition(".")
        if key.startswith(QDISC_PREFIX):
            continue  # attribution only: the per-interface counters carry the total
        if key.startswith(FIREWALL_RULE_PREFIX):
            total_key = FIREWALL_TOTAL
        elif source in {"nic", "ena", "qdisc"}:
            total_key = f"{source}.{rest.rpartition('.')[2]}"
        else:
            total_key = key
        totals[total_key] = totals.get(total_key, 0) + value
    return totals


def firewall_rule_deltas(deltas: Mapping[str, int]) -> dict[str, int]:
    """Rule reference → packets its drop counted in the interval (rules present in both readings)."""
    return _by_prefix(deltas, FIREWALL_RULE_PREFIX)


def qdisc_deltas(deltas: Mapping[str, int]) -> dict[str, int]:
    """Qdisc reference → packets it dropped in the interval (qdiscs present in both readings)."""
    return _by_prefix(deltas, QDISC_PREFIX)


def _by_prefix(deltas: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {key.removeprefix(prefix): value for key, value in deltas.items() if key.startswith(prefix)}
