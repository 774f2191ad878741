"""The CDK app: ``npx cdk synth|deploy`` runs this file (cdk.json), tests call ``build_app``.

The app loads cdk.json's context itself (feature flags and the deployment settings), so a synth in a test
and one by the CLI produce the same template; ``-c key=value`` on the CLI still takes precedence, because
CDK ranks the CLI's context above the ``context`` given to ``App``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script by the CDK CLI: make `cdk` and `dropsleuth` importable
    sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]

from aws_cdk import App  # noqa: E402 -- after the path set-up above
from aws_cdk import aws_lambda as lambda_  # noqa: E402

from cdk import nag  # noqa: E402
from cdk.packaging import new_asset_dir, remove_asset_dir  # noqa: E402
from cdk.site_agents import site_agents_from_context  # noqa: E402
from cdk.sites import registry_from_context  # noqa: E402
from cdk.stack import DeployConfig, DropSleuthStack  # noqa: E402
from dropsleuth.functions import FunctionSpec, catalog  # noqa: E402

CDK_JSON = ROOT / "cdk.json"

# What the CDK CLI passes to every app it runs (resource path and asset metadata in the template); set here
# too so an in-process synth writes the same template as `npx cdk synth`.
CLI_DEFAULT_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` block of cdk.json (feature flags and dropsleuth's settings)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return dict(document.get("context", {}))


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _as_list(value: Any) -> tuple[str, ...]:
    """A list from JSON (``["a","b"]``), a Python list, or a comma-separated string (``-c k=a,b``)."""
    if value is None or value == "":
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    text = str(value).strip()
    if text.startswith("["):
        return tuple(str(v) for v in json.loads(text))
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _as_url(value: Any) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if not text.startswith(("https://", "http://")):
        raise ValueError(f"docs_url: expected an http(s) URL, got {value!r}")
    return text


def deploy_config(context: Mapping[str, Any], root: Path = ROOT) -> DeployConfig:
    """Read and validate dropsleuth's context keys (values from ``-c`` arrive as strings)."""
    defaults = DeployConfig()

    def get(key: str, default: Any) -> Any:
        value = context.get(key)
        return default if value is None else value

    return DeployConfig(
        stack_name=str(get("stack_name", defaults.stack_name)),
        registry=registry_from_context(context.get("sites"), root),
        alarm_prefixes=_as_list(context.get("alarm_prefixes")),
        flow_logs_prefix=str(get("flow_logs_prefix", defaults.flow_logs_prefix)),
        flow_logs_retention_days=int(get("flow_logs_retention_days", defaults.flow_logs_retention_days)),
        report_retention_days=int(get("report_retention_days", defaults.report_retention_days)),
        access_log_retention_days=int(get("access_log_retention_days", defaults.access_log_retention_days)),
        log_retention_days=int(get("log_retention_days", defaults.log_retention_days)),
        athena_bytes_scanned_cutoff=int(
            get("athena_bytes_scanned_cutoff", defaults.athena_bytes_scanned_cutoff)
        ),
        allow_enable_flow_logs=_as_bool(get("allow_enable_flow_logs", defaults.allow_enable_flow_logs)),
        max_reachability_analyses=int(get("max_reachability_analyses", defaults.max_reachability_analyses)),
        docs_url=_as_url(context.get("docs_url")),
        investigate_reserved_concurrency=int(
            get("investigate_reserved_concurrency", defaults.investigate_reserved_concurrency)
        ),
        queries_dir=root / "queries",
        site_agents=site_agents_from_context(context.get("site_agents"), root),
    )


def build_app(
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    specs: Mapping[str, FunctionSpec] | None = None,
) -> tuple[App, DropSleuthStack]:
    """The app with its one stack and the cdk-nag checks (synth raises on an unacknowledged finding).

    ``context`` entries override cdk.json's; ``specs`` replaces the handler catalog (tests only).
    """
    app = App(context={**CLI_DEFAULT_CONTEXT, **cdk_json_context(), **(context or {})}, outdir=outdir)
    config = deploy_config({key: app.node.try_get_context(key) for key in _CONTEXT_KEYS})
    asset = new_asset_dir()
    try:
        stack = DropSleuthStack(
            app,
            config.stack_name,
            config=config,
            specs=catalog() if specs is None else specs,
            # CDK copies the directory into the cloud assembly here, at construction: the temporary
            # source can go right after.
            code=lambda_.Code.from_asset(str(asset)),
        )
    finally:
        remove_asset_dir(asset)
    nag.add_checks(app)
    return app, stack


_CONTEXT_KEYS = (
    "stack_name",
    "sites",
    "alarm_prefixes",
    "flow_logs_prefix",
    "flow_logs_retention_days",
    "report_retention_days",
    "access_log_retention_days",
    "log_retention_days",
    "athena_bytes_scanned_cutoff",
    "allow_enable_flow_logs",
    "max_reachability_analyses",
    "docs_url",
    "site_agents",
    "investigate_reserved_concurrency",
)


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
