"""The kernel counts an accept-queue overflow, the reader sees it, the rule calls it (root, netns).

A listener with backlog 1 that never accepts, in a namespace of this test's own, and more clients than
its queue holds: the kernel drops the handshakes it cannot queue and counts ``ListenOverflows``. Traffic
stays on the namespace's loopback.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dropsleuth.metrics_catalog import HOST_DROP_METRICS
from dropsleuth.model import FindingCode, Severity
from dropsleuth.probe.host_counters import HostCounters, host_counter_deltas, read_host_counters
from dropsleuth.rules.host_drops import HostSeries, assess_host_drops
from tests.netns.lab import PREFIX, in_netns, sh

OVERFLOW_WAIT_S = 5.0


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"{PREFIX}-{os.getpid()}-lq"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "link", "set", "lo", "up", netns=name)
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


def overflow_the_accept_queue(clients: int = 8) -> tuple[HostCounters, HostCounters]:
    """Readings before and after ``clients`` connect to a listener whose queue holds two."""
    before = read_host_counters(ethtool=None)
    listener = socket.socket()
    opened = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        for _ in range(clients):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(listener.getsockname())
            opened.append(client)
        # The kernel counts as handshakes complete; poll (bounded) rather than sleep a fixed time.
        deadline = time.monotonic() + OVERFLOW_WAIT_S
        after = read_host_counters(ethtool=None)
        while (
            host_counter_deltas(before, after)["TcpExt.ListenOverflows"] == 0 and time.monotonic() < deadline
        ):
            time.sleep(0.05)
            after = read_host_counters(ethtool=None)
        return before, after
    finally:
        for client in opened:
            client.close()
        listener.close()


def test_a_listener_that_never_accepts_overflows_and_is_ranked_high(namespace: str) -> None:
    before, after = in_netns(namespace, overflow_the_accept_queue)

    delta = host_counter_deltas(before, after)
    assert delta["TcpExt.ListenOverflows"] > 0
    assert delta["TcpExt.ListenDrops"] >= delta["TcpExt.ListenOverflows"]
    # The namespace's own counters, not the host's: nothing else in it drops.
    assert delta["TcpExt.IPReversePathFilter"] == 0
    # The same numbers as the agent would publish them, one minute each, the overflow after the onset.
    onset = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    metric = HOST_DROP_METRICS["TcpExt.ListenOverflows"].name
    series = [(onset - timedelta(minutes=m), 0.0) for m in range(1, 6)] + [
        (onset, float(delta["TcpExt.ListenOverflows"]))
    ]
    result = assess_host_drops([HostSeries("lab", {metric: series})], onset)
    (finding,) = result.findings
    assert finding.code is FindingCode.LISTEN_QUEUE_OVERFLOW
    assert finding.severity is Severity.HIGH
