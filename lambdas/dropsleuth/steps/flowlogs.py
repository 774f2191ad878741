"""Step ``flow_logs``: flow logs are on for the VPC, subnets and ENIs, in a format the queries need."""

from __future__ import annotations

from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.steps import StepEnvironment, StepSkipped, StepSpec


def run(_context: InvestigationContext, _environment: StepEnvironment) -> StepOutcome:
    raise StepSkipped("capability not available in this build yet")


STEP = StepSpec(
    name="flow_logs",
    checks="flow logs are on for the VPC, subnets and ENIs, in a format the queries need",
    run=run,
    timeout_s=15.0,
)
