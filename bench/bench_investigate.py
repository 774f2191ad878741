"""Investigation wall time: the steps run concurrently, so it should cost about the slowest step.

The steps are the orchestrator's real machinery (``run_steps`` + ranking + report) with step functions that
wait as long as their AWS calls take in a real account — Athena queries seconds, Reachability Analyzer tens
of seconds — scaled by ``SCALE`` to keep the benchmark short, and return evidence shaped as the real steps
return it. Figures: concurrent wall time against the slowest step alone (ratio ≈ 1) and against running the
same steps one after another (ratio ≈ slowest / sum).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bench.harness import Figure, median_of
from dropsleuth.context import Endpoint, InvestigationContext, StepOutcome, Window
from dropsleuth.investigate import StepRecord, build_report, run_steps
from dropsleuth.model import StepStatus
from dropsleuth.steps import StepEnvironment, StepSpec

SCALE = 0.05
# Seconds each step takes against a real account (typical, from the AWS calls each makes).
LATENCY_S = {
    "flow_logs": 0.4,  # DescribeFlowLogs + DescribeNetworkInterfaces
    "flow_log_queries": 8.0,  # five Athena queries in parallel: queue + scan, seconds each
    "icmp_audit": 1.5,  # a handful of EC2 Describe* pages
    "path_mtu": 2.0,  # route tables, gateways, VPN, endpoints
    "reachability": 30.0,  # create path, start analysis, poll until done, delete
    "recent_changes": 3.0,  # LookupEvents, one resource per call (2 TPS quota)
    "metrics": 1.0,  # one GetMetricData
}
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
CONTEXT = InvestigationContext(
    vpc_id="vpc-0bench",
    source=Endpoint(cidr="192.168.50.0/24"),
    destination=Endpoint(cidr="10.40.1.0/24"),
    window=Window(start=START, end=START + timedelta(minutes=90)),
    source_mtu=9000,
)


def _outcome(name: str) -> StepOutcome:
    minutes = [(START + timedelta(minutes=m)).isoformat() for m in range(90)]
    if name == "flow_log_queries":
        mbps = [{"minute": t, "mbps": 1.8 if 30 <= i < 75 else 42.0} for i, t in enumerate(minutes)]
        icmp = [{"minute": t, "rejects": 8} for t in minutes[30:75]]
        return StepOutcome(data={"upload_throughput": mbps, "icmp_rejects": icmp})
    if name == "path_mtu":
        hops = [
            {"kind": "site", "resource_id": "cgw-1", "mtu": 9000, "sends_frag_needed": None},
            {"kind": "vpn", "resource_id": "vpn-1", "mtu": 1406, "sends_frag_needed": False},
        ]
        return StepOutcome(data={"hops": hops, "source_mtu": 9000, "path_mtu": 1406, "limiting_hop": "vpn-1"})
    return StepOutcome(checked=(f"{name} checked",))


def _step(name: str, seconds: float) -> StepSpec:
    def run(_context: InvestigationContext, _environment: StepEnvironment) -> StepOutcome:
        time.sleep(seconds)
        return _outcome(name)

    return StepSpec(name=name, checks=name, run=run, timeout_s=seconds * 4 + 1)


STEPS = tuple(_step(name, seconds * SCALE) for name, seconds in LATENCY_S.items())
ENVIRONMENT = StepEnvironment()


def concurrent() -> object:
    return build_report(CONTEXT, run_steps(CONTEXT, STEPS, ENVIRONMENT))


def sequential() -> object:
    records = []
    for spec in STEPS:
        started = time.perf_counter()
        outcome = spec.run(CONTEXT, ENVIRONMENT)
        records.append(StepRecord(spec, StepStatus.OK, "", time.perf_counter() - started, outcome))
    return build_report(CONTEXT, records)


def slowest_alone() -> object:
    slowest = max(STEPS, key=lambda s: LATENCY_S[s.name])
    return slowest.run(CONTEXT, ENVIRONMENT)


def run() -> list[Figure]:
    report = concurrent()
    assert getattr(report, "top_finding", None) is not None  # the ranking really ran on the evidence
    wall = median_of(concurrent, repeat=5)
    alone = median_of(slowest_alone, repeat=5)
    serial = median_of(sequential, repeat=3)
    note = f"7 steps, latencies ×{SCALE} (Athena 8 s, Reachability Analyzer 30 s real)"
    return [
        Figure("investigate", "concurrent investigation", wall, "slowest step alone", alone, note=note),
        Figure("investigate", "concurrent investigation", wall, "same steps sequentially", serial, note=note),
    ]
