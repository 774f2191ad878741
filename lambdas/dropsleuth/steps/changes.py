"""Step ``recent_changes``: network changes (CloudTrail) on the involved resources before the onset."""

from __future__ import annotations

from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.steps import StepEnvironment, StepSkipped, StepSpec


def run(_context: InvestigationContext, _environment: StepEnvironment) -> StepOutcome:
    raise StepSkipped("capability not available in this build yet")


STEP = StepSpec(
    name="recent_changes",
    checks="network changes (CloudTrail) on the involved resources before the onset",
    run=run,
    timeout_s=20.0,
)
