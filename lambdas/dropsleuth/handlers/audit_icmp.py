"""Lambda ``audit_icmp``: audit a VPC's NACLs and security groups for blocked ICMP frag-needed.

Test event: ``events/audit_icmp.json``. Returns the audit ``Report`` as JSON (``ok: true``), or a
validation/AWS error naming the field or the fault (``ok: false``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from dropsleuth.audit import audit_report
from dropsleuth.aws import inventory
from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.functions import FunctionSpec
from dropsleuth.handlers.framing import Cidrs, EniIds, SubnetIds, VpcId, error_response, parse_event
from dropsleuth.observability import logger, metrics, tracer

FUNCTION = FunctionSpec(
    name="audit_icmp",
    handler="dropsleuth.handlers.audit_icmp.handler",
    description="Audit NACLs and security groups on a path for blocked ICMP fragmentation-needed (PMTUD).",
    permissions=(inventory.PERMISSIONS,),
    timeout_s=60,
    memory_mb=256,
)


class AuditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vpc_id: VpcId
    subnet_ids: SubnetIds = ()
    eni_ids: EniIds = ()
    peer_cidrs: Cidrs = ()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_event(AuditRequest, event)
        report = audit_report(
            request.vpc_id,
            subnet_ids=request.subnet_ids,
            eni_ids=request.eni_ids,
            peer_cidrs=request.peer_cidrs,
        )
    except (InputError, AwsError) as error:
        logger.warning("audit_icmp could not run", extra={"error": str(error)})
        metrics.add_metric(name="AuditErrors", unit=MetricUnit.Count, value=1)
        return error_response(error)
    metrics.add_metric(name="AuditFindings", unit=MetricUnit.Count, value=len(report.findings))
    logger.info("audit done", extra={"vpc_id": request.vpc_id, "codes": [c.value for c in report.codes()]})
    return {"ok": True, "report": report.model_dump(mode="json")}
