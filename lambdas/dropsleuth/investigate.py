"""The orchestrator: context → concurrent steps, each with its own timeout → ranked findings → Report.

The steps run at the same time on a thread pool (boto3 clients are thread-safe, and every step spends its
time waiting on AWS), so an investigation takes about as long as its slowest step. Each step ends in one
``Step`` record: ok, failed with the reason (an AWS fault, a timeout, a bug), or skipped with the reason.
A failed step never loses the report: the ranking works with what the other steps found and the report
says what could not be checked.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.deadlines import step_budget
from dropsleuth.model import Report, Step, StepStatus
from dropsleuth.observability import logger
from dropsleuth.rules import ranking
from dropsleuth.steps import StepEnvironment, StepSkipped, StepSpec, default_steps


@dataclass(frozen=True)
class StepRecord:
    """How one step ended, with what it found when it ended well."""

    spec: StepSpec
    status: StepStatus
    reason: str = ""
    duration_s: float = 0.0
    outcome: StepOutcome = field(default_factory=StepOutcome)

    def as_step(self) -> Step:
        data = {"timeout_s": self.spec.timeout_s, "checks": self.spec.checks}
        if self.status is StepStatus.OK:
            data["checked"] = list(self.outcome.checked)
            data["findings"] = [f.code.value for f in self.outcome.findings]
        return Step(
            name=self.spec.name,
            status=self.status,
            reason=self.reason,
            duration_s=round(self.duration_s, 3),
            data=data,
        )


StepListener = Callable[[str, StepRecord | None], None]
"""Called with a step's name and None when it starts, and with its record when it ends (CLI progress)."""


def investigate(
    context: InvestigationContext,
    *,
    steps: Iterable[StepSpec] | None = None,
    environment: StepEnvironment | None = None,
    listener: StepListener | None = None,
) -> Report:
    """Run every step concurrently on ``context`` and return the ranked report."""
    environment = environment or StepEnvironment()
    specs = tuple(
        spec.with_timeout(step_budget(spec.timeout_s, environment.time_left_s))
        for spec in (default_steps() if steps is None else steps)
    )
    records = run_steps(context, specs, environment, listener=listener)
    return build_report(context, records)


def run_steps(
    context: InvestigationContext,
    specs: tuple[StepSpec, ...],
    environment: StepEnvironment,
    *,
    listener: StepListener | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[StepRecord]:
    """Run the steps at once; each is waited for until its own timeout, then recorded as timed out.

    A timed-out step's thread cannot be killed (Python has no safe way); it is abandoned and its result
    ignored. That is the exception, not the plan: each step receives its budget (``step_budget_s``) and
    its inner waits (the Reachability Analyzer poll, an Athena query) end before it, cleaning up after
    themselves (``dropsleuth.deadlines``); boto3's connect/read timeouts bound a single call.
    """
    if not specs:
        return []
    records: dict[str, StepRecord] = {}
    executor = ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="dropsleuth-step")
    started = clock()
    futures: dict[Future[tuple[StepOutcome, float]], StepSpec] = {}
    try:
        for spec in specs:
            if listener:
                listener(spec.name, None)
            futures[executor.submit(_timed, spec, context, environment)] = spec
        pending = set(futures)
        while pending:
            now = clock()
            next_deadline = min(started + futures[f].timeout_s for f in pending)
            done, pending = wait(pending, timeout=max(0.0, next_deadline - now), return_when=FIRST_COMPLETED)
            for future in done:
                record = _record_of(futures[future], future)
                records[record.spec.name] = record
                if listener:
                    listener(record.spec.name, record)
            now = clock()
            for future in [f for f in pending if started + futures[f].timeout_s <= now]:
                pending.discard(future)
                future.cancel()
                spec = futures[future]
                record = StepRecord(
                    spec,
                    StepStatus.FAILED,
                    f"timed out after {spec.timeout_s:g} s (its own timeout)",
                    now - started,
                )
                records[spec.name] = record
                logger.warning("step timed out", extra={"step": spec.name, "timeout_s": spec.timeout_s})
                if listener:
                    listener(spec.name, record)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    return [records[spec.name] for spec in specs]


def _timed(
    spec: StepSpec, context: InvestigationContext, environment: StepEnvironment
) -> tuple[StepOutcome, float]:
    start = time.perf_counter()
    try:
        # The step sees its own budget, so its inner waits end before the orchestrator stops waiting.
        outcome = spec.run(context, dataclasses.replace(environment, step_budget_s=spec.timeout_s))
    except BaseException as error:
        error.duration_s = time.perf_counter() - start  # type: ignore[attr-defined]
        raise
    return outcome, time.perf_counter() - start


def _record_of(spec: StepSpec, future: Future[tuple[StepOutcome, float]]) -> StepRecord:
    error = future.exception()
    if error is None:
        outcome, duration = future.result()
        return StepRecord(spec, StepStatus.OK, "", duration, outcome)
    duration = float(getattr(error, "duration_s", 0.0))
    status, reason = classify_failure(error)
    log = logger.info if status is StepStatus.SKIPPED else logger.warning
    log("step did not complete", extra={"step": spec.name, "status": status.value, "reason": reason})
    return StepRecord(spec, status, reason, duration)


def classify_failure(error: BaseException) -> tuple[StepStatus, str]:
    """The status and the one-line reason a step's exception leaves in the report."""
    if isinstance(error, StepSkipped):
        return StepStatus.SKIPPED, str(error)
    if isinstance(error, ModuleNotFoundError):
        return StepStatus.SKIPPED, f"capability not available in this build ({error.name})"
    if isinstance(error, AwsError):
        code = f" {error.code}" if error.code else ""
        return StepStatus.FAILED, f"{error.kind}{code}: {error}"
    if isinstance(error, InputError):
        return StepStatus.FAILED, f"bad input{f' ({error.field})' if error.field else ''}: {error}"
    if isinstance(error, TimeoutError):
        return StepStatus.FAILED, f"timeout: {error}"
    # Anything else is a bug in one step; it is reported, not raised, so the other steps still count.
    return StepStatus.FAILED, f"internal error: {type(error).__name__}: {error}"


def build_report(context: InvestigationContext, records: list[StepRecord]) -> Report:
    """Rank what the steps found and assemble the report (pure: no I/O)."""
    outcomes = {r.spec.name: r.outcome for r in records if r.status is StepStatus.OK}
    failed = {r.spec.name: r.reason for r in records if r.status is StepStatus.FAILED}
    findings = ranking.rank(context, outcomes, failed_steps=failed)
    checked: list[str] = []
    for record in records:
        if record.status is StepStatus.OK:
            checked.extend(record.outcome.checked or (record.spec.checks,))
        else:
            state = "failed" if record.status is StepStatus.FAILED else "skipped"
            checked.append(f"NOT checked ({record.spec.name} {state}): {record.spec.checks}")
    checked.extend(ranking.measured_path_mtu_notes(outcomes))
    return Report(
        subject=subject_of(context),
        findings=findings,
        steps=tuple(r.as_step() for r in records),
        checked=tuple(dict.fromkeys(checked)),
        timeline=ranking.timeline(context, outcomes),
        kind="investigation",
    )


def subject_of(context: InvestigationContext) -> dict[str, object]:
    """What the report is about, as the report's ``subject``."""
    subject: dict[str, object] = {
        "vpc_id": context.vpc_id,
        "source": context.source.describe(),
        "destination": context.destination.describe(),
        "port": context.port,
        "window": {"start": context.window.start.isoformat(), "end": context.window.end.isoformat()},
    }
    if context.site is not None:
        subject["site"] = context.site.name
    if context.vpn_connection_id:
        subject["vpn_connection_id"] = context.vpn_connection_id
    if context.source_mtu:
        subject["source_mtu"] = context.source_mtu
    if context.alarm:
        subject["alarm"] = dict(context.alarm)
    return subject
