"""The agent's cost for the drop counters beyond ICMP: one cycle's reading against /proc/net/netstat alone.

Measured: what the agent adds per cycle (``probe/host_drop_metrics.host_drop_points``): every source of
``probe/host_counters`` read once (netstat, snmp, the interfaces' statistics, softnet, conntrack, settings,
``ethtool -S`` where an ENA interface exists, and the commands ``tc -s qdisc show``, ``ss -ltnH``,
``iptables-save -c``, ``ip6tables-save -c``, ``nft -j``/``nft -a list ruleset``), the deltas against the
previous reading, the datapoints, the state file written. Baseline: reading and parsing
``/proc/net/netstat`` alone, in the same run.

Goal (issue #15): one cycle reads all of this in well under a second; the figure says whether it was met.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.harness import Figure, best_of
from dropsleuth.probe.counters import parse_snmp_table
from dropsleuth.probe.firewall import read_ruleset
from dropsleuth.probe.host_counters import read_host_counters, run_ss_listeners, run_tc_qdisc
from dropsleuth.probe.host_drop_metrics import host_drop_points

GOAL_S = 0.1
"""'Well under a second': a tenth of one."""


def _netstat_alone() -> None:
    parse_snmp_table(Path("/proc/thread-self/net/netstat").read_text())


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch) / "host-counters.json"

        def one_cycle() -> None:
            host_drop_points("bench", state_file=state, now=time.time(), max_age_s=600, host="bench")

        one_cycle()  # a previous reading, so every measured cycle computes deltas as the agent's do
        cycle = best_of(one_cycle, repeat=20)
        baseline = best_of(_netstat_alone, repeat=20)
        sources = read_host_counters(tc=run_tc_qdisc, firewall=read_ruleset, listeners=run_ss_listeners)
    met = "met" if cycle <= GOAL_S else "NOT met"
    unknown = ", ".join(sorted(sources.unknown)) or "none"
    return [
        Figure(
            "host_counters",
            f"one agent cycle: {len(sources.counters)} counters, {len(sources.settings)} settings",
            cycle,
            "/proc/net/netstat alone",
            baseline,
            note=f"goal ≤ {GOAL_S} s per cycle {met}; unknown here: {unknown}",
        )
    ]
