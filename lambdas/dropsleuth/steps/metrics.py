"""Step ``metrics``: the site's throughput and frag-needed metrics and VPN tunnel state around the window."""

from __future__ import annotations

from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.steps import StepEnvironment, StepSkipped, StepSpec


def run(_context: InvestigationContext, _environment: StepEnvironment) -> StepOutcome:
    raise StepSkipped("capability not available in this build yet")


STEP = StepSpec(
    name="metrics",
    checks="the site's throughput and frag-needed metrics and VPN tunnel state around the window",
    run=run,
    timeout_s=20.0,
)
