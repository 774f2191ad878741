"""The one place that builds Powertools' logger, tracer and metrics.

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE``, which the CDK app sets; the defaults serve the CLI and tests.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "dropsleuth")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "DropSleuth")

logger = Logger()
# The tracer is disabled outside Lambda (no X-Ray daemon to talk to); Powertools detects that itself.
tracer = Tracer()
metrics = Metrics()
