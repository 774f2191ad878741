"""Step ``reachability``: Reachability Analyzer (or the path model's static verdict) for the TCP path."""

from __future__ import annotations

from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.steps import StepEnvironment, StepSkipped, StepSpec


def run(_context: InvestigationContext, _environment: StepEnvironment) -> StepOutcome:
    raise StepSkipped("capability not available in this build yet")


STEP = StepSpec(
    name="reachability",
    checks="Reachability Analyzer (or the path model's static verdict) for the TCP path",
    run=run,
    timeout_s=90.0,
)
