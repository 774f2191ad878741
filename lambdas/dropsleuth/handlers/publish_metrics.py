"""Lambda ``publish_metrics`` (scheduled every 5 minutes): the site metrics AWS itself can measure.

Per site of the registry: ``UploadThroughputMbps`` per minute from flow logs (the ``upload_throughput``
query, site CIDR → its ``upload_destination``) and ``RejectedIcmpCount`` per minute (``icmp_rejects``).
Published with PutMetricData like the host agent's (exact dimensions, Site-only roll-ups for the alarms),
each datapoint with the minute it describes.

No path-MTU probe runs here. This function has no VPC configuration, so a probe of a site's private
``probe_targets`` would leave through Lambda's own network and never reach them: its "unreachable" would
be published as if it were a measurement. A probe that means something needs an ENI in the VPC the site
is reached from (one function per VPC, in the registry's subnets, with a security group allowing only the
probes' egress, and endpoints or NAT for CloudWatch): not built yet. The site's host agent
(``dropsleuth probe pmtu``/``run``) measures the path MTU from the site toward AWS and publishes the same
``PathMtu`` and ``PathMtuBlackHole`` metrics.

Flow logs reach S3 about ten minutes late (docs/reference/aws-facts.md), so the window ends ``lag_minutes``
before now. Test event: ``events/publish_metrics.json`` (the schedule's event; ``{"sites": [...],
"window_minutes": N, "lag_minutes": N}`` narrows a manual run).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from dropsleuth import metrics_catalog as catalog
from dropsleuth import queries
from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.config import settings
from dropsleuth.functions import FunctionSpec
from dropsleuth.handlers.framing import error_response, parse_event
from dropsleuth.observability import logger, tracer
from dropsleuth.probe.agent import MAX_DATA_PER_CALL, make_sender, with_site_rollups
from dropsleuth.probe.agent import PERMISSIONS as PUBLISH_PERMISSIONS
from dropsleuth.probe.spool import Datapoint
from dropsleuth.sites import PERMISSIONS as SITES_PERMISSIONS
from dropsleuth.sites import Site, SiteRegistry, load_registry_file, load_registry_parameter

FUNCTION = FunctionSpec(
    name="publish_metrics",
    handler="dropsleuth.handlers.publish_metrics.handler",
    description="Publish per-site upload throughput and REJECTed ICMP from flow logs.",
    permissions=(queries.PERMISSIONS, SITES_PERMISSIONS, PUBLISH_PERMISSIONS),
    timeout_s=240,
    memory_mb=256,
    required_settings=("athena_workgroup", "athena_database"),
    schedule_minutes=5,
    # A tick older than two schedule periods is superseded by the next one.
    max_event_age_s=600,
)


class PublishRequest(BaseModel):
    """A scheduled event carries none of these fields; a manual run may set them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sites: tuple[str, ...] = ()
    window_minutes: int = Field(15, ge=1, le=180)
    lag_minutes: int = Field(10, ge=0, le=120)
    time: datetime | None = None
    """EventBridge's ``time`` field: the schedule's tick."""


def _registry() -> SiteRegistry:
    config = settings()
    if config.sites_parameter:
        return load_registry_parameter(config.sites_parameter)
    if config.sites_file:
        return load_registry_file(config.sites_file)
    raise InputError(
        "no site registry: set DROPSLEUTH_SITES_PARAMETER or DROPSLEUTH_SITES_FILE", field="sites"
    )


def _source_cidr(site: Site) -> str | None:
    for cidr in site.cidrs:
        if ipaddress.ip_network(cidr, strict=False).version == 4:  # the queries' CIDR arithmetic is IPv4
            return cidr
    return None


def _destination_params(site: Site) -> dict[str, str]:
    target = site.upload_destination or "S3"
    try:
        ipaddress.ip_network(target, strict=False)
    except ValueError:
        return {"destination_service": target}
    return {"destination_cidr": target}


def site_datapoints(
    site: Site, engine: queries.FlowLogEngine, *, start: datetime, end: datetime
) -> tuple[list[Datapoint], list[str]]:
    """The datapoints for one site over ``start``–``end`` and the problems met (a query that failed)."""
    points: list[Datapoint] = []
    problems: list[str] = []
    dims = {catalog.SITE_DIMENSION: site.name}
    source = _source_cidr(site)
    if source is None:
        problems.append(f"{site.name}: no IPv4 CIDR, flow-log metrics skipped")
        return points, problems
    window = {"start": start, "end": end, "source_cidr": source}
    try:
        uploads = engine.run("upload_throughput", {**window, **_destination_params(site)})
        points += _per_minute(catalog.UPLOAD_THROUGHPUT, uploads.rows, "mbps", dims)
        rejects = engine.run("icmp_rejects", window)
        points += _per_minute(catalog.REJECTED_ICMP, rejects.rows, "rejects", dims)
    except (AwsError, InputError) as error:
        problems.append(f"{site.name}: flow-log query failed: {error}")
    return points, problems


def _per_minute(
    spec: catalog.MetricSpec, rows: Sequence[dict[str, Any]], column: str, dims: dict[str, str]
) -> list[Datapoint]:
    """One datapoint of ``spec`` per query row: ``column``'s value at the row's ``minute``."""
    return [Datapoint(spec.name, float(row[column]), spec.unit, _epoch(row["minute"]), dims) for row in rows]


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def emit(points: Sequence[Datapoint], namespace: str) -> None:
    """Publish with PutMetricData, each datapoint with its own timestamp and exactly its dimensions.

    Not Powertools' EMF: it adds a ``service`` dimension to every metric, and the site alarms watch the
    ``Site`` dimension alone. The host agent publishes the same way, so both feed the same alarms.
    """
    send = make_sender(namespace)
    complete = with_site_rollups(points)
    for start in range(0, len(complete), MAX_DATA_PER_CALL):
        send(complete[start : start + MAX_DATA_PER_CALL])


def publish(
    request: PublishRequest,
    registry: SiteRegistry,
    engine: queries.FlowLogEngine,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Compute and emit every site's datapoints; returns what was published and what failed."""
    tick = now or request.time or datetime.now(UTC)
    end = tick.replace(second=0, microsecond=0) - timedelta(minutes=request.lag_minutes)
    start = end - timedelta(minutes=request.window_minutes)
    names = request.sites or tuple(registry.names())
    published: dict[str, int] = {}
    problems: list[str] = []
    for name in names:
        site = registry.get(name)
        points, site_problems = site_datapoints(site, engine, start=start, end=end)
        try:
            emit(points, settings().metrics_namespace)
        except AwsError as error:
            problems.append(f"{site.name}: PutMetricData failed: {error}")
            continue
        published[name] = len(points)
        problems += site_problems
    for problem in problems:
        logger.warning(problem)
    return {
        "ok": not problems,
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "published": published,
        "problems": problems,
    }


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_event(PublishRequest, event)
        engine = queries.engine_from_settings(settings(), engine="athena")
        return publish(request, _registry(), engine)
    except (InputError, AwsError) as error:
        logger.warning("publish_metrics could not run", extra={"error": str(error)})
        return error_response(error)
