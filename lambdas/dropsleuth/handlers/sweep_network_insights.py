"""Lambda ``sweep_network_insights`` (hourly): delete the toolkit's Reachability Analyzer leftovers.

Deletes every Network Insights path and analysis tagged by the toolkit and older than an hour (see
``dropsleuth.aws.insights_sweeper``). Test event: ``events/sweep_network_insights.json`` (the schedule's
event). Answers ``{"ok": true, "deleted": [...], "failed": {...}}``; where the API is not available (an
emulator) or refused, ``ok`` is false with the reason.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from dropsleuth.aws import insights_sweeper
from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.functions import FunctionSpec
from dropsleuth.handlers.framing import error_response, parse_event
from dropsleuth.observability import logger, metrics, tracer

FUNCTION = FunctionSpec(
    name="sweep_network_insights",
    handler="dropsleuth.handlers.sweep_network_insights.handler",
    description="Delete the toolkit's Reachability Analyzer paths and analyses older than an hour.",
    permissions=(insights_sweeper.PERMISSIONS,),
    timeout_s=120,
    memory_mb=256,
    schedule_minutes=60,
    max_event_age_s=1800,
)


class SweepRequest(BaseModel):
    """The schedule's event carries nothing the sweep needs."""

    model_config = ConfigDict(extra="ignore", frozen=True)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        parse_event(SweepRequest, event)
        result = insights_sweeper.sweep_network_insights()
    except (InputError, AwsError) as error:
        logger.warning("sweep could not run", extra={"error": str(error)})
        return error_response(error)
    metrics.add_metric(name="NetworkInsightsSwept", unit=MetricUnit.Count, value=len(result.deleted))
    for resource_id, reason in result.failed.items():
        logger.warning("sweep could not delete", extra={"resource": resource_id, "error": reason})
    return {"ok": not result.failed, **result.to_dict()}
