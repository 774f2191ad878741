"""Step ``flow_log_queries``: the flow-log SQL of ``queries/`` over the window.

REJECT timeline, top rejected flows, ICMP rejects toward the source, upload throughput per minute,
stalled-flow candidates, the flows' average packet sizes, the connection attempts left unanswered or reset
per destination and the replies REJECTed on an interface that never saw their requests — on Athena when
deployed, on DuckDB over the same files locally. The queries run at once: on Athena each takes seconds,
mostly waiting; on DuckDB they share the window's files, listed (and downloaded) once, and overlap their
fixed costs. The outcome names where the records came from (``flow_log_location``).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dropsleuth.aws.endpoints import ResolvedEndpoint, resolve_endpoint
from dropsleuth.aws.errors import AwsError, DropsleuthError
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.deadlines import ATHENA_STOP_RESERVE_S, inner_timeout
from dropsleuth.queries import (
    ATHENA_QUERY_TIMEOUT_S,
    AthenaEngine,
    FlowLogEngine,
    LocalEngine,
    QueryResult,
    load_query,
)
from dropsleuth.rules.connection_attempts import QUERY as ATTEMPTS_QUERY
from dropsleuth.rules.connection_attempts import checked_line as attempts_checked_line
from dropsleuth.rules.return_paths import QUERY as RETURN_PATHS_QUERY
from dropsleuth.rules.return_paths import checked_line as return_paths_checked_line
from dropsleuth.rules.return_paths import unknown_line as return_paths_unknown_line
from dropsleuth.steps import StepEnvironment, StepSkipped, StepSpec

QUERIES = (
    "upload_throughput",
    "icmp_rejects",
    "rejects_timeline",
    "top_rejected_flows",
    "stalled_flows",
    "flow_packet_sizes",
    "syn_rst_by_destination",
    "rejected_replies",
)


def engine_for(environment: StepEnvironment) -> FlowLogEngine:
    """The engine the environment names, else Athena when configured, else DuckDB over the bucket."""
    if environment.engine is not None:
        return environment.engine  # type: ignore[no-any-return]
    settings = environment.settings
    if environment.flow_logs:
        return LocalEngine(environment.flow_logs)
    if settings.athena_workgroup and settings.athena_database:
        return AthenaEngine(
            settings.athena_workgroup,
            settings.athena_database,
            settings.athena_table,
            settings.athena_output,
            # A query still running then is stopped (StopQueryExecution) before the step gives up.
            timeout_s=inner_timeout(ATHENA_QUERY_TIMEOUT_S, environment.step_budget_s, ATHENA_STOP_RESERVE_S),
        )
    if settings.flow_logs_bucket:
        prefix = settings.flow_logs_prefix.strip("/")
        return LocalEngine(f"s3://{settings.flow_logs_bucket}/{prefix}")
    raise StepSkipped("no flow-log location configured (Athena settings, a flow-logs bucket, or --flow-logs)")


def parameters_for(name: str, context: InvestigationContext) -> dict[str, Any] | None:
    """The standard parameters ``name`` needs from the context; None when the context cannot give them."""
    needs = load_query(name).needs
    params: dict[str, Any] = {}
    if "start" in needs:
        params["start"] = context.window.start
        params["end"] = context.window.end
    if "source_cidr" in needs:
        source = context.source.cidr or (f"{context.source.ip}/32" if context.source.ip else None)
        if source is None:
            return None
        params["source_cidr"] = source
    if "destination" in needs:
        destination = context.destination
        if destination.service:
            params["destination_service"] = destination.service
        elif destination.cidr or destination.ip:
            params["destination_cidr"] = destination.cidr or f"{destination.ip}/32"
        else:
            return None
    return params


def addressed(context: InvestigationContext) -> tuple[InvestigationContext, tuple[ResolvedEndpoint, ...]]:
    """The context with ENI, instance and subnet endpoints replaced by their addresses."""
    source, destination = resolve_endpoint(context.source), resolve_endpoint(context.destination)
    update = {"source": source.address, "destination": destination.address}
    return context.model_copy(update=update), (source, destination)


def run(context: InvestigationContext, environment: StepEnvironment) -> StepOutcome:
    engine = engine_for(environment)
    try:
        return _run_queries(engine, context)
    finally:
        # An engine this step built is closed here (the local one removes its downloads); one the
        # environment gave belongs to its caller.
        if engine is not environment.engine and hasattr(engine, "close"):
            engine.close()


def _run_queries(engine: FlowLogEngine, context: InvestigationContext) -> StepOutcome:
    context, resolved = addressed(context)
    planned = {name: parameters_for(name, context) for name in QUERIES}
    runnable = {name: params for name, params in planned.items() if params is not None}
    if not runnable:
        raise StepSkipped("the source and destination give no CIDR to query flow logs by")
    results: dict[str, QueryResult] = {}
    errors: dict[str, DropsleuthError] = {}

    def one(name: str) -> None:
        try:
            results[name] = engine.run(name, runnable[name])
        except DropsleuthError as error:
            errors[name] = error

    with ThreadPoolExecutor(max_workers=len(runnable), thread_name_prefix="dropsleuth-query") as pool:
        list(pool.map(one, runnable))
    if errors and not results:
        # Every query failed the same way (no bucket, no permission, Athena down): the step failed.
        raise next(iter(errors.values()))
    outcome = outcome_of(
        results, errors, skipped=[n for n, p in planned.items() if p is None], location=location_of(engine)
    )
    named = [
        f"{role} {r.describe()}" for role, r in zip(("source", "destination"), resolved, strict=True)
        if r.address != r.given
    ]  # fmt: skip
    return outcome.model_copy(
        update={
            "checked": (*named, *outcome.checked),
            "data": outcome.data
            | {
                "resolved_endpoints": {
                    "source": resolved[0].describe(),
                    "destination": resolved[1].describe(),
                }
            },
        }
    )


def location_of(engine: FlowLogEngine) -> str:
    """Where the flow-log records come from, as the report names it."""
    if isinstance(engine, AthenaEngine):
        return f"Athena table {engine.database}.{engine.table} (workgroup {engine.workgroup})"
    source = getattr(engine, "source", None)
    return str(source) if source else getattr(engine, "engine", "flow-log engine")


def outcome_of(
    results: Mapping[str, QueryResult],
    errors: Mapping[str, DropsleuthError],
    *,
    skipped: list[str],
    location: str | None = None,
) -> StepOutcome:
    """Rows by query name (the ranking's keys), with bytes scanned and the queries that failed."""
    data: dict[str, Any] = {name: result.to_json()["rows"] for name, result in results.items()}
    if location:
        data["flow_log_location"] = location
    data["queries"] = {
        name: {
            "engine": r.engine,
            "rows": len(r.rows),
            "bytes_scanned": r.bytes_scanned,
            "query_id": r.query_id,
        }
        for name, r in results.items()
    }
    if errors:
        data["failed_queries"] = {
            name: f"{getattr(e, 'kind', 'error')}: {e}" if isinstance(e, AwsError) else str(e)
            for name, e in errors.items()
        }
    checked = [f"flow-log query {name}: {len(r.rows)} rows ({r.engine})" for name, r in results.items()]
    if ATTEMPTS_QUERY in results:
        checked.append(attempts_checked_line(results[ATTEMPTS_QUERY].rows))
    if RETURN_PATHS_QUERY in results:
        checked.append(return_paths_checked_line(results[RETURN_PATHS_QUERY].rows))
    elif RETURN_PATHS_QUERY in errors:
        checked.append(return_paths_unknown_line(str(errors[RETURN_PATHS_QUERY])))
    if location:
        checked.insert(0, f"flow-log records read from {location}")
    checked += [f"flow-log query {name} FAILED: {data['failed_queries'][name]}" for name in errors]
    checked += [f"flow-log query {name} not run: no CIDR for its endpoints" for name in skipped]
    return StepOutcome(checked=tuple(checked), data=data)


STEP = StepSpec(
    name="flow_log_queries",
    checks="flow-log REJECTs, rejected ICMP toward the source, upload throughput, stalled flows, packet "
    "sizes, unanswered or reset connection attempts and replies REJECTed off their tracked flow",
    run=run,
    timeout_s=60.0,
)
