"""The one place that builds Powertools' logger, tracer and metrics.

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE``, which the CDK app sets; the defaults serve the CLI and tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "dropsleuth")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "DropSleuth")

_Function = TypeVar("_Function", bound=Callable[..., Any])


def tracing_on() -> bool:
    """Whether Powertools would trace here: in Lambda (``LAMBDA_TASK_ROOT``), not under SAM or Chalice
    local, and not turned off with ``POWERTOOLS_TRACE_DISABLED`` (Powertools docs, Tracer: "Tracer is
    disabled by default when not running in the AWS Lambda environment")."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    if disabled in {"1", "true", "yes", "on"}:
        return False
    local = os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE")
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not local


class _Untraced:
    """What the handlers use of ``Tracer`` (its decorators) where tracing is off: they return the function.

    Building a disabled ``Tracer`` still imports the X-Ray SDK (a tenth of a second on every cold start
    of every handler, and of every CLI run); this costs nothing.
    """

    def capture_lambda_handler(self, lambda_handler: _Function) -> _Function:
        return lambda_handler

    def capture_method(self, method: _Function) -> _Function:
        return method


logger = Logger()
# In Lambda with tracing on, Powertools' Tracer, built at import so that it patches boto3 before any client
# exists; elsewhere a stand-in with the same decorators (typed as Tracer for the handlers' sake).
tracer: Tracer = Tracer() if tracing_on() else cast(Tracer, _Untraced())
metrics = Metrics()
