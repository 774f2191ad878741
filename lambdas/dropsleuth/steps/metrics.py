"""Step ``metrics``: the site's throughput and frag-needed series and VPN tunnel state around the window.

One ``GetMetricData`` call (paginated) for the host agent's ``UploadThroughputMbps`` and
``FragNeededCount`` (namespace DropSleuth, dimension Site) and AWS/VPN ``TunnelState`` of the site's VPN
connection, at one-minute resolution. The onset and the flaps are decided by the ranking from these series.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import translate
from dropsleuth.aws.permissions import declare
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.metrics_catalog import FRAG_NEEDED, SITE_DIMENSION, UPLOAD_THROUGHPUT
from dropsleuth.steps import StepEnvironment, StepSkipped, StepSpec

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

PERMISSIONS = declare("investigate_metrics", "cloudwatch:GetMetricData")
PERIOD_S = 60


def _query(query_id: str, namespace: str, name: str, dimensions: dict[str, str], stat: str) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            },
            "Period": PERIOD_S,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def metric_queries(context: InvestigationContext, namespace: str) -> list[dict[str, Any]]:
    """The GetMetricData queries for the context (none when it names no site and no VPN)."""
    queries = []
    if context.site is not None:
        site = {SITE_DIMENSION: context.site.name}
        queries.append(_query("throughput", namespace, UPLOAD_THROUGHPUT.name, site, "Average"))
        queries.append(_query("frag_needed", namespace, FRAG_NEEDED.name, site, "Sum"))
    if context.vpn_connection_id:
        # AWS/VPN TunnelState: 1 up, 0 down; Minimum per minute catches a flap inside the minute.
        vpn = {"VpnId": context.vpn_connection_id}
        queries.append(_query("tunnel_state", "AWS/VPN", "TunnelState", vpn, "Minimum"))
    return queries


def fetch(
    queries: list[dict[str, Any]],
    start: datetime,
    end: datetime,
    *,
    cloudwatch: CloudWatchClient | None = None,
) -> dict[str, list[tuple[datetime, float]]]:
    """Every series by query id, sorted by time."""
    client = cloudwatch or clients.cloudwatch()
    series: dict[str, list[tuple[datetime, float]]] = {q["Id"]: [] for q in queries}
    try:
        paginator = client.get_paginator("get_metric_data")
        for page in paginator.paginate(MetricDataQueries=queries, StartTime=start, EndTime=end):  # type: ignore[arg-type]
            for result in page["MetricDataResults"]:
                series[result["Id"]].extend(zip(result["Timestamps"], result["Values"], strict=False))
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="GetMetricData") from error
    return {key: sorted(points) for key, points in series.items()}


def flaps(tunnel_state: list[tuple[datetime, float]]) -> list[datetime]:
    """The minutes a tunnel went down after being up (a transition to 0)."""
    down = []
    previous = None
    for at, value in tunnel_state:
        if value < 1 and (previous is None or previous >= 1):
            down.append(at)
        previous = value
    return down


def run(context: InvestigationContext, environment: StepEnvironment) -> StepOutcome:
    queries = metric_queries(context, environment.settings.metrics_namespace)
    if not queries:
        raise StepSkipped("no site and no VPN connection in the context: no metrics to read")
    series = fetch(queries, context.window.start, context.window.end)

    def points(key: str) -> list[dict[str, Any]]:
        return [{"at": at.isoformat(), "value": value} for at, value in series.get(key, [])]

    tunnel_flaps = flaps(series.get("tunnel_state", []))
    checked = [f"metric {key}: {len(values)} points" for key, values in series.items()]
    return StepOutcome(
        checked=tuple(checked),
        data={
            "throughput": points("throughput"),
            "frag_needed": points("frag_needed"),
            "tunnel_state": points("tunnel_state"),
            "tunnel_flaps": [at.isoformat() for at in tunnel_flaps],
        },
    )


STEP = StepSpec(
    name="metrics",
    checks="the site's throughput and frag-needed metrics and VPN tunnel state around the window",
    run=run,
    timeout_s=20.0,
)
