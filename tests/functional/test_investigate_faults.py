"""The fault matrix: every step × every fault class leaves that step failed with the reason, the report
still comes out, and the other steps are untouched.

Faults are raised inside botocore's client call path (``BaseClient._make_api_call``) with the error codes
and shapes AWS returns, only while the targeted step runs (a thread-local mark set by a wrapper around the
step), against the embedded account of the main scenario (moto).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from dropsleuth.config import Settings
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.demo import replay
from dropsleuth.demo.scenario import load_scenario
from dropsleuth.investigate import investigate
from dropsleuth.model import FindingCode, Report, StepStatus
from dropsleuth.queries import AthenaEngine
from dropsleuth.requests import parse_request
from dropsleuth.sites import SiteRegistry
from dropsleuth.steps import StepEnvironment, StepSpec, default_steps

_active = threading.local()
_targeted_step = [""]


@dataclass(frozen=True)
class Prepared:
    replay: replay.Replay
    context: InvestigationContext
    settings: Settings


@pytest.fixture(scope="module")
def prepared() -> Iterator[Prepared]:
    from moto import mock_aws

    from dropsleuth.aws import clients

    with mock_aws():
        clients.reset()
        done = replay.prepare(load_scenario("wan-mtu-9000"))
        assert done.built.site is not None
        registry = SiteRegistry(sites=(done.built.site,))
        context = parse_request(done.event, registry, now=done.end).context
        env = done.environment
        settings = Settings(
            flow_logs_bucket=env["DROPSLEUTH_FLOW_LOGS_BUCKET"],
            changes_source=env.get("DROPSLEUTH_CHANGES_SOURCE"),
        )
        yield Prepared(done, context, settings)


def client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


Fault = Callable[[str, str], Any]
"""Called with (service, operation) on each API call of the targeted step; raises, sleeps or passes."""


def throttling(service: str, operation: str) -> None:
    raise client_error("ThrottlingException", "Rate exceeded", operation)


def access_denied(service: str, operation: str) -> None:
    code = "UnauthorizedOperation" if service == "ec2" else "AccessDenied"
    raise client_error(code, f"not authorized to perform: {service}:{operation}", operation, 403)


def slow(service: str, operation: str) -> None:
    time.sleep(2.0)


def missing_bucket(service: str, operation: str) -> None:
    if service == "s3":
        raise client_error("NoSuchBucket", "The specified bucket does not exist", operation, 404)


def reachability_unavailable(service: str, operation: str) -> None:
    if "NetworkInsights" in operation:
        raise client_error("InternalFailure", "not implemented", operation, 500)


@pytest.fixture
def inject() -> Iterator[Callable[[Fault], None]]:
    original = BaseClient._make_api_call
    chosen: list[Fault] = []

    def patched(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        # The query step runs its queries on its own small pool ("dropsleuth-query" threads).
        in_step = getattr(_active, "on", False) or (
            _targeted_step[0] == "flow_log_queries"
            and threading.current_thread().name.startswith("dropsleuth-query")
        )
        if chosen and in_step:
            chosen[0](self.meta.service_model.service_name, operation)
        return original(self, operation, params)

    BaseClient._make_api_call = patched  # type: ignore[method-assign]
    try:
        yield chosen.append
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def targeted(spec: StepSpec) -> StepSpec:
    _targeted_step[0] = spec.name

    def run(context: InvestigationContext, environment: StepEnvironment) -> StepOutcome:
        _active.on = True
        try:
            return spec.run(context, environment)
        finally:
            _active.on = False

    return StepSpec(spec.name, spec.checks, run, spec.timeout_s)


STEP_NAMES = [s.name for s in default_steps()]
FAULTS: dict[str, Fault] = {
    "throttling": throttling,
    "access_denied": access_denied,
    "timeout": slow,
    "missing_bucket": missing_bucket,
    "reachability_unavailable": reachability_unavailable,
}
# Which steps call the API a fault hits (the others must stay ok): S3 is read by the flow-log queries
# (DuckDB over the bucket) and the change records; the reachability step calls Reachability Analyzer's API
# and, where it is unavailable, answers statically (so that fault leaves every step ok).
S3_STEPS = {"flow_log_queries", "recent_changes"}
EXPECTED_KIND = {"throttling": "throttled", "access_denied": "access_denied", "missing_bucket": "not_found"}


def run_with(prepared: Prepared, step: str, fault: Fault, *, timeout_s: float = 30.0) -> Report:
    steps = [targeted(s).with_timeout(timeout_s) if s.name == step else s for s in default_steps()]
    environment = StepEnvironment(settings=prepared.settings)
    return investigate(prepared.context, steps=steps, environment=environment)


def status_of(report: Report, name: str) -> tuple[StepStatus, str]:
    step = next(s for s in report.steps if s.name == name)
    return step.status, step.reason


@pytest.mark.parametrize("step", STEP_NAMES)
@pytest.mark.parametrize("fault_name", list(FAULTS))
def test_fault_matrix(
    prepared: Prepared, inject: Callable[[Fault], None], step: str, fault_name: str
) -> None:
    inject(FAULTS[fault_name])
    timeout = 0.5 if fault_name == "timeout" else 30.0
    report = run_with(prepared, step, FAULTS[fault_name], timeout_s=timeout)

    status, reason = status_of(report, step)
    applies = fault_name in {"throttling", "access_denied", "timeout"} or (
        fault_name == "missing_bucket" and step in S3_STEPS
    )
    if applies:
        assert status is StepStatus.FAILED, (step, fault_name, reason)
        if fault_name == "timeout":
            assert "timed out after 0.5 s" in reason
        else:
            assert reason.startswith(EXPECTED_KIND[fault_name]), reason
        assert any(f.code is FindingCode.STEP_FAILED and step in f.title for f in report.findings)
        assert any(c.startswith(f"NOT checked ({step} failed)") for c in report.checked)
    else:
        assert status is StepStatus.OK, (step, fault_name, reason)
    # The report still comes out, and every other step ran as usual.
    others = {s.name: s.status for s in report.steps if s.name != step}
    assert all(st is StepStatus.OK for st in others.values()), others
    assert Report.from_json(report.to_json()) == report


def test_reachability_without_the_api_answers_statically(prepared: Prepared) -> None:
    report = run_with(prepared, "reachability", reachability_unavailable)
    step = next(s for s in report.steps if s.name == "reachability")
    assert step.status is StepStatus.OK
    assert any("static analysis" in c for c in step.data["checked"])


def test_failed_athena_query_fails_the_query_step_with_athenas_reason(
    prepared: Prepared, inject: Callable[[Fault], None]
) -> None:
    reason_text = "SYNTAX_ERROR: line 1:8: Column 'x' cannot be resolved"

    def failed_query(service: str, operation: str) -> Any:
        if service == "athena" and operation == "GetQueryExecution":
            raise client_error("InvalidRequestException", reason_text, operation)

    inject(failed_query)
    engine = AthenaEngine(
        "primary", "flowlogs", "vpc_flow_logs", "s3://results/", timeout_s=5, poll_interval_s=0.05
    )
    steps = [targeted(s) if s.name == "flow_log_queries" else s for s in default_steps()]
    environment = StepEnvironment(settings=prepared.settings, engine=engine)
    report = investigate(prepared.context, steps=steps, environment=environment)
    status, reason = status_of(report, "flow_log_queries")
    assert status is StepStatus.FAILED
    assert "Column 'x' cannot be resolved" in reason
    # Without flow logs the black hole is still found from the path, the NACL and the metrics.
    assert report.top_finding is not None
    assert report.top_finding.code is FindingCode.PMTUD_BLACKHOLE


def test_steps_run_concurrently_so_one_slow_step_costs_its_own_time_only(
    prepared: Prepared, inject: Callable[[Fault], None]
) -> None:
    inject(slow)
    report = run_with(prepared, "icmp_audit", slow, timeout_s=0.5)
    status, reason = status_of(report, "icmp_audit")
    # The slow call would have succeeded after 2 s: a failure that says "timed out" proves the orchestrator
    # recorded the step at its own deadline instead of waiting for it (no wall-clock assertion needed).
    assert status is StepStatus.FAILED
    assert "timed out" in reason
    assert all(step.status is StepStatus.OK for step in report.steps if step.name != "icmp_audit")
