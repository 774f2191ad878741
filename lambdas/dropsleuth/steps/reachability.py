"""Step ``reachability``: is the TCP path configured to get through (Reachability Analyzer's question)?

``reachability_outcome`` (``aws/reachability.py``) answers. With ``reachability`` = ``auto`` (the default)
it runs one Reachability Analyzer analysis (create path, start, poll, explain, delete), within the cost
guard ``max_reachability_analyses``, and falls back to the path model's own static TCP verdict where the
API is not implemented (moto, local endpoints), not permitted, or the budget is spent; ``aws`` fails the
step instead of falling back; ``static`` never calls the API. The report says which answered (``mode``
``aws`` or ``static``, and why the Analyzer was not used). Either is a real analysis of the account's
configuration, never a canned one.
"""

from __future__ import annotations

from dropsleuth.aws.reachability import reachability_outcome
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.deadlines import RA_CLEANUP_RESERVE_S, inner_timeout
from dropsleuth.model import FindingCode
from dropsleuth.steps import StepEnvironment, StepSpec


def run(context: InvestigationContext, environment: StepEnvironment) -> StepOutcome:
    outcome = reachability_outcome(
        context,
        mode=environment.reachability,
        max_analyses=environment.settings.max_reachability_analyses,
        # The poll ends early enough for the path and analysis to be deleted inside the step's budget.
        timeout_s=inner_timeout(
            environment.settings.reachability_timeout_s, environment.step_budget_s, RA_CLEANUP_RESERVE_S
        ),
    )
    data = outcome.data
    checked = list(outcome.checked)
    if data.get("mode") == "static" and data.get("note"):
        checked.append(f"reachability mode static: {data['note']}")
    checked.extend(f"Reachability Analyzer cleanup failed: {e}" for e in data.get("cleanup_errors") or ())
    findings = outcome.findings
    if data.get("mode") == "static":
        # The static verdict walks the same routes as the path_mtu step, which already reports NO_ROUTE.
        findings = tuple(f for f in findings if f.code is not FindingCode.NO_ROUTE)
    return outcome.model_copy(update={"findings": findings, "checked": tuple(checked)})


STEP = StepSpec(
    name="reachability",
    checks="Reachability Analyzer (or the path model's static verdict) for the TCP path",
    run=run,
    timeout_s=90.0,
)
