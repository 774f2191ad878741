"""The orchestrator's own rules: every step at once, each bounded by its own timeout, none lost."""

from __future__ import annotations

import threading

from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.investigate import run_steps
from dropsleuth.model import StepStatus
from dropsleuth.steps import StepEnvironment, StepFunction, StepSpec
from tests.unit.test_ranking_rules import context


def _spec(name: str, run: StepFunction, timeout_s: float = 5.0) -> StepSpec:
    return StepSpec(name=name, checks=f"{name} checks", run=run, timeout_s=timeout_s)


def test_every_step_runs_at_the_same_time() -> None:
    # Each step waits at a barrier that opens only when all seven are inside it: a runner that started
    # them one after another (or a few at a time) would break the barrier and every step would fail.
    names = [f"step-{i}" for i in range(7)]
    barrier = threading.Barrier(len(names), timeout=3.0)

    def meet(_: InvestigationContext, __: StepEnvironment) -> StepOutcome:
        barrier.wait()
        return StepOutcome(checked=("met the others",))

    records = run_steps(context(), tuple(_spec(n, meet) for n in names), StepEnvironment())
    assert [r.status for r in records] == [StepStatus.OK] * len(names)
    assert [r.spec.name for r in records] == names  # the report lists the steps in their declared order


def test_a_hung_step_is_failed_at_its_own_deadline_while_the_others_complete() -> None:
    release = threading.Event()

    def hang(_: InvestigationContext, __: StepEnvironment) -> StepOutcome:
        release.wait(10)
        return StepOutcome()

    def quick(_: InvestigationContext, __: StepEnvironment) -> StepOutcome:
        return StepOutcome(checked=("quick",))

    try:
        records = run_steps(
            context(), (_spec("hung", hang, timeout_s=0.3), _spec("quick", quick)), StepEnvironment()
        )
    finally:
        release.set()
    by_name = {r.spec.name: r for r in records}
    assert by_name["hung"].status is StepStatus.FAILED
    assert "timed out after 0.3 s" in by_name["hung"].reason
    assert by_name["quick"].status is StepStatus.OK


def test_a_step_that_raises_a_bug_is_reported_not_raised() -> None:
    def broken(_: InvestigationContext, __: StepEnvironment) -> StepOutcome:
        raise KeyError("hops")

    (record,) = run_steps(context(), (_spec("broken", broken),), StepEnvironment())
    assert record.status is StepStatus.FAILED
    assert record.reason.startswith("internal error: KeyError")
