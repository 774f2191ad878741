"""Configuration as a typed model, read from the environment once and validated at cold start.

The CDK app sets these variables on each function; the CLI and tests set what they need. A handler asks
for the fields it cannot work without (``settings().require("report_bucket")``) and a missing one fails
with the environment variable's name.
"""

from __future__ import annotations

import functools
import os

from pydantic import BaseModel, ConfigDict, Field

from dropsleuth.aws.errors import InputError

_PREFIX = "DROPSLEUTH_"


class ConfigError(InputError):
    """A required setting is missing or malformed; the message names the environment variable."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    sites_parameter: str | None = Field(None, description="SSM parameter holding the site registry (JSON)")
    sites_file: str | None = Field(None, description="A local site registry file (JSON or YAML)")
    report_bucket: str | None = None
    report_topic_arn: str | None = None
    flow_logs_bucket: str | None = None
    flow_logs_prefix: str = ""
    athena_workgroup: str | None = None
    athena_database: str | None = None
    athena_table: str = "vpc_flow_logs"
    athena_output: str | None = None
    idempotency_table: str | None = None
    allow_enable_flow_logs: bool = False
    max_reachability_analyses: int = Field(2, ge=0)
    reachability_timeout_s: float = Field(
        60.0, gt=0, le=900, description="How long one Reachability Analyzer analysis is polled for"
    )
    metrics_namespace: str = "DropSleuth"
    changes_source: str | None = Field(
        None, description="s3://bucket/prefix of CloudTrail-format change records (else LookupEvents)"
    )
    docs_url: str | None = Field(
        None, description="Root of the published docs site: the reports' runbook links point there"
    )

    def require(self, *names: str) -> Settings:
        """Fail with the environment variable of every named setting that is unset."""
        missing = [f"{_PREFIX}{name.upper()}" for name in names if getattr(self, name) in (None, "")]
        if missing:
            raise ConfigError(f"missing configuration: {', '.join(missing)}", field=missing[0])
        return self


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read ``DROPSLEUTH_*`` variables into ``Settings`` (pydantic converts and validates the values)."""
    env = os.environ if environ is None else environ
    values = {key[len(_PREFIX) :].lower(): value for key, value in env.items() if key.startswith(_PREFIX)}
    if "POWERTOOLS_METRICS_NAMESPACE" in env:
        values.setdefault("metrics_namespace", env["POWERTOOLS_METRICS_NAMESPACE"])
    try:
        return Settings.model_validate(values)
    except ValueError as error:
        raise ConfigError(f"invalid configuration: {error}") from error


@functools.cache
def settings() -> Settings:
    """The process's settings, read once (a Lambda cold start)."""
    return load_settings()
