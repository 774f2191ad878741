"""CloudWatch metrics around an incident: the site's own series, VPN tunnel state, NAT and TGW drops.

One ``GetMetricData`` request per 500 queries (the most one call takes: CloudWatch API Reference,
GetMetricData), paginated with ``NextToken``, at one-minute resolution:

- namespace ``DropSleuth`` (the host agent, ``metrics_catalog``), dimension ``Site``:
  ``UploadThroughputMbps`` (Average), ``FragNeededCount`` (Sum), ``TcpRetransSegs`` (Sum); ``PathMtu``
  (Minimum) and the agent's DF-probe verdict ``PathMtuBlackHole`` (Maximum) per probe target (dimensions
  ``Site``, ``Target`` = ``metrics_catalog.target_dimension`` of the registry's address, as the agent
  publishes it);
- ``AWS/VPN`` ``TunnelState`` by ``VpnId`` (Minimum: a tunnel down inside the minute reads 0; Site-to-Site
  VPN User Guide, "Monitoring with CloudWatch");
- ``AWS/NATGateway`` ``PacketsDropCount`` by ``NatGatewayId`` (Sum; "Monitor NAT gateways with
  CloudWatch", VPC User Guide);
- ``AWS/TransitGateway`` ``PacketDropCountBlackhole`` and ``PacketDropCountNoRoute`` by ``TransitGateway``
  (Sum; "CloudWatch metrics for transit gateways", Transit Gateways guide).

What the series mean (onset, flaps) is decided by ``rules/onset.py``; this module only reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import translate
from dropsleuth.aws.permissions import declare
from dropsleuth.metrics_catalog import (
    FRAG_NEEDED,
    NAMESPACE,
    PATH_MTU,
    PATH_MTU_BLACK_HOLE,
    SITE_DIMENSION,
    TARGET_DIMENSION,
    TCP_RETRANS,
    UPLOAD_THROUGHPUT,
    target_dimension,
)
from dropsleuth.rules.onset import Point

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

PERMISSIONS = declare("metrics", "cloudwatch:GetMetricData")

PERIOD_S = 60
MAX_QUERIES_PER_CALL = 500


@dataclass(frozen=True)
class MetricQuery:
    """One series to read: where it lives in CloudWatch and what it is in the context."""

    query_id: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    resource_id: str = ""

    def request(self) -> dict[str, Any]:
        """The ``MetricDataQuery`` structure GetMetricData takes."""
        return {
            "Id": self.query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": self.metric,
                    # CloudWatch treats dimensions as a set; sorted as the agent publishes them, since
                    # local endpoints (moto) compare the lists in order.
                    "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(self.dimensions)],
                },
                "Period": PERIOD_S,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


@dataclass(frozen=True)
class DropCounter:
    """A gateway's drop counter over the window (NAT gateway or transit gateway)."""

    namespace: str
    metric: str
    resource_id: str
    points: tuple[Point, ...] = ()

    @property
    def total(self) -> float:
        return sum(value for _, value in self.points)


@dataclass(frozen=True)
class MetricsContext:
    """Every series read for an investigation, each sorted by time."""

    throughput: tuple[Point, ...] = ()
    frag_needed: tuple[Point, ...] = ()
    path_mtu: dict[str, tuple[Point, ...]] = field(default_factory=dict)
    """By probe target."""
    black_hole: dict[str, tuple[Point, ...]] = field(default_factory=dict)
    """The agent's DF-probe verdict (1 = black hole) by probe target."""
    retransmissions: tuple[Point, ...] = ()
    tunnel_state: tuple[Point, ...] = ()
    drop_counters: tuple[DropCounter, ...] = ()
    queried: tuple[MetricQuery, ...] = ()


def metric_queries(
    *,
    namespace: str = NAMESPACE,
    site: str | None = None,
    probe_targets: Sequence[str] = (),
    vpn_connection_id: str | None = None,
    nat_gateway_ids: Iterable[str] = (),
    transit_gateway_ids: Iterable[str] = (),
) -> list[MetricQuery]:
    """The queries for what is known about the incident (none when nothing is)."""
    queries: list[MetricQuery] = []
    if site:
        dims = ((SITE_DIMENSION, site),)
        queries.append(MetricQuery("throughput", namespace, UPLOAD_THROUGHPUT.name, dims, "Average", site))
        queries.append(MetricQuery("frag_needed", namespace, FRAG_NEEDED.name, dims, "Sum", site))
        queries.append(MetricQuery("retransmissions", namespace, TCP_RETRANS.name, dims, "Sum", site))
        for index, target in enumerate(dict.fromkeys(probe_targets)):
            target_dims = (*dims, (TARGET_DIMENSION, target_dimension(target)))
            queries.append(
                MetricQuery(f"path_mtu_{index}", namespace, PATH_MTU.name, target_dims, "Minimum", target)
            )
            queries.append(
                MetricQuery(
                    f"black_hole_{index}", namespace, PATH_MTU_BLACK_HOLE.name, target_dims, "Maximum", target
                )
            )
    if vpn_connection_id:
        dims = (("VpnId", vpn_connection_id),)
        queries.append(
            MetricQuery("tunnel_state", "AWS/VPN", "TunnelState", dims, "Minimum", vpn_connection_id)
        )
    for index, nat in enumerate(dict.fromkeys(nat_gateway_ids)):
        dims = (("NatGatewayId", nat),)
        queries.append(
            MetricQuery(f"nat_drops_{index}", "AWS/NATGateway", "PacketsDropCount", dims, "Sum", nat)
        )
    for index, tgw in enumerate(dict.fromkeys(transit_gateway_ids)):
        dims = (("TransitGateway", tgw),)
        for metric, short in (
            ("PacketDropCountBlackhole", "blackhole"),
            ("PacketDropCountNoRoute", "noroute"),
        ):
            queries.append(
                MetricQuery(f"tgw_{short}_{index}", "AWS/TransitGateway", metric, dims, "Sum", tgw)
            )
    return queries


def read_series(
    queries: Sequence[MetricQuery],
    start: datetime,
    end: datetime,
    *,
    cloudwatch: CloudWatchClient | None = None,
) -> dict[str, tuple[Point, ...]]:
    """Every query's points by query id, sorted by time (batched by 500, paginated)."""
    client = cloudwatch or clients.cloudwatch()
    series: dict[str, list[Point]] = {q.query_id: [] for q in queries}
    try:
        paginator = client.get_paginator("get_metric_data")
        for offset in range(0, len(queries), MAX_QUERIES_PER_CALL):
            batch = [q.request() for q in queries[offset : offset + MAX_QUERIES_PER_CALL]]
            for page in paginator.paginate(MetricDataQueries=batch, StartTime=start, EndTime=end):  # type: ignore[arg-type]
                for result in page["MetricDataResults"]:
                    series[result["Id"]].extend(zip(result["Timestamps"], result["Values"], strict=False))
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="GetMetricData") from error
    return {key: tuple(sorted(points)) for key, points in series.items()}


def metrics_context(
    start: datetime,
    end: datetime,
    *,
    namespace: str = NAMESPACE,
    site: str | None = None,
    probe_targets: Sequence[str] = (),
    vpn_connection_id: str | None = None,
    nat_gateway_ids: Iterable[str] = (),
    transit_gateway_ids: Iterable[str] = (),
    cloudwatch: CloudWatchClient | None = None,
) -> MetricsContext:
    """Read every series known for the incident over [start, end] into one ``MetricsContext``."""
    queries = metric_queries(
        namespace=namespace,
        site=site,
        probe_targets=probe_targets,
        vpn_connection_id=vpn_connection_id,
        nat_gateway_ids=nat_gateway_ids,
        transit_gateway_ids=transit_gateway_ids,
    )
    if not queries:
        return MetricsContext()
    series = read_series(queries, start, end, cloudwatch=cloudwatch)
    gateway_namespaces = {"AWS/NATGateway", "AWS/TransitGateway"}
    return MetricsContext(
        throughput=series.get("throughput", ()),
        frag_needed=series.get("frag_needed", ()),
        path_mtu={q.resource_id: series[q.query_id] for q in queries if q.metric == PATH_MTU.name},
        black_hole={
            q.resource_id: series[q.query_id] for q in queries if q.metric == PATH_MTU_BLACK_HOLE.name
        },
        retransmissions=series.get("retransmissions", ()),
        tunnel_state=series.get("tunnel_state", ()),
        drop_counters=tuple(
            DropCounter(q.namespace, q.metric, q.resource_id, series[q.query_id])
            for q in queries
            if q.namespace in gateway_namespaces
        ),
        queried=tuple(queries),
    )
