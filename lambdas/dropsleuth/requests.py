"""Turning what arrives (an alarm's state change, or a person's request) into an investigation context.

Two shapes of input:

* an EventBridge "CloudWatch Alarm State Change" event, read through Powertools' event source data
  classes; the site registry maps the alarm's ``Site`` dimension to the VPC, CIDRs and MTUs of the site;
* a manual request ``{"site" | "vpc_id", "source", "destination", "port", "window"}``.

Anything malformed raises ``InputError`` whose ``field`` names the offending field (``detail.state.value``,
``window.start`` …): the Lambda returns it as a validation error, the CLI prints it as one line.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.cloud_watch_alarm_event import CloudWatchAlarmData
from pydantic import ValidationError

from dropsleuth.aws.errors import InputError
from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.metrics_catalog import SITE_DIMENSION
from dropsleuth.sites import Site, SiteRegistry

ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
DEFAULT_LOOKBACK = timedelta(minutes=60)
DEFAULT_LOOKAHEAD = timedelta(minutes=60)
_MANUAL_KEYS = {"site", "vpc_id", "source", "destination", "port", "window", "subnet_ids", "eni_ids"}


@dataclass(frozen=True)
class AlarmTrigger:
    """The facts of an alarm transition the report and the idempotency key need."""

    alarm_name: str
    alarm_arn: str
    state: str
    previous_state: str
    reason: str
    changed_at: datetime
    site: str | None
    metric: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "alarm_name": self.alarm_name,
            "alarm_arn": self.alarm_arn,
            "state": self.state,
            "previous_state": self.previous_state,
            "reason": self.reason,
            "changed_at": self.changed_at.isoformat(),
            "site": self.site,
            "metric": self.metric,
        }


@dataclass(frozen=True)
class InvestigationRequest:
    """A validated request: the context to investigate and the key that makes it idempotent.

    For an alarm, ``idempotency_key`` is the key of an episode that this transition opens; the handler
    replaces it with ``episode_key(trigger, start)`` of the episode the transition joins (``rules.episodes``).
    """

    context: InvestigationContext
    idempotency_key: str
    trigger: AlarmTrigger | None = None


def is_alarm_event(event: object) -> bool:
    return isinstance(event, dict) and event.get("detail-type") == ALARM_DETAIL_TYPE


def parse_request(
    event: object,
    registry: SiteRegistry | None,
    *,
    now: datetime | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    lookahead: timedelta = DEFAULT_LOOKAHEAD,
) -> InvestigationRequest:
    """Validate ``event`` (an alarm event or a manual request) into an ``InvestigationRequest``.

    For an alarm, the window runs from ``lookback`` before the transition to ``lookahead`` after it, but
    never past ``now`` (deployed, ``now`` is the alarm's time; a replay sees what followed).
    """
    now = now or datetime.now(UTC)
    if not isinstance(event, dict):
        raise InputError(f"the event must be a JSON object, not {type(event).__name__}", field="event")
    if is_alarm_event(event):
        return _from_alarm(event, registry, now=now, lookback=lookback, lookahead=lookahead)
    if "detail-type" in event:
        raise InputError(
            f"unsupported event: detail-type {event.get('detail-type')!r} (expected {ALARM_DETAIL_TYPE!r})",
            field="detail-type",
        )
    return _from_manual(event, registry, now=now, lookback=lookback)


def episode_key(trigger: AlarmTrigger, episode_start: datetime) -> str:
    """The idempotency key of an alarm's episode: every flap of one incident shares it."""
    return f"{trigger.alarm_name}#{episode_start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def alarm_identity(trigger: AlarmTrigger) -> str:
    """What names the alarm across its transitions (its ARN: names repeat across accounts and Regions)."""
    return trigger.alarm_arn or trigger.alarm_name


# --- the alarm event ----------------------------------------------------------------------------------


def _from_alarm(
    event: dict[str, Any],
    registry: SiteRegistry | None,
    *,
    now: datetime,
    lookback: timedelta,
    lookahead: timedelta,
) -> InvestigationRequest:
    trigger = parse_alarm(event)
    if trigger.state != "ALARM":
        raise InputError(
            f"alarm {trigger.alarm_name!r} moved to {trigger.state}, not ALARM: nothing to investigate",
            field="detail.state.value",
        )
    if trigger.site is None:
        raise InputError(
            f"alarm {trigger.alarm_name!r} has no {SITE_DIMENSION!r} dimension to map it to a site",
            field=f"detail.configuration.metrics.metricStat.metric.dimensions.{SITE_DIMENSION}",
        )
    if registry is None:
        raise InputError("no site registry configured to map the alarm's site", field="site")
    site = registry.get(trigger.site)
    end = min(now, trigger.changed_at + lookahead)
    start = trigger.changed_at - lookback
    if end <= start:
        end = trigger.changed_at + timedelta(minutes=1)
    context = context_for_site(site, Window(start=start, end=end), alarm=trigger.as_dict())
    return InvestigationRequest(
        context=context, idempotency_key=episode_key(trigger, trigger.changed_at), trigger=trigger
    )


def parse_alarm(event: dict[str, Any]) -> AlarmTrigger:
    """Read an EventBridge alarm state change (Powertools data classes); errors name the missing field."""
    wrapped = EventBridgeEvent(event)
    detail = _field(lambda: wrapped.detail, "detail")
    if not isinstance(detail, dict):
        raise InputError("detail must be an object", field="detail")
    alarm = CloudWatchAlarmData(detail)
    name = _text(lambda: alarm.alarm_name, "detail.alarmName")
    state = _text(lambda: alarm.state.value, "detail.state.value")
    previous = _optional_text(lambda: alarm.previous_state.value)
    reason = _optional_text(lambda: alarm.state.reason)
    timestamp = _optional_text(lambda: alarm.state.timestamp) or _optional_text(lambda: wrapped.time)
    if not timestamp:
        raise InputError("the alarm event carries no time", field="detail.state.timestamp")
    changed_at = _parse_time(timestamp, "detail.state.timestamp")
    resources = _field(lambda: wrapped.resources, "resources") if "resources" in event else []
    arn = resources[0] if isinstance(resources, list) and resources and isinstance(resources[0], str) else ""
    site, metric = _site_dimension(detail)
    return AlarmTrigger(name, arn, state, previous, reason, changed_at, site, metric)


def _site_dimension(detail: dict[str, Any]) -> tuple[str | None, str | None]:
    configuration = detail.get("configuration")
    metrics = configuration.get("metrics") if isinstance(configuration, dict) else None
    for entry in metrics if isinstance(metrics, list) else []:
        stat = entry.get("metricStat") if isinstance(entry, dict) else None
        metric = stat.get("metric") if isinstance(stat, dict) else None
        if not isinstance(metric, dict):
            continue
        dimensions = metric.get("dimensions")
        if isinstance(dimensions, dict) and isinstance(dimensions.get(SITE_DIMENSION), str):
            name = metric.get("name")
            return dimensions[SITE_DIMENSION], name if isinstance(name, str) else None
    return None, None


def _field(read: Any, name: str) -> Any:
    try:
        return read()
    except (KeyError, TypeError, AttributeError) as error:
        raise InputError(f"missing or malformed field {name}", field=name) from error


def _text(read: Any, name: str) -> str:
    value = _field(read, name)
    if not isinstance(value, str) or not value:
        raise InputError(f"{name} must be a non-empty string", field=name)
    return value


def _optional_text(read: Any) -> str:
    try:
        value = read()
    except (KeyError, TypeError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _parse_time(text: str, name: str) -> datetime:
    try:
        # CloudWatch writes "2026-11-20T09:33:00.000+0000"; fromisoformat handles that form since 3.11.
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise InputError(f"{name}: not an ISO 8601 time: {text!r}", field=name) from error
    if value.tzinfo is None:
        raise InputError(f"{name}: the time needs a time zone: {text!r}", field=name)
    return value.astimezone(UTC)


# --- the manual request -------------------------------------------------------------------------------


def _from_manual(
    event: dict[str, Any], registry: SiteRegistry | None, *, now: datetime, lookback: timedelta
) -> InvestigationRequest:
    unknown = sorted(set(event) - _MANUAL_KEYS)
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r} in the request", field=unknown[0])
    site = _site_of(event, registry)
    window = _window(event.get("window"), now=now, lookback=lookback)
    if site is not None:
        context = context_for_site(site, window)
        overrides: dict[str, Any] = {}
        for key in ("vpc_id", "port", "subnet_ids", "eni_ids"):
            if key in event:
                overrides[key] = event[key]
        for key in ("source", "destination"):
            if key in event:
                overrides[key] = parse_endpoint(event[key], key)
        if overrides:
            context = _validated(lambda: context.model_copy(update=overrides), "request", revalidate=True)
    else:
        if "vpc_id" not in event:
            raise InputError("give a site or a vpc_id", field="vpc_id")
        for key in ("source", "destination"):
            if key not in event:
                raise InputError(f"missing field {key}", field=key)
        values = {
            "vpc_id": event["vpc_id"],
            "source": parse_endpoint(event["source"], "source"),
            "destination": parse_endpoint(event["destination"], "destination"),
            "window": window,
            "port": event.get("port", 443),
            "subnet_ids": event.get("subnet_ids", ()),
            "eni_ids": event.get("eni_ids", ()),
        }
        context = _validated(lambda: InvestigationContext.model_validate(values), "request")
    if not isinstance(context.vpc_id, str) or not context.vpc_id.startswith("vpc-"):
        raise InputError(f"not a VPC id: {context.vpc_id!r}", field="vpc_id")
    key = "manual#" + "#".join(
        (
            context.vpc_id,
            context.source.describe(),
            context.destination.describe(),
            str(context.port),
            context.window.start.isoformat(),
            context.window.end.isoformat(),
        )
    )
    return InvestigationRequest(context=context, idempotency_key=key)


def _site_of(event: dict[str, Any], registry: SiteRegistry | None) -> Site | None:
    if "site" not in event:
        return None
    name = event["site"]
    if not isinstance(name, str) or not name:
        raise InputError("site must be a non-empty string", field="site")
    if registry is None:
        raise InputError("no site registry configured to look up the site", field="site")
    return registry.get(name)


def _window(value: object, *, now: datetime, lookback: timedelta) -> Window:
    if value is None:
        return Window(start=now - lookback, end=now)
    if not isinstance(value, dict):
        raise InputError("window must be an object with start and end", field="window")
    for key in ("start", "end"):
        if not isinstance(value.get(key), str):
            raise InputError(f"window.{key} must be an ISO 8601 time", field=f"window.{key}")
    start = _parse_time(value["start"], "window.start")
    end = _parse_time(value["end"], "window.end")
    if end <= start:
        raise InputError("window.end must be after window.start", field="window.end")
    return Window(start=start, end=end)


def parse_endpoint(value: object, name: str) -> Endpoint:
    """An endpoint from ``{"cidr"|"ip"|"eni_id"|"instance_id"|"subnet_id"|"service": …}`` or a bare string
    (CIDR, IP, ``eni-…``, ``i-…``, ``subnet-…``, else a service name)."""
    if isinstance(value, str):
        value = _endpoint_from_text(value)
    if not isinstance(value, dict):
        raise InputError(f"{name} must be an object or a string", field=name)
    endpoint: Endpoint = _validated(lambda: Endpoint.model_validate(value), name)
    return endpoint


def _endpoint_from_text(text: str) -> dict[str, str]:
    text = text.strip()
    for prefix, key in (("eni-", "eni_id"), ("i-", "instance_id"), ("subnet-", "subnet_id")):
        if text.startswith(prefix):
            return {key: text}
    if "/" in text:
        return {"cidr": text}
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return {"service": text}
    return {"ip": text}


def context_for_site(
    site: Site, window: Window, *, alarm: dict[str, Any] | None = None
) -> InvestigationContext:
    """The context of an investigation about ``site``: its CIDR toward its upload destination."""
    if not site.vpc_id:
        raise InputError(f"site {site.name!r} has no vpc_id in the registry", field="site.vpc_id")
    if not site.cidrs:
        raise InputError(f"site {site.name!r} has no cidrs in the registry", field="site.cidrs")
    destination = parse_endpoint(site.upload_destination or "S3", "site.upload_destination")
    values = {
        "vpc_id": site.vpc_id,
        "source": Endpoint(cidr=site.cidrs[0]),
        "destination": destination,
        "window": window,
        "site": site,
        "subnet_ids": site.subnet_ids,
        "eni_ids": site.eni_ids,
        "vpn_connection_id": site.vpn_connection_id,
        "source_mtu": site.wan_mtu,
        "alarm": alarm or {},
    }
    context: InvestigationContext = _validated(lambda: InvestigationContext.model_validate(values), "site")
    return context


def _validated(build: Any, prefix: str, *, revalidate: bool = False) -> Any:
    try:
        value = build()
        if revalidate:
            value = type(value).model_validate(value.model_dump())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or prefix
        field = where if prefix in {"request", "site"} else f"{prefix}.{where}" if first["loc"] else prefix
        raise InputError(f"{field}: {first['msg']}", field=field) from error
    except (ValueError, TypeError) as error:
        raise InputError(f"{prefix}: {error}", field=prefix) from error
    return value
