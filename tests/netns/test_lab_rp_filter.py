"""The kernel drops a packet of an asymmetric path under strict rp_filter and counts it (root, netns).

Two namespaces of this test's own joined by two links (10.77.1.0/24 and 10.77.2.0/24). The sender sends
from its address on the first link out of the second; the receiver, with ``rp_filter=1``, would answer
that source by the first link, so it drops the packet and counts ``IPReversePathFilter``. The sender's
neighbour entry is static: strict rp_filter drops the ARP request of such a source as well.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator

import pytest

from dropsleuth.metrics_catalog import HOST_DROP_METRICS
from dropsleuth.model import FindingCode, Severity
from dropsleuth.probe.host_counters import host_counter_deltas, read_host_counters
from dropsleuth.rules.host_drops import HostSeries, assess_host_drops
from tests.netns.lab import PREFIX, in_netns, sh
from tests.unit.test_other_drops_rules import ONSET, series

PACKETS = 5
WAIT_S = 5.0


@pytest.fixture
def asymmetric_pair() -> Iterator[tuple[str, str]]:
    sender, receiver = f"{PREFIX}-{os.getpid()}-rps", f"{PREFIX}-{os.getpid()}-rpr"
    sh("ip", "netns", "add", sender)
    sh("ip", "netns", "add", receiver)
    try:
        for near, far in (("a0", "a1"), ("b0", "b1")):
            sh(
                "ip",
                "link",
                "add",
                near,
                "netns",
                sender,
                "type",
                "veth",
                "peer",
                "name",
                far,
                "netns",
                receiver,
            )
        for ns, device, address in (
            (sender, "a0", "10.77.1.1/24"),
            (sender, "b0", "10.77.2.1/24"),
            (receiver, "a1", "10.77.1.2/24"),
            (receiver, "b1", "10.77.2.2/24"),
        ):
            sh("ip", "addr", "add", address, "dev", device, netns=ns)
            sh("ip", "link", "set", device, "up", netns=ns)
        sh("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.b1.rp_filter=1", netns=receiver)
        link = sh("ip", "-o", "link", "show", "b1", netns=receiver).stdout
        mac = re.search(r"link/ether (\S+)", link)
        assert mac is not None
        sh("ip", "neigh", "replace", "10.77.2.2", "lladdr", mac.group(1), "dev", "b0", "nud", "permanent",
           netns=sender)  # fmt: skip
        yield sender, receiver
    finally:
        sh("ip", "netns", "del", sender, check=False)
        sh("ip", "netns", "del", receiver, check=False)


def send_from_the_other_link() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("10.77.1.1", 0))
        for _ in range(PACKETS):
            sock.sendto(b"dropsleuth lab", ("10.77.2.2", 9))


def test_strict_rp_filter_drops_an_asymmetric_path_and_the_rule_calls_it(
    asymmetric_pair: tuple[str, str],
) -> None:
    sender, receiver = asymmetric_pair
    before = in_netns(receiver, lambda: read_host_counters(ethtool=None))
    assert (
        in_netns(receiver, lambda: read_host_counters(ethtool=None)).settings["net.ipv4.conf.all.rp_filter"]
        == "1"
    )
    in_netns(sender, send_from_the_other_link)

    deadline = time.monotonic() + WAIT_S
    while True:
        after = in_netns(receiver, lambda: read_host_counters(ethtool=None))
        dropped = host_counter_deltas(before, after)["TcpExt.IPReversePathFilter"]
        if dropped >= PACKETS or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert dropped == PACKETS
    metric = HOST_DROP_METRICS["TcpExt.IPReversePathFilter"].name
    counted = [(t, float(dropped) if t >= ONSET else 0.0) for t, _ in series(0, 0)]
    (finding,) = assess_host_drops([HostSeries("receiver", {metric: counted})], ONSET).findings
    assert finding.code is FindingCode.REVERSE_PATH_FILTER_DROPS
    assert finding.severity is Severity.HIGH
