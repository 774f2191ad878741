"""Deadlines from the time left: function > step > inner timeouts, so every ``finally`` gets to run.

A Lambda has ``context.get_remaining_time_in_millis()`` left when the investigation starts. From it come
each step's budget (its own timeout, but never past the time left less what delivering the report needs),
and from a step's budget the timeouts inside it: how long Reachability Analyzer is polled (leaving time to
delete the path and analysis it created), how long an Athena query may run (leaving time to stop it). So
an inner wait always gives up before its step does, and a step before the function: nothing is abandoned
mid-cleanup or frozen when the handler returns. Pure arithmetic, no clock: callers pass the figures.
"""

from __future__ import annotations

DELIVERY_RESERVE_S = 20.0
"""Kept back from the function's time for storing the report (three PutObject) and the SNS summary."""

RA_CLEANUP_RESERVE_S = 20.0
"""Kept back from the reachability step for the topology reads before the analysis and the two deletes
after it (each call bounded by the client's connect and read timeouts)."""

ATHENA_STOP_RESERVE_S = 5.0
"""Kept back from the query step for ``StopQueryExecution`` of a query that ran out of time."""

MIN_TIMEOUT_S = 1.0


def step_budget(step_timeout_s: float, time_left_s: float | None) -> float:
    """A step's budget: its own timeout, capped by the function's time left less the delivery reserve."""
    if time_left_s is None:
        return step_timeout_s
    return max(MIN_TIMEOUT_S, min(step_timeout_s, time_left_s - DELIVERY_RESERVE_S))


def inner_timeout(configured_s: float, step_budget_s: float | None, reserve_s: float) -> float:
    """An inner wait's timeout: the configured one, capped so it ends ``reserve_s`` before its step."""
    if step_budget_s is None:
        return configured_s
    return max(MIN_TIMEOUT_S, min(configured_s, step_budget_s - reserve_s))
