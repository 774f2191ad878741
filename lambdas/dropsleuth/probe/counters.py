"""Kernel counters that show drops as they happen: frag-needed received, TCP retransmissions, queue and
buffer overflows, interface drops and errors; reported as deltas per interval.

Frag-needed exactly: ``/proc/net/snmp`` counts every ICMP type 3 (``InDestUnreachs``, ``IcmpMsg InType3``),
port-unreachables included, so by default the figure is labelled approximate. ``install_counter`` adds an
nft table of its own (``inet dropsleuth_counters``; iptables rules tagged ``dropsleuth-frag-needed``
where nft is missing) that counts exactly ICMP type 3 code 4 and ICMPv6 type 2 and accepts nothing, drops
nothing; ``remove_counter`` deletes exactly that. For IPv6 the kernel's own ``Icmp6InPktTooBigs`` is exact.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dropsleuth.aws.errors import InputError

NFT_TABLE = "dropsleuth_counters"
IPTABLES_COMMENT = "dropsleuth-frag-needed"
_NFT_RULESET = f"""table inet {NFT_TABLE} {{
  counter frag_needed_v4 {{ }}
  counter packet_too_big_v6 {{ }}
  chain input {{
    type filter hook input priority -300; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter name "frag_needed_v4"
    icmpv6 type packet-too-big counter name "packet_too_big_v6"
  }}
}}
"""


BOOT_ID = "sys/kernel/random/boot_id"
# Linux's SNMP counters are unsigned longs: 32 bits wide on 32-bit kernels, where they wrap. A drop is read
# as a wrap only when the wrapped growth is plausible for one interval; anything else is a restart.
_WRAP_32 = 2**32
_MAX_WRAPPED_GROWTH = 2**24


def _proc_net(proc: Path | None) -> Path:
    if proc is not None:
        return proc / "net"
    # thread-self follows the calling thread's network namespace; self follows the process leader's.
    thread = Path("/proc/thread-self/net")
    return thread if thread.exists() else Path("/proc/self/net")


def _read(name: str, proc: Path | None = None) -> str:
    try:
        return (_proc_net(proc) / name).read_text()
    except OSError:
        return ""


def read_boot_id(proc: Path | None = None) -> str | None:
    """The kernel's random id of this boot (proc(5)): counters restart from zero when it changes."""
    try:
        return (proc or Path("/proc")).joinpath(BOOT_ID).read_text().strip() or None
    except OSError:
        return None


def parse_snmp_table(text: str) -> dict[str, dict[str, int]]:
    """``/proc/net/snmp`` and ``/proc/net/netstat``: header line, value line, per protocol."""
    result: dict[str, dict[str, int]] = {}
    lines = text.splitlines()
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        names = header.split()
        numbers = values.split()
        if not names or names[0] != numbers[0]:
            continue
        proto = names[0].rstrip(":")
        result[proto] = {
            n: int(v) for n, v in zip(names[1:], numbers[1:], strict=False) if v.lstrip("-").isdigit()
        }
    return result


def parse_snmp6(text: str) -> dict[str, int]:
    result = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            result[parts[0]] = int(parts[1])
    return result


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """``/proc/net/dev``: per interface rx/tx errors and drops."""
    result = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if len(fields) < 16:
            continue
        result[name.strip()] = {
            "rx_errors": int(fields[2]),
            "rx_dropped": int(fields[3]),
            "tx_errors": int(fields[10]),
            "tx_dropped": int(fields[11]),
        }
    return result


@dataclass(frozen=True)
class CounterSnapshot:
    taken_at: float
    values: dict[str, int]
    interfaces: dict[str, dict[str, int]]
    frag_needed_exact: bool
    notes: tuple[str, ...] = field(default_factory=tuple)
    boot_id: str | None = None
    unread: tuple[str, ...] = field(default_factory=tuple)
    """Counter files that could not be read: their counters are unknown, not zero."""


def snapshot(
    *,
    wall_clock: float | None = None,
    proc: Path | None = None,
    counting_rule: Callable[[], dict[str, int] | None] | None = None,
) -> CounterSnapshot:
    """Read every counter once.

    ``proc`` is a /proc-like root (``net/snmp``, ``net/netstat``, ``net/snmp6``, ``net/dev``,
    ``sys/kernel/random/boot_id``): default this host, in the calling thread's network namespace.
    ``counting_rule`` reads the exact frag-needed rule (default: the nft/iptables rule on this host; it is
    not under /proc).
    """
    texts = {name: _read(name, proc) for name in ("snmp", "netstat", "snmp6", "dev")}
    snmp = parse_snmp_table(texts["snmp"])
    netstat = parse_snmp_table(texts["netstat"])
    snmp6 = parse_snmp6(texts["snmp6"])
    # snmp6 is absent where IPv6 is disabled: that is no counter lost. The others exist on every Linux.
    unread = tuple(
        f"{_proc_net(proc) / name} unreadable or empty"
        for name in ("snmp", "netstat", "dev")
        if not texts[name]
    )
    exact = (counting_rule or read_counting_rule)()
    values = {
        "icmp_in_dest_unreachs": snmp.get("Icmp", {}).get("InDestUnreachs", 0),
        "icmp_in_type3": snmp.get("IcmpMsg", {}).get("InType3", 0),
        "icmp6_in_pkt_too_bigs": snmp6.get("Icmp6InPktTooBigs", 0),
        "tcp_retrans_segs": snmp.get("Tcp", {}).get("RetransSegs", 0),
        "tcp_listen_overflows": netstat.get("TcpExt", {}).get("ListenOverflows", 0),
        "tcp_listen_drops": netstat.get("TcpExt", {}).get("ListenDrops", 0),
        "udp_rcvbuf_errors": snmp.get("Udp", {}).get("RcvbufErrors", 0),
    }
    notes = []
    if exact is not None:
        values["frag_needed_v4"] = exact["frag_needed_v4"]
        values["packet_too_big_v6"] = exact["packet_too_big_v6"]
        values["frag_needed"] = exact["frag_needed_v4"] + exact["packet_too_big_v6"]
    else:
        # Approximate: every ICMPv4 type 3 (port and host unreachables too), plus IPv6's exact PTB count.
        values["frag_needed"] = values["icmp_in_type3"] + values["icmp6_in_pkt_too_bigs"]
        notes.append(
            "frag_needed is approximate: /proc/net/snmp counts every ICMP destination-unreachable; "
            "install the exact counter with `dropsleuth probe counters --install-counter`"
        )
    return CounterSnapshot(
        wall_clock if wall_clock is not None else time.time(),
        values,
        parse_net_dev(texts["dev"]),
        exact is not None,
        tuple(notes),
        read_boot_id(proc),
        unread,
    )


@dataclass(frozen=True)
class CounterSource:
    """Where the counters are read: a /proc-like root (None: this host) and the exact-rule reader."""

    proc: Path | None = None
    counting_rule: Callable[[], dict[str, int] | None] | None = None

    def read(self, wall_clock: float | None = None) -> CounterSnapshot:
        return snapshot(wall_clock=wall_clock, proc=self.proc, counting_rule=self.counting_rule)

    def boot_id(self) -> str | None:
        return read_boot_id(self.proc)


def counter_delta(before: int | None, after: int) -> int:
    """How much a monotonic counter grew; never negative.

    A counter below its previous reading either wrapped at 32 bits (a 32-bit kernel's unsigned long, the
    previous value just below 2^32) or restarted from zero (a reboot, an interface re-created, the counting
    rule re-installed): then it counted ``after`` since the restart.
    """
    if before is None:
        return after
    if after >= before:
        return after - before
    wrapped = _WRAP_32 - before + after
    if before < _WRAP_32 and wrapped < _MAX_WRAPPED_GROWTH:
        return wrapped
    return after


def deltas(before: CounterSnapshot, after: CounterSnapshot) -> dict[str, Any]:
    """What happened between two snapshots (see ``counter_delta`` for wraps and resets)."""

    def diff(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
        return {k: counter_delta(a.get(k), v) for k, v in b.items()}

    return {
        "interval_s": round(after.taken_at - before.taken_at, 3),
        "frag_needed_exact": after.frag_needed_exact and before.frag_needed_exact,
        "counters": diff(before.values, after.values),
        "interfaces": {
            name: diff(before.interfaces.get(name, {}), now) for name, now in sorted(after.interfaces.items())
        },
    }


# ---------------------------------------------------------------------------------------------------------
# The last snapshot kept between runs (a timer's one-shot runs need it for deltas)


def snapshot_to_dict(taken: CounterSnapshot) -> dict[str, Any]:
    return asdict(taken)


def snapshot_from_dict(record: Any) -> CounterSnapshot | None:
    """The snapshot ``snapshot_to_dict`` wrote, or None when ``record`` is not one (a damaged file)."""
    try:
        return CounterSnapshot(
            taken_at=float(record["taken_at"]),
            values={str(k): int(v) for k, v in record["values"].items()},
            interfaces={
                str(name): {str(k): int(v) for k, v in found.items()}
                for name, found in record["interfaces"].items()
            },
            frag_needed_exact=bool(record["frag_needed_exact"]),
            notes=tuple(str(n) for n in record.get("notes", ())),
            boot_id=str(record["boot_id"]) if record.get("boot_id") else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def stale_reason(saved: CounterSnapshot, *, boot_id: str | None, now: float, max_age_s: float) -> str | None:
    """Why a saved snapshot cannot be the previous reading (None: it can).

    One from another boot counted from zero since; one older than ``max_age_s`` would publish many missed
    intervals as one interval's worth; one from the future means the clock was set back.
    """
    if saved.boot_id is None or boot_id is None or saved.boot_id != boot_id:
        return "it is from another boot"
    age = now - saved.taken_at
    if age < 0:
        return "it is from the future (the clock moved back)"
    if age > max_age_s:
        return f"it is {age:.0f} s old (more than {max_age_s:.0f} s)"
    return None


# ---------------------------------------------------------------------------------------------------------
# The exact counting rule


def _tool(name: str) -> str | None:
    return shutil.which(name)


# nft/iptables answer in milliseconds; one that hangs (a held xtables lock, a wedged netlink socket) raises
# subprocess.TimeoutExpired after this, which the agent's cycle logs and counts instead of hanging with it.
COMMAND_TIMEOUT_S = 15.0


def _run(argv: list[str], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 -- fixed argv; no user text reaches it
        argv, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )


def install_counter() -> str:
    """Add the counting rules (idempotent); returns which backend holds them."""
    nft = _tool("nft")
    if nft is not None:
        if read_counting_rule() is not None:
            return "nft"
        done = _run([nft, "-f", "-"], stdin=_NFT_RULESET)
        if done.returncode != 0:
            raise InputError(f"could not add the nft counter (root needed?): {done.stderr.strip()}")
        return "nft"
    for tool, match in (
        ("iptables", ["-p", "icmp", "--icmp-type", "fragmentation-needed"]),
        ("ip6tables", ["-p", "ipv6-icmp", "--icmpv6-type", "packet-too-big"]),
    ):
        path = _tool(tool)
        if path is None:
            raise InputError("neither nft nor iptables is installed: cannot count frag-needed exactly")
        rule = ["INPUT", *match, "-m", "comment", "--comment", IPTABLES_COMMENT]
        if _run([path, "-C", *rule]).returncode != 0:
            # No target: the rule only counts; the packet continues through INPUT unchanged.
            done = _run([path, "-I", *rule])
            if done.returncode != 0:
                raise InputError(f"could not add the {tool} counter (root needed?): {done.stderr.strip()}")
    return "iptables"


def remove_counter() -> bool:
    """Delete exactly the rules ``install_counter`` added; True when something was removed."""
    removed = False
    nft = _tool("nft")
    if nft is not None and _run([nft, "list", "table", "inet", NFT_TABLE]).returncode == 0:
        removed = _run([nft, "delete", "table", "inet", NFT_TABLE]).returncode == 0
    for tool, match in (
        ("iptables", ["-p", "icmp", "--icmp-type", "fragmentation-needed"]),
        ("ip6tables", ["-p", "ipv6-icmp", "--icmpv6-type", "packet-too-big"]),
    ):
        path = _tool(tool)
        if path is None:
            continue
        rule = ["INPUT", *match, "-m", "comment", "--comment", IPTABLES_COMMENT]
        for _ in range(8):  # bounded: at most a few copies from repeated installs
            if _run([path, "-D", *rule]).returncode != 0:
                break
            removed = True
    return removed


def read_counting_rule() -> dict[str, int] | None:
    """The exact frag-needed / PTB packet counts, or None when no counting rule is installed."""
    nft = _tool("nft")
    if nft is not None:
        done = _run([nft, "-j", "list", "counters", "table", "inet", NFT_TABLE])
        if done.returncode == 0:
            counts = {"frag_needed_v4": 0, "packet_too_big_v6": 0}
            try:
                for item in json.loads(done.stdout).get("nftables", []):
                    counter = item.get("counter")
                    if counter and counter.get("name") in counts:
                        counts[counter["name"]] = int(counter.get("packets", 0))
            except (json.JSONDecodeError, AttributeError):
                return None
            return counts
    counts = {}
    for tool, key in (("iptables", "frag_needed_v4"), ("ip6tables", "packet_too_big_v6")):
        path = _tool(tool)
        if path is None:
            return None
        done = _run([path, "-L", "INPUT", "-v", "-x", "-n"])
        packets = None
        for line in done.stdout.splitlines():
            if IPTABLES_COMMENT in line:
                packets = int(line.split()[0])
                break
        if packets is None:
            return None
        counts[key] = packets
    return counts
