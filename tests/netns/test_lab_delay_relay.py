"""The lab's user-space delay relay (no netem in this kernel): it adds the configured delay and keeps packet
sizes, so PMTUD behaves over it as over a long wire. The probe benchmark's +50 ms cases rely on it."""

from __future__ import annotations

import re

import pytest

from dropsleuth.probe.pmtu import ProbeSettings, probe_path
from dropsleuth.rules.pmtu_verdict import PathVerdict
from tests.netns.lab import Lab, in_netns, lab, sh

pytestmark = pytest.mark.netns


def _ping_rtts_ms(instance: Lab, *extra: str) -> list[float]:
    done = sh(
        "ping",
        "-n",
        "-c",
        "5",
        "-i",
        "0.2",
        "-W",
        "2",
        *extra,
        instance.cloud_ip,
        netns=instance.ns("edge"),
        check=False,
    )
    return [float(t) for t in re.findall(r"time=([\d.]+) ms", done.stdout)]


def test_the_relay_adds_the_configured_round_trip_delay() -> None:
    with lab("rl0") as direct:
        plain = _ping_rtts_ms(direct)
    with lab("rl50", delay_ms=50) as delayed:
        slow = _ping_rtts_ms(delayed)
        # A full-size DF packet crosses the relay unchanged (the bottleneck is gw's 1500 link).
        full = _ping_rtts_ms(delayed, "-M", "do", "-s", str(1500 - 28))
        probed = in_netns(delayed.ns("edge"), lambda: probe_path(delayed.cloud_ip, ProbeSettings()))
    assert len(plain) == len(slow) == 5
    assert max(plain) < 10
    assert 50 <= min(slow) < 50 + 40  # the delay, plus the relay's scheduling slack
    assert min(slow) - min(plain) >= 45
    assert len(full) == 5
    assert min(full) >= 50
    assert probed.verdict.verdict is PathVerdict.WORKS
    assert probed.verdict.path_mtu == 1500
    assert probed.rtt_s is not None
    assert probed.rtt_s >= 0.05
