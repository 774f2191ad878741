"""Lambda ``query_rejects``: run one named flow-log query of ``queries/`` on Athena over a window.

Test event: ``events/query_rejects.json``: ``{"query": "rejects_timeline", "start": …, "end": …,
"params": {"source_cidr": …}}``. The query name must be one of ``queries/``; times need a time zone; the
other parameters are the standard ones (``source_cidr``, ``destination_cidr``, ``destination_service``)
or the query's tunables. Returns the rows, columns and bytes scanned, or a validation/AWS error naming
the field or the fault (a failed Athena query carries Athena's StateChangeReason).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dropsleuth import queries
from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.config import settings
from dropsleuth.functions import FunctionSpec
from dropsleuth.handlers.framing import error_response, parse_event
from dropsleuth.observability import logger, metrics, tracer
from dropsleuth.sqlfiles import query_names

FUNCTION = FunctionSpec(
    name="query_rejects",
    handler="dropsleuth.handlers.query_rejects.handler",
    description="Run a named flow-log query (REJECT timeline, ICMP rejects, throughput…) on Athena.",
    permissions=(queries.PERMISSIONS,),
    timeout_s=180,
    memory_mb=256,
    required_settings=("athena_workgroup", "athena_database"),
)

MAX_WINDOW = timedelta(days=7)
"""Wider windows scan more than an investigation needs (Athena bills per byte scanned)."""


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str
    start: datetime
    end: datetime
    params: dict[str, str | int | float] = Field(default_factory=dict)

    @field_validator("query")
    @classmethod
    def _known(cls, value: str) -> str:
        names = query_names()
        if value not in names:
            raise ValueError(f"unknown query {value!r}; one of: {', '.join(names)}")
        return value

    @field_validator("params")
    @classmethod
    def _no_window_in_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in ("start", "end"):
            if key in value:
                raise ValueError(f"give {key} at the top level, not in params")
        return value

    @model_validator(mode="after")
    def _window(self) -> QueryRequest:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone (e.g. 2026-11-20T09:00:00Z)")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_WINDOW:
            raise ValueError(f"the window may span at most {MAX_WINDOW.days} days")
        return self


def run_query(request: QueryRequest, engine: queries.FlowLogEngine | None = None) -> queries.QueryResult:
    """Run the request's query on ``engine`` (default: Athena from the configuration)."""
    chosen = engine or queries.engine_from_settings(settings(), engine="athena")
    return chosen.run(request.query, {"start": request.start, "end": request.end, **request.params})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_event(QueryRequest, event)
        result = run_query(request)
    except (InputError, AwsError) as error:
        logger.warning("query_rejects could not run", extra={"error": str(error)})
        metrics.add_metric(name="QueryErrors", unit=MetricUnit.Count, value=1)
        return error_response(error)
    if result.bytes_scanned is not None:
        metrics.add_metric(name="QueryBytesScanned", unit=MetricUnit.Bytes, value=result.bytes_scanned)
    logger.info("query done", extra={"query": request.query, "rows": len(result.rows)})
    return {"ok": True, **result.to_json()}
