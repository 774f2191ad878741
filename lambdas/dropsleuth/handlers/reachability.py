"""Lambda ``reachability``: the hops of a TCP path with their MTUs, the PMTUD verdict, and reachability.

Reachability comes from Reachability Analyzer where the API is available and permitted (``mode`` ``auto``
or ``aws``; at most ``DROPSLEUTH_MAX_REACHABILITY_ANALYSES`` analyses per invocation, every path and
analysis it creates deleted, each polled up to ``reachability_timeout_s`` from the event, else
``DROPSLEUTH_REACHABILITY_TIMEOUT_S``), else from the path model's static verdict, labelled ``static``.
``mss_clamp`` is an MSS clamp in place on the path (the site registry's ``mss_clamp`` otherwise).
Test event: ``events/reachability.json``. Returns ``{"ok": true, "path": …, "reachability": …}``, or a
validation/AWS error naming the field or the fault (``ok: false``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from dropsleuth.aws import reachability, topology
from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.config import settings
from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.functions import FunctionSpec
from dropsleuth.handlers.framing import VpcId, error_response, parse_event
from dropsleuth.observability import logger, metrics, tracer

FUNCTION = FunctionSpec(
    name="reachability",
    handler="dropsleuth.handlers.reachability.handler",
    description="Hop MTUs and PMTUD verdict of a TCP path, with Reachability Analyzer or a static verdict.",
    permissions=(topology.PERMISSIONS, reachability.PERMISSIONS),
    # Reachability Analyzer takes tens of seconds to a few minutes per analysis.
    timeout_s=300,
    memory_mb=256,
)


class ReachabilityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vpc_id: VpcId
    source: Endpoint
    destination: Endpoint
    port: int = Field(443, ge=1, le=65535)
    source_mtu: int | None = Field(None, ge=576, le=9216)
    mss_clamp: int | None = Field(None, ge=536, le=9176)
    # How long to poll one analysis; the function's own timeout (300 s) must leave room for cleanup.
    reachability_timeout_s: float | None = Field(None, gt=0, le=240)
    vpn_connection_id: str | None = Field(None, pattern=r"^vpn-[0-9a-f]{8,17}$")
    mode: Literal["auto", "aws", "static"] = "auto"


def _context(request: ReachabilityRequest) -> InvestigationContext:
    now = datetime.now(UTC)  # the path is analysed as configured now; the window is not used
    return InvestigationContext(
        vpc_id=request.vpc_id,
        source=request.source,
        destination=request.destination,
        port=request.port,
        source_mtu=request.source_mtu,
        mss_clamp=request.mss_clamp,
        vpn_connection_id=request.vpn_connection_id,
        window=Window(start=now - timedelta(minutes=1), end=now),
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_event(ReachabilityRequest, event)
        config = settings()
        path, verdict = reachability.reachability_for(
            _context(request),
            mode=request.mode,
            max_analyses=config.max_reachability_analyses,
            timeout_s=request.reachability_timeout_s or config.reachability_timeout_s,
        )
    except (InputError, AwsError) as error:
        logger.warning("reachability could not run", extra={"error": str(error)})
        metrics.add_metric(name="ReachabilityErrors", unit=MetricUnit.Count, value=1)
        return error_response(error)
    logger.info(
        "path analysed",
        extra={"verdict": path.verdict.value, "mode": verdict.mode, "reachable": verdict.reachable},
    )
    return {"ok": True, "path": path.document(), "reachability": verdict.to_dict()}
