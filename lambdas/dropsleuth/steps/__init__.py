"""The steps of an investigation: one small adapter each, over one capability.

A step is a ``StepSpec``: a name, what it checks (said in the report), its own timeout, and a function
``run(context, environment) -> StepOutcome``. The orchestrator (``dropsleuth.investigate``) runs them
concurrently and records each as ok, failed (with the reason) or skipped (with the reason). A step says it
does not apply by raising ``StepSkipped``; it fails by raising anything else, AWS faults as ``AwsError``.

Each step puts what the ranking reads in ``StepOutcome.data`` under documented keys (see
``dropsleuth.rules.ranking``); the raw material (query rows, hops, metric points) goes there too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dropsleuth.aws.errors import DropsleuthError
from dropsleuth.config import Settings
from dropsleuth.context import InvestigationContext, StepOutcome

if TYPE_CHECKING:
    from collections.abc import Mapping


class StepSkipped(DropsleuthError):  # noqa: N818 -- a skip is an outcome, not an error, but it travels as one
    """The step does not apply to this context (the message says why)."""


@dataclass(frozen=True)
class StepEnvironment:
    """What the steps share besides the context: settings and the means to reach the evidence.

    ``engine`` is a flow-log query engine (``dropsleuth.queries``) or None to build one from settings;
    ``flow_logs`` is where the flow logs are (``s3://bucket/prefix`` or a directory) for the local engine;
    ``reachability`` is ``auto`` (the API, or the static path model where it is unavailable), ``aws`` or
    ``static``; ``extras`` carries capability-specific sources (a change record for the demo, say).
    """

    settings: Settings = field(default_factory=Settings)
    engine: Any = None
    flow_logs: str | None = None
    reachability: str = "auto"
    extras: Mapping[str, Any] = field(default_factory=dict)
    time_left_s: float | None = None
    """The function's time left when the steps start (Lambda's remaining time); None: no limit but the
    steps' own timeouts (the CLI). Caps every step's budget (``dropsleuth.deadlines``)."""
    step_budget_s: float | None = None
    """Set by the orchestrator for the running step: its budget, from which its inner timeouts derive."""


StepFunction = Callable[[InvestigationContext, StepEnvironment], StepOutcome]


@dataclass(frozen=True)
class StepSpec:
    name: str
    checks: str
    """What the step looks at, said in the report ("NACLs and SGs on the path admit ICMP frag-needed")."""
    run: StepFunction
    timeout_s: float = 30.0

    def with_timeout(self, timeout_s: float) -> StepSpec:
        return StepSpec(self.name, self.checks, self.run, timeout_s)


def default_steps() -> tuple[StepSpec, ...]:
    """Every step of an investigation, in report order."""
    # Imported on demand: each adapter pulls in its capability module (DuckDB, the path model …). A
    # capability missing from this build becomes a step that says so, not a crash of the investigation.
    return tuple(_load(module) for module in STEP_MODULES)


STEP_MODULES = ("flowlogs", "queries", "audit", "path", "reachability", "changes", "metrics")


def _load(module: str) -> StepSpec:
    try:
        spec = importlib.import_module(f"{__name__}.{module}").STEP
    except ModuleNotFoundError as error:
        missing = error.name or module

        def unavailable(_context: InvestigationContext, _environment: StepEnvironment) -> StepOutcome:
            raise StepSkipped(f"capability not available in this build ({missing})")

        return StepSpec(name=module, checks=f"{module} (not available)", run=unavailable, timeout_s=1.0)
    assert isinstance(spec, StepSpec)
    return spec
