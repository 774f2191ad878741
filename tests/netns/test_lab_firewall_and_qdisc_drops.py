"""The kernel drops by a firewall rule and by a shaping qdisc, and the agent's cycle attributes each drop
to what dropped it (root, netns).

Two namespaces of this test's own joined by one veth (10.78.0.1 ↔ 10.78.0.2), traffic only between them:

- the receiver holds an nft table of its own with a counting drop rule, and an iptables (nf_tables)
  rule: the sender's datagrams to those ports are dropped and counted per rule;
- the sender's veth gets a tbf qdisc with a tiny rate and queue: a burst of datagrams overflows it.

Each agent cycle (``host_drop_points``) runs in the namespace as the agent would on a host: the real
``nft``/``iptables-save``/``tc`` commands, a state file, deltas.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dropsleuth.model import FindingCode, Severity
from dropsleuth.probe.firewall import read_ruleset
from dropsleuth.probe.host_counters import parse_tc_qdisc_drops, read_host_counters
from dropsleuth.probe.host_drop_metrics import host_drop_points
from dropsleuth.probe.spool import Datapoint
from dropsleuth.rules.host_drops import HostSeries, assess_host_drops
from tests.netns.lab import PREFIX, in_netns, sh
from tests.unit.test_other_drops_rules import ONSET, series

SENDER, RECEIVER = "10.78.0.1", "10.78.0.2"
NFT_PORT, IPTABLES_PORT = 5001, 5002
NFT_PACKETS, IPTABLES_PACKETS = 10, 4
NFT_TABLE = """
table inet lab_fw {
    chain input {
        type filter hook input priority 0; policy accept;
        udp dport 5001 counter drop comment "lab: drop 5001"
        udp dport 5003 drop
    }
}
"""


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    sender, receiver = f"{PREFIX}-{os.getpid()}-fws", f"{PREFIX}-{os.getpid()}-fwr"
    sh("ip", "netns", "add", sender)
    sh("ip", "netns", "add", receiver)
    try:
        sh(
            "ip",
            "link",
            "add",
            "s0",
            "netns",
            sender,
            "type",
            "veth",
            "peer",
            "name",
            "r0",
            "netns",
            receiver,
        )
        for ns, device, address in ((sender, "s0", f"{SENDER}/24"), (receiver, "r0", f"{RECEIVER}/24")):
            sh("ip", "addr", "add", address, "dev", device, netns=ns)
            sh("ip", "link", "set", device, "up", netns=ns)
            sh("ip", "link", "set", "lo", "up", netns=ns)
        yield sender, receiver
    finally:
        sh("ip", "netns", "del", sender, check=False)
        sh("ip", "netns", "del", receiver, check=False)


def send(port: int, count: int, size: int = 64) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(count):
            sock.sendto(b"x" * size, (RECEIVER, port))


def cycle(state: Path, now: float) -> list[Datapoint]:
    return host_drop_points("lab", state_file=state, now=now, max_age_s=600, host="lab", ethtool=None)


def wait_until(read: object, done: object, timeout_s: float = 5.0) -> None:
    """Poll (bounded) until ``done(read())``: the kernel counts as packets arrive, not when send returns."""
    deadline = time.monotonic() + timeout_s
    while not done(read()) and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_a_real_nft_drop_rule_counts_the_packets_and_the_agent_names_that_rule(
    pair: tuple[str, str], tmp_path: Path
) -> None:
    sender, receiver = pair
    subprocess.run(
        ["ip", "netns", "exec", receiver, "nft", "-f", "-"], input=NFT_TABLE, text=True, check=True
    )
    sh("iptables", "-A", "INPUT", "-p", "udp", "--dport", str(IPTABLES_PORT), "-j", "DROP", netns=receiver)
    state = tmp_path / "host-counters.json"

    first = in_netns(receiver, lambda: cycle(state, 1000.0))
    in_netns(sender, lambda: send(NFT_PORT, NFT_PACKETS))
    in_netns(sender, lambda: send(IPTABLES_PORT, IPTABLES_PACKETS))
    wait_until(
        lambda: sh("iptables-save", "-c", netns=receiver).stdout,
        lambda text: f"[{IPTABLES_PACKETS}:" in text,
    )
    second = in_netns(receiver, lambda: cycle(state, 1060.0))

    # The nft rule without `counter` is seen, and said to be uncounted.
    assert {p.name: p.value for p in first}["HostFirewallUncountedDropRules"] == 1
    totals = {p.name: p.value for p in second if "Rule" not in p.dimensions}
    assert totals["HostFirewallDrops"] == NFT_PACKETS + IPTABLES_PACKETS
    by_rule = {p.dimensions["Rule"]: p.value for p in second if p.name == "HostFirewallRuleDrops"}
    nft_rule = next(r for r in by_rule if r.startswith("nft inet lab_fw input handle "))
    assert nft_rule.endswith(': udp dport 5001 counter drop comment "lab: drop 5001"')
    assert by_rule[nft_rule] == NFT_PACKETS
    assert (
        by_rule["iptables filter INPUT rule 1: -A INPUT -p udp -m udp --dport 5002 -j DROP"]
        == IPTABLES_PACKETS
    )
    assert len(by_rule) == 2

    # The same numbers as the investigation reads them: the rule is named, with the accept to insert.
    rules = {ref: series(0, value) for ref, value in by_rule.items()}
    host = HostSeries(
        "lab", {"HostFirewallDrops": series(0, totals["HostFirewallDrops"])}, firewall_rules=rules
    )
    (finding,) = [
        f for f in assess_host_drops([host], ONSET).findings if f.code is FindingCode.HOST_FIREWALL_DROPS
    ]
    assert finding.severity is Severity.HIGH
    assert finding.remediation is not None
    handle = nft_rule.split(" handle ")[1].split(":")[0]
    assert (
        finding.remediation.commands[-1]
        == f"nft insert rule inet lab_fw input position {handle} <MATCH> accept"
    )


def test_a_tiny_tbf_qdisc_drops_a_burst_and_the_agent_counts_it_as_qdisc_drops(
    pair: tuple[str, str], tmp_path: Path
) -> None:
    sender, _ = pair
    sh("tc", "qdisc", "add", "dev", "s0", "root", "tbf", "rate", "100kbit", "burst", "1600", "limit", "3000",
       netns=sender)  # fmt: skip
    state = tmp_path / "host-counters.json"

    in_netns(sender, lambda: cycle(state, 1000.0))
    in_netns(sender, lambda: send(9, 200, size=1000))
    second = in_netns(sender, lambda: cycle(state, 1060.0))

    dropped_by_tc = parse_tc_qdisc_drops(sh("tc", "-s", "qdisc", "show", netns=sender).stdout)["s0"]
    assert dropped_by_tc > 100
    assert {p.name: p.value for p in second}["QdiscDrops"] == dropped_by_tc
    (by_qdisc,) = [p for p in second if p.name == "QdiscDropsByQdisc"]
    assert by_qdisc.dimensions["Qdisc"].startswith("s0 root tbf ")
    assert "rate 100Kbit" in by_qdisc.dimensions["Qdisc"]
    assert by_qdisc.value == dropped_by_tc
    # The NIC itself dropped nothing: a shaper's drops are not a ring's.
    assert {p.name: p.value for p in second}.get("NicTxDropped", 0) == 0


def test_an_agent_without_cap_net_admin_says_the_firewall_is_unknown() -> None:
    # The agent's process as its systemd unit runs it: no CAP_NET_ADMIN (the listings are refused).
    probe = (
        "from dropsleuth.probe.host_counters import read_host_counters;"
        "from dropsleuth.probe.firewall import read_ruleset;"
        "r = read_host_counters(ethtool=None, firewall=read_ruleset);"
        "print(r.unknown.get('firewall', 'READ'));"
        "print(sorted(k for k in r.counters if k.startswith('fw.')))"
    )
    done = subprocess.run(
        ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin", sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    reason, counters = done.stdout.splitlines()
    assert "CAP_NET_ADMIN" in reason
    assert "refused" in reason
    assert counters == "[]"
    # With the capability the same reading succeeds (this test runs as root).
    assert "firewall" not in read_host_counters(ethtool=None, firewall=read_ruleset).unknown
