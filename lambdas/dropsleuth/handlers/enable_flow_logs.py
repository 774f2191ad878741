"""Lambda ``enable_flow_logs``: report flow-log coverage of a VPC and, when allowed, enable what is missing.

Test event: ``events/enable_flow_logs.json``. It acts only when ``DROPSLEUTH_ALLOW_ENABLE_FLOW_LOGS`` is
true (the one mutating action besides writing reports); otherwise it answers with what it would do
(``dry_run: true``). It never deletes or replaces a flow log. It delivers only to the stack's flow-logs
bucket and prefix (``DROPSLEUTH_FLOW_LOGS_BUCKET``/``_PREFIX``): an event naming another ``bucket`` or
``prefix`` is a validation error naming the field. Without ``allow_enable_flow_logs`` the function's role
holds no create permission at all (``FUNCTION.granted_when``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from dropsleuth.aws import flowlogs
from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.config import Settings, settings
from dropsleuth.functions import FunctionSpec
from dropsleuth.handlers.framing import EniIds, SubnetIds, VpcId, error_response, parse_event
from dropsleuth.observability import logger, metrics, tracer

FUNCTION = FunctionSpec(
    name="enable_flow_logs",
    handler="dropsleuth.handlers.enable_flow_logs.handler",
    description="Report flow-log coverage of a VPC; enable S3/Parquet flow logs where missing and allowed.",
    permissions=(flowlogs.STATUS_PERMISSIONS,),
    granted_when={"allow_enable_flow_logs": (flowlogs.CREATE_PERMISSIONS,)},
    timeout_s=60,
    memory_mb=256,
)


class EnableRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vpc_id: VpcId
    subnet_ids: SubnetIds = ()
    eni_ids: EniIds = ()
    bucket: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    prefix: str | None = Field(None, max_length=200)
    add_if_incomplete: bool = False


def stack_destination(request: EnableRequest, config: Settings) -> tuple[str, str]:
    """The stack's flow-logs bucket and prefix; an event naming another destination is refused.

    Whoever may invoke the function must not be able to send a VPC's flow logs to a bucket of their
    choosing (another account's, say): the function delivers only where the stack's Athena table reads.
    """
    bucket = config.flow_logs_bucket
    if not bucket:
        raise InputError(
            "DROPSLEUTH_FLOW_LOGS_BUCKET is not set: no flow-logs bucket to deliver to", field="bucket"
        )
    if request.bucket is not None and request.bucket != bucket:
        raise InputError(
            f"bucket: flow logs go only to the stack's flow-logs bucket ({bucket}); omit the field",
            field="bucket",
        )
    prefix = config.flow_logs_prefix
    if request.prefix is not None and request.prefix.strip("/") != prefix.strip("/"):
        raise InputError(
            f"prefix: flow logs go only under the stack's prefix ({prefix!r}), where its table reads; "
            "omit the field",
            field="prefix",
        )
    return bucket, prefix


def enable(request: EnableRequest, config: Settings) -> dict[str, Any]:
    """Enable (or, unless the configuration allows it, plan) the request's flow logs; report coverage."""
    bucket, prefix = stack_destination(request, config)
    result = flowlogs.enable_flow_logs(
        request.vpc_id,
        bucket,
        prefix=prefix,
        subnet_ids=request.subnet_ids,
        eni_ids=request.eni_ids,
        add_if_incomplete=request.add_if_incomplete,
        dry_run=not config.allow_enable_flow_logs,
    )
    status = flowlogs.flow_logs_status(request.vpc_id, subnet_ids=request.subnet_ids, eni_ids=request.eni_ids)
    return {
        "ok": not result.failed,
        "dry_run": result.dry_run,
        "result": result.model_dump(mode="json"),
        "status": status.model_dump(mode="json"),
        "findings": [f.model_dump(mode="json") for f in status.findings()],
    }


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_event(EnableRequest, event)
        answer = enable(request, settings())
    except (InputError, AwsError) as error:
        logger.warning("enable_flow_logs could not run", extra={"error": str(error)})
        metrics.add_metric(name="EnableFlowLogsErrors", unit=MetricUnit.Count, value=1)
        return error_response(error)
    created = [a for a in answer["result"]["actions"] if a["action"] == "created"]
    metrics.add_metric(name="FlowLogsCreated", unit=MetricUnit.Count, value=len(created))
    logger.info("flow logs", extra={"vpc_id": request.vpc_id, "actions": answer["result"]["actions"]})
    return answer
