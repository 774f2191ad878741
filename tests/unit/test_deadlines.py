"""Deadlines from the time left: function > step > inner timeouts (pure arithmetic)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dropsleuth.context import StepOutcome
from dropsleuth.deadlines import (
    ATHENA_STOP_RESERVE_S,
    DELIVERY_RESERVE_S,
    RA_CLEANUP_RESERVE_S,
    inner_timeout,
    step_budget,
)
from dropsleuth.investigate import investigate
from dropsleuth.steps import StepEnvironment, StepSpec, default_steps
from dropsleuth.steps.queries import engine_for
from tests.unit.test_ranking_rules import context


@given(
    step=st.floats(min_value=1, max_value=900),
    left=st.floats(min_value=25, max_value=900),
    configured=st.floats(min_value=1, max_value=900),
)
def test_inner_waits_end_before_their_step_and_steps_before_the_function(
    step: float, left: float, configured: float
) -> None:
    budget = step_budget(step, left)
    assert budget <= step
    assert budget <= left - DELIVERY_RESERVE_S
    for reserve in (RA_CLEANUP_RESERVE_S, ATHENA_STOP_RESERVE_S):
        inner = inner_timeout(configured, budget, reserve)
        assert inner <= configured
        if budget > reserve + 1:
            assert inner <= budget - reserve


def test_without_a_time_limit_the_configured_timeouts_stand() -> None:
    assert step_budget(90, None) == 90
    assert inner_timeout(60, None, RA_CLEANUP_RESERVE_S) == 60


def test_the_default_steps_fit_a_five_minute_function_with_cleanup_inside_each_step() -> None:
    for spec in default_steps():
        budget = step_budget(spec.timeout_s, 300)
        assert budget <= 300 - DELIVERY_RESERVE_S
    reachability = next(s for s in default_steps() if s.name == "reachability")
    # The Reachability Analyzer poll (60 s by default) ends 20 s before its step's 90 s.
    assert inner_timeout(60, reachability.timeout_s, RA_CLEANUP_RESERVE_S) + RA_CLEANUP_RESERVE_S <= 90


def test_each_step_sees_its_budget_capped_by_the_time_left() -> None:
    seen: dict[str, Any] = {}

    def record(name: str) -> StepSpec:
        def run(_context: Any, environment: StepEnvironment) -> StepOutcome:
            seen[name] = environment.step_budget_s
            return StepOutcome(checked=(name,))

        return StepSpec(name=name, checks=name, run=run, timeout_s=90.0 if name == "slow" else 10.0)

    report = investigate(
        context(), steps=[record("slow"), record("quick")], environment=StepEnvironment(time_left_s=50)
    )
    assert seen == {"slow": 30.0, "quick": 10.0}
    assert {s.name: s.data["timeout_s"] for s in report.steps} == {"slow": 30.0, "quick": 10.0}


def test_the_athena_engine_of_a_step_stops_its_query_before_the_step_ends() -> None:
    from dropsleuth.config import Settings

    settings = Settings(athena_workgroup="wg", athena_database="db")
    engine = engine_for(StepEnvironment(settings=settings, step_budget_s=30.0))
    assert engine.timeout_s == 30.0 - ATHENA_STOP_RESERVE_S  # type: ignore[attr-defined]


def test_the_reachability_step_polls_only_as_long_as_its_budget_leaves_time_to_delete(
    monkeypatch: Any,
) -> None:
    from dropsleuth.steps import reachability as step

    asked: list[float] = []

    def outcome(_context: Any, **kwargs: Any) -> StepOutcome:
        asked.append(kwargs["timeout_s"])
        return StepOutcome(data={"mode": "aws"})

    monkeypatch.setattr(step, "reachability_outcome", outcome)
    step.run(context(), StepEnvironment(step_budget_s=35.0))
    step.run(context(), StepEnvironment())
    assert asked == [35.0 - RA_CLEANUP_RESERVE_S, 60.0]
