"""Investigation wall time: the steps run concurrently, so it should cost about the slowest step.

Two settings. First, the orchestrator's real machinery (``run_steps`` + ranking + report) with step functions
that wait as long as their AWS calls take in a real account — Athena queries seconds, Reachability Analyzer
tens of seconds — scaled by ``SCALE`` to keep the benchmark short, returning evidence shaped as the real
steps return it. Second, the real steps on the embedded account (moto, DuckDB over the incident's flow
logs), every AWS call delayed by a real account's typical latency (``CALL_LATENCY_S``). Figures: concurrent
wall time against the slowest step alone (ratio ≈ 1) and against the steps one after another.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.harness import Figure, median_of
from dropsleuth.aws import clients
from dropsleuth.config import settings
from dropsleuth.context import Endpoint, InvestigationContext, StepOutcome, Window
from dropsleuth.demo import replay
from dropsleuth.demo.embedded import embedded_account
from dropsleuth.demo.scenario import load_scenario
from dropsleuth.handlers.investigate import environment_for, load_registry
from dropsleuth.investigate import StepRecord, build_report, run_steps
from dropsleuth.model import StepStatus
from dropsleuth.requests import parse_request
from dropsleuth.steps import StepEnvironment, StepSpec, default_steps

SCALE = 0.05
# Seconds each step takes against a real account: assumed typical figures for the AWS calls each makes, not
# measurements (the figures' note says so on docs/benchmarks.md).
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
    # The stand-in latencies are assumed (typical figures, see LATENCY_S), not measured against AWS.
    note = (
        f"7 stand-in steps; baseline latencies assumed, not measured (Athena 8 s, Reachability Analyzer "
        f"30 s), scaled ×{SCALE}"
    )
    return [
        Figure("investigate", "concurrent investigation", wall, "slowest step alone", alone, note=note),
        Figure("investigate", "concurrent investigation", wall, "same steps sequentially", serial, note=note),
        *real_steps(),
    ]


# --- the real steps, on the embedded account, with each AWS call given a real account's latency --------

# Seconds one call takes against a real account: assumed typical round trips from a Lambda in the same
# Region, not measurements (the figures' note says so).
CALL_LATENCY_S = {
    "ec2": 0.08,  # Describe* pages
    "cloudwatch": 0.25,  # GetMetricData over hours of 1-minute points
    "cloudtrail": 0.5,  # LookupEvents (2 calls per second per account)
    "s3": 0.03,  # GetObject / ListObjectsV2 of flow-log partitions and trail files
    "ssm": 0.02,
    "dynamodb": 0.01,
}


def _add_latency(**kwargs: object) -> None:
    model = kwargs.get("model")
    service = getattr(getattr(model, "service_model", None), "service_name", "")
    time.sleep(CALL_LATENCY_S.get(str(service), 0.02))


def real_steps() -> list[Figure]:
    """The wan-mtu-9000 incident investigated by the real steps (moto account, DuckDB), latency added."""
    scenario = load_scenario("wan-mtu-9000")
    with embedded_account(scenario.region):
        prepared = replay.prepare(scenario)
        with replay.lambda_environment(prepared.environment):
            clients.reset()  # clients made from now on carry the latency hook
            clients.session().events.register("before-call", _add_latency)
            config = settings()
            context = parse_request(prepared.event, load_registry(config)).context
            environment = environment_for(config)
            specs = default_steps()

            def concurrent_real() -> object:
                return build_report(context, run_steps(context, specs, environment))

            def one_step(spec: StepSpec) -> float:
                started = time.perf_counter()
                (record,) = run_steps(context, (spec,), environment)
                assert record.status is StepStatus.OK, (spec.name, record.reason)
                return time.perf_counter() - started

            report = concurrent_real()
            assert getattr(report, "top_finding", None) is not None
            wall = median_of(concurrent_real, repeat=3)
            alone = [statistics.median(one_step(spec) for _ in range(3)) for spec in specs]
    slowest = max(zip(alone, specs, strict=True), key=lambda pair: pair[0])
    note = (
        "real steps on the embedded account; per-call AWS latency assumed (CALL_LATENCY_S), not measured; "
        f"slowest: {slowest[1].name}"
    )
    measured = "real steps, concurrent"
    return [
        Figure("investigate", measured, wall, "slowest real step alone", slowest[0], note=note),
        Figure("investigate", measured, wall, "real steps one after another", sum(alone), note=note),
    ]
