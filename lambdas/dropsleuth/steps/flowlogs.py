"""Step ``flow_logs``: are flow logs on for the VPC, subnets and ENIs, in a format the queries need?

Read-only: enabling flow logs is the one mutating action besides writing reports, and the investigation
leaves it to ``dropsleuth flowlogs enable`` / the ``enable_flow_logs`` Lambda; the finding carries the
command.
"""

from __future__ import annotations

from dropsleuth.aws.flowlogs import flow_logs_status
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.steps import StepEnvironment, StepSpec


def run(context: InvestigationContext, _environment: StepEnvironment) -> StepOutcome:
    status = flow_logs_status(context.vpc_id, subnet_ids=context.subnet_ids, eni_ids=context.eni_ids)
    checked = [
        f"flow logs cover {resource} ({', '.join(ids)})" for resource, ids in sorted(status.covered.items())
    ]
    checked += [f"flow logs on {resource} are incomplete" for resource in sorted(status.incomplete)]
    checked += [f"no flow logs on {resource}" for resource in status.uncovered]
    return StepOutcome(
        findings=tuple(status.findings()),
        checked=tuple(checked) or (f"flow logs of {context.vpc_id}",),
        data={"flow_logs_ok": status.ok, "flow_log_ids": [f.flow_log_id for f in status.flow_logs]},
    )


STEP = StepSpec(
    name="flow_logs",
    checks="flow logs are on for the VPC, subnets and ENIs, in a format the queries need",
    run=run,
    timeout_s=15.0,
)
