"""Lambda ``investigate``: an alarm's state change (or a manual request) → the investigation → the report.

Thin: parse the event, run the investigation once per alarm transition (idempotency), store the report
(S3: JSON, Markdown, HTML), publish the summary (SNS), return the report. Console test events:
``events/investigate.json`` (an alarm) and ``events/investigate_manual.json`` (a manual request).

The response is a dict with ``status``:
``investigated`` (with ``report``), ``duplicate`` (this transition, or another of the same episode of
the alarm, was investigated already: the first result again), ``in_progress`` (another invocation is on
it right now), ``invalid`` (with ``error.field`` and ``error.message``), or ``error`` (the site registry
or the idempotency store refused for good: access denied, not found).

Failures that a retry can mend fail the invocation instead of answering: a report that could not be
stored (after the SNS summary was tried and ``DeliveryFailures`` counted), and transient AWS faults of the
registry or the idempotency store (throttling, HTTP 5xx, timeouts). Powertools then deletes the in-progress
idempotency record, so Lambda's retries of the asynchronous event investigate again instead of answering
"duplicate", and after the last retry the event lands on the failure queue, whose alarm pages.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from dropsleuth.aws.errors import AwsError, InputError, is_transient
from dropsleuth.aws.permissions import Permissions
from dropsleuth.config import Settings, settings
from dropsleuth.functions import FunctionSpec
from dropsleuth.idempotency import AlreadyInProgressError, episode_store, persistence_store, run_once
from dropsleuth.investigate import investigate
from dropsleuth.model import Report, Severity
from dropsleuth.observability import logger, metrics, tracer
from dropsleuth.report import store
from dropsleuth.requests import InvestigationRequest, alarm_identity, episode_key, parse_request
from dropsleuth.sites import SiteRegistry, load_registry_file, load_registry_parameter
from dropsleuth.steps import StepEnvironment

# The modules whose AWS calls an investigation makes, and which of their declarations (beside the code)
# it needs.
_ALL_DECLARATIONS = ("PERMISSIONS", "LOCAL_S3_PERMISSIONS")
_CALLING_MODULES: dict[str, tuple[str, ...]] = {
    "dropsleuth.sites": _ALL_DECLARATIONS,
    "dropsleuth.idempotency": _ALL_DECLARATIONS,
    "dropsleuth.report.store": _ALL_DECLARATIONS,
    "dropsleuth.aws.inventory": _ALL_DECLARATIONS,
    "dropsleuth.aws.topology": _ALL_DECLARATIONS,
    "dropsleuth.aws.endpoints": _ALL_DECLARATIONS,
    "dropsleuth.queries": _ALL_DECLARATIONS,
    # The flow-log step only reads coverage: its status declarations, never the create grants.
    "dropsleuth.aws.flowlogs": ("STATUS_PERMISSIONS",),
    "dropsleuth.aws.reachability": _ALL_DECLARATIONS,
    "dropsleuth.aws.changes": _ALL_DECLARATIONS,
    "dropsleuth.aws.site_changes": _ALL_DECLARATIONS,
    "dropsleuth.aws.metrics": _ALL_DECLARATIONS,
    "dropsleuth.aws.drop_metrics": _ALL_DECLARATIONS,
    "dropsleuth.aws.transit_gateway_routes": _ALL_DECLARATIONS,
}


def _declared_permissions() -> tuple[Permissions, ...]:
    found = []
    for name, attributes in _CALLING_MODULES.items():
        # A missing module fails the import: a renamed module must not drop its permissions silently.
        module = importlib.import_module(name)
        for attribute in attributes:
            value = getattr(module, attribute, None)
            if isinstance(value, Permissions):
                found.append(value)
    return tuple(found)


FUNCTION = FunctionSpec(
    name="investigate",
    handler="dropsleuth.handlers.investigate.handler",
    description="Investigate a dropsleuth alarm: concurrent evidence, ranked root cause, report to S3/SNS",
    permissions=_declared_permissions(),
    timeout_s=300,
    memory_mb=1024,
    required_settings=("report_bucket",),
)


def load_registry(config: Settings) -> SiteRegistry | None:
    """The site registry from SSM (deployed) or a file (local); None when neither is configured."""
    if config.sites_parameter:
        return load_registry_parameter(config.sites_parameter)
    if config.sites_file:
        return load_registry_file(config.sites_file)
    return None


def environment_for(config: Settings) -> StepEnvironment:
    return StepEnvironment(settings=config)


def handle(
    event: object,
    *,
    config: Settings | None = None,
    environment: StepEnvironment | None = None,
    lambda_context: Any = None,
) -> dict[str, Any]:
    """The handler's core, callable without a Lambda context (the CLI and the demo use it)."""
    config = config or settings()
    try:
        request = parse_request(event, load_registry(config))
    except InputError as error:
        logger.warning("invalid request", extra={"field": error.field, "error": str(error)})
        return {"status": "invalid", "error": {"field": error.field, "message": str(error)}}
    except AwsError as error:
        logger.error("cannot read the site registry", extra={"error": str(error), "kind": error.kind})
        if is_transient(error):
            raise
        return {"status": "error", "error": {"kind": error.kind, "message": str(error)}}
    env = environment or environment_for(config)
    try:
        request = _keyed_by_episode(request, config)
        once = run_once(
            request.idempotency_key,
            lambda: _investigate_and_deliver(request, config, _with_time_left(env, lambda_context)),
            store=persistence_store(config.idempotency_table),
            lambda_context=lambda_context,
        )
    except AlreadyInProgressError as error:
        return {"status": "in_progress", "idempotency_key": request.idempotency_key, "message": str(error)}
    except ReportNotStoredError:
        raise
    except AwsError as error:
        logger.error("idempotency store failed", extra={"error": str(error), "kind": error.kind})
        if is_transient(error):
            raise
        return {"status": "error", "error": {"kind": error.kind, "message": str(error)}}
    result = dict(once.result)
    if once.replayed:
        result["status"] = "duplicate"
    return result


def _with_time_left(environment: StepEnvironment, lambda_context: Any) -> StepEnvironment:
    """The environment with the function's time left now, so every step's budget fits inside it."""
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return environment
    return dataclasses.replace(environment, time_left_s=remaining() / 1000)


def _keyed_by_episode(request: InvestigationRequest, config: Settings) -> InvestigationRequest:
    """An alarm's request keyed by the episode its transition joins, so flaps share one investigation."""
    if request.trigger is None:
        return request
    episode = episode_store(config.idempotency_table).claim(
        alarm_identity(request.trigger), request.trigger.changed_at
    )
    return dataclasses.replace(request, idempotency_key=episode_key(request.trigger, episode.start))


def _investigate_and_deliver(
    request: InvestigationRequest, config: Settings, environment: StepEnvironment
) -> dict[str, Any]:
    report = investigate(request.context, environment=environment)
    delivery = deliver(report, config)
    top = report.top_finding
    metrics.add_metric(name="Investigations", unit="Count", value=1)
    if top is not None and top.severity in {Severity.CRITICAL, Severity.HIGH}:
        metrics.add_metric(name=f"Finding{top.code.value.title().replace('_', '')}", unit="Count", value=1)
    logger.info(
        "investigation done",
        extra={"top": top.code.value if top else None, "report_id": report.report_id, **delivery},
    )
    return {
        "status": "investigated",
        "idempotency_key": request.idempotency_key,
        "report": report.model_dump(mode="json"),
        "delivery": delivery,
    }


class ReportNotStoredError(AwsError):
    """The report could not be written to the report bucket: the invocation fails, to be retried."""

    kind = "report_not_stored"


DELIVERY_FAILURES = "DeliveryFailures"
"""The metric counting reports not stored and summaries not published (an alarm watches it)."""


def deliver(report: Report, config: Settings) -> dict[str, Any]:
    """Store the report, then publish its summary; raise ``ReportNotStoredError`` if it was not stored.

    The summary is tried even when the store failed (it says what was found, without a link), so a person
    hears of the incident now; the raise then fails the invocation, so the idempotency record is not
    completed and Lambda's retry stores the report. A summary that could not be published is counted and
    recorded, not raised: the report is stored and the alarm on ``DeliveryFailures`` says so.
    """
    delivery: dict[str, Any] = {}
    link = None
    not_stored: AwsError | None = None
    if config.report_bucket:
        try:
            stored = store.store_report_s3(report, config.report_bucket)
        except AwsError as error:
            not_stored = error
            delivery["store_error"] = f"{error.kind}: {error}"
            metrics.add_metric(name=DELIVERY_FAILURES, unit="Count", value=1)
        else:
            delivery["stored"] = stored.files
            delivery["link"] = link = stored.link
    if config.report_topic_arn:
        try:
            delivery["message_id"] = store.publish_summary(report, config.report_topic_arn, link=link)
        except AwsError as error:
            delivery["notify_error"] = f"{error.kind}: {error}"
            metrics.add_metric(name=DELIVERY_FAILURES, unit="Count", value=1)
    if not_stored is not None:
        logger.error("report not stored; failing the invocation so it is retried", extra=delivery)
        raise ReportNotStoredError(
            f"report {report.report_id} not stored in {config.report_bucket}: {not_stored}",
            code=not_stored.code,
            operation=not_stored.operation,
        ) from not_stored
    return delivery


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Lambda entry point (EventBridge alarm events, console test events)."""
    return handle(event, lambda_context=context)
