"""Step ``reachability``: is the TCP path configured to get through (Reachability Analyzer's question)?

Where the Reachability Analyzer adapter of this build is available and allowed (``reachability`` =
``aws``/``auto`` in the step environment), it answers; otherwise — local endpoints, moto, or no permission —
the path model's own static TCP verdict answers, labelled ``static`` in the report. Either is a real
analysis of the account's configuration, never a canned one.
"""

from __future__ import annotations

import importlib
from typing import Any

from dropsleuth.aws.topology import path_analysis_for
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.steps import StepEnvironment, StepSpec


def _analyzer() -> Any:
    """The Reachability Analyzer adapter, when this build has one (issue 5 delivers it)."""
    try:
        return importlib.import_module("dropsleuth.aws.reachability")
    except ModuleNotFoundError:
        return None


def static_verdict(context: InvestigationContext) -> StepOutcome:
    analysis = path_analysis_for(context)
    verdict = "reachable" if analysis.reachable else f"not reachable: {analysis.no_route_reason}"
    return StepOutcome(
        checked=(f"TCP {context.port} path (static analysis of route tables, NACLs, SGs): {verdict}",),
        data={"reachable": analysis.reachable, "mode": "static", "no_route_reason": analysis.no_route_reason},
    )


def run(context: InvestigationContext, environment: StepEnvironment) -> StepOutcome:
    adapter = _analyzer() if environment.reachability in {"auto", "aws"} else None
    analyse = getattr(adapter, "reachability_for", None)
    if callable(analyse):
        outcome = analyse(context, mode=environment.reachability)
        if isinstance(outcome, StepOutcome):
            return outcome
    return static_verdict(context)


STEP = StepSpec(
    name="reachability",
    checks="Reachability Analyzer (or the path model's static verdict) for the TCP path",
    run=run,
    timeout_s=90.0,
)
