"""CloudWatch series for the causes beyond PMTUD: the agents' host drop counters, NAT gateway errors.

- namespace ``DropSleuth`` (the host agent): every ``metrics_catalog.HOST_DROP_METRICS`` metric and
  ``ConntrackTableUsedPercent`` with dimensions ``Site`` and ``Host``. The hosts are not in the site
  registry (an agent names itself), so they are found with ``ListMetrics`` on one metric every agent
  publishes, filtered on the site (CloudWatch API Reference, ListMetrics: a metric with no data for two
  weeks is not listed);
- ``AWS/NATGateway`` ``ErrorPortAllocation`` and ``IdleTimeoutCount`` by ``NatGatewayId`` (Sum; VPC User
  Guide, "Monitor NAT gateways with Amazon CloudWatch");
- ``AWS/NetworkELB`` ``TCP_ELB_Reset_Count``, ``TCP_Target_Reset_Count``, ``TCP_Client_Reset_Count`` by
  ``LoadBalancer`` (``net/NAME/ID``, the end of the load balancer's ARN; Sum) for the Network Load Balancers
  in the investigation's VPC ("CloudWatch metrics for your Network Load Balancer");
- ``AWS/TransitGateway`` ``PacketDropCountBlackhole`` and ``PacketDropCountNoRoute`` by ``TransitGateway`` and
  ``TransitGatewayAttachment`` (Sum; attachment-level metrics, Transit Gateways guide, "CloudWatch metrics
  for your transit gateways") for each attachment the path enters a transit gateway from, beside the route
  its route table uses (``aws/transit_gateway_routes.py``);
- the CloudWatch agent's ``ethtool_*_allowance_exceeded`` (namespace ``CWAgent`` by default) of the instances
  behind the path's ends, where a user already collects them: listed with ``ListMetrics`` filtered on
  ``InstanceId`` (the other dimensions depend on the agent's configuration: any set that includes
  ``InstanceId`` is read), Maximum per minute of the running totals (``rules/instance_allowances.py``).

Read with ``aws/metrics.read_series`` (batched ``GetMetricData``); the meaning is decided by
``rules/other_drops.py``. The result is the metrics step's ``other_drops`` data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import AwsError, translate
from dropsleuth.aws.metrics import MetricQuery, read_series
from dropsleuth.aws.permissions import declare
from dropsleuth.metrics_catalog import (
    CONNTRACK_USED,
    HOST_DIMENSION,
    HOST_DROP_METRICS,
    HOST_FIREWALL_RULE_DROPS,
    HOST_GAUGE_METRICS,
    NAMESPACE,
    QDISC_DIMENSION,
    QDISC_DROPS_BY_QDISC,
    RULE_DIMENSION,
    SITE_DIMENSION,
    MetricSpec,
)
from dropsleuth.rules.aws_drops import (
    NAT_IDLE_TIMEOUTS,
    NAT_NAMESPACE,
    NAT_PORT_ALLOCATION,
    NLB_NAMESPACE,
    NLB_RESET_METRICS,
)
from dropsleuth.rules.idle_timeouts import ListenerTimeout, listener_idle_timeout
from dropsleuth.rules.instance_allowances import ALLOWANCE_METRICS, CLOUDWATCH_AGENT_NAMESPACE
from dropsleuth.rules.transit_gateway import TGW_DROP_METRICS, TGW_NAMESPACE, TransitGatewayCheck

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

PERMISSIONS = declare(
    "drop_metrics",
    "cloudwatch:ListMetrics",
    "cloudwatch:GetMetricData",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeListenerAttributes",
)

HOST_METRICS = {
    spec.name: spec for spec in (*HOST_DROP_METRICS.values(), CONNTRACK_USED, *HOST_GAUGE_METRICS.values())
}


# Every agent publishes this one (``/proc/net/netstat`` exists on every Linux host): the site's hosts are
# listed from it alone, which keeps ListMetrics to one metric name instead of every drop counter.
HOST_MARKER_METRIC = HOST_DROP_METRICS["TcpExt.ListenOverflows"].name


def site_hosts(
    site: str, *, namespace: str = NAMESPACE, cloudwatch: CloudWatchClient | None = None
) -> dict[str, tuple[tuple[str, str], ...]]:
    """The hosts whose agents publish for ``site``, each with its dimensions as listed."""
    client = cloudwatch or clients.cloudwatch()
    hosts: dict[str, tuple[tuple[str, str], ...]] = {}
    try:
        paginator = client.get_paginator("list_metrics")
        pages = paginator.paginate(
            Namespace=namespace,
            MetricName=HOST_MARKER_METRIC,
            Dimensions=[{"Name": SITE_DIMENSION, "Value": site}],
        )
        for page in pages:
            for metric in page.get("Metrics", []):
                listed = tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
                names = {name for name, _ in listed}
                if names == {SITE_DIMENSION, HOST_DIMENSION}:
                    hosts.setdefault(dict(listed)[HOST_DIMENSION], listed)
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="ListMetrics") from error
    return dict(sorted(hosts.items()))


def host_drop_queries(
    site: str, *, namespace: str = NAMESPACE, cloudwatch: CloudWatchClient | None = None
) -> list[MetricQuery]:
    """One query per (host, drop metric) for every host that publishes for the site."""
    queries: list[MetricQuery] = []
    for host, dimensions in site_hosts(site, namespace=namespace, cloudwatch=cloudwatch).items():
        for spec in HOST_METRICS.values():
            queries.append(
                MetricQuery(
                    f"host_{len(queries)}", namespace, spec.name, dimensions, spec.alarm_statistic, host
                )
            )
    return queries


def attributed_queries(
    site: str,
    spec: MetricSpec,
    dimension: str,
    *,
    namespace: str = NAMESPACE,
    cloudwatch: CloudWatchClient | None = None,
) -> list[tuple[str, str, MetricQuery]]:
    """(host, ``dimension``'s value, query) for every series of ``spec`` the site's hosts published:
    ``HostFirewallRuleDrops`` by ``Rule``, ``QdiscDropsByQdisc`` by ``Qdisc``.

    The agent publishes such a series only in the intervals it counted, so they are listed, not known in
    advance: one ListMetrics on that metric name, filtered on the site (bounded: the agent publishes at
    most a few a cycle, and a rule or qdisc is one series for as long as it exists).
    """
    client = cloudwatch or clients.cloudwatch()
    found: list[tuple[str, str, MetricQuery]] = []
    try:
        pages = client.get_paginator("list_metrics").paginate(
            Namespace=namespace,
            MetricName=spec.name,
            Dimensions=[{"Name": SITE_DIMENSION, "Value": site}],
        )
        for page in pages:
            for metric in page.get("Metrics", []):
                listed = tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
                values = dict(listed)
                if set(values) != {SITE_DIMENSION, HOST_DIMENSION, dimension}:
                    continue
                query = MetricQuery(
                    f"{dimension.lower()}_{len(found)}",
                    namespace,
                    spec.name,
                    listed,
                    spec.alarm_statistic,
                    values[HOST_DIMENSION],
                )
                found.append((values[HOST_DIMENSION], values[dimension], query))
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="ListMetrics") from error
    return sorted(found, key=lambda f: (f[0], f[1]))


def nat_error_queries(nat_gateway_ids: Iterable[str]) -> list[MetricQuery]:
    queries = []
    for index, nat in enumerate(dict.fromkeys(nat_gateway_ids)):
        dims = (("NatGatewayId", nat),)
        queries.append(
            MetricQuery(f"nat_ports_{index}", NAT_NAMESPACE, NAT_PORT_ALLOCATION, dims, "Sum", nat)
        )
        queries.append(MetricQuery(f"nat_idle_{index}", NAT_NAMESPACE, NAT_IDLE_TIMEOUTS, dims, "Sum", nat))
    return queries


def network_load_balancer_arns(vpc_id: str, *, elbv2: Any | None = None) -> tuple[str, ...]:
    """The ARNs of the Network Load Balancers in a VPC."""
    client = elbv2 or clients.client("elbv2")
    found: list[str] = []
    try:
        for page in client.get_paginator("describe_load_balancers").paginate():
            found.extend(
                str(balancer["LoadBalancerArn"])
                for balancer in page.get("LoadBalancers", [])
                if balancer.get("Type") == "network" and balancer.get("VpcId") == vpc_id
            )
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="DescribeLoadBalancers") from error
    return tuple(sorted(found))


def load_balancer_dimension(arn: str) -> str:
    """The ``LoadBalancer`` dimension value of a load balancer: its ARN after ``:loadbalancer/``."""
    return arn.split(":loadbalancer/", 1)[1]


def network_load_balancers(vpc_id: str, *, elbv2: Any | None = None) -> tuple[str, ...]:
    """The ``LoadBalancer`` dimension values (``net/NAME/ID``) of the Network Load Balancers in a VPC."""
    return tuple(load_balancer_dimension(arn) for arn in network_load_balancer_arns(vpc_id, elbv2=elbv2))


def listener_idle_timeouts(arns: Iterable[str], *, elbv2: Any | None = None) -> list[ListenerTimeout]:
    """Every TCP/TLS listener of these load balancers with its TCP idle timeout (``tcp.idle_timeout.seconds``;
    ELB guide, "Update the TCP idle timeout for your Network Load Balancer listener")."""
    client = elbv2 or clients.client("elbv2")
    found: list[ListenerTimeout] = []
    try:
        for arn in arns:
            for page in client.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn):
                for listener in page.get("Listeners", []):
                    protocol = str(listener.get("Protocol"))
                    if protocol not in ("TCP", "TLS", "TCP_UDP"):
                        continue
                    attributes = (
                        client.describe_listener_attributes(ListenerArn=listener["ListenerArn"])["Attributes"]
                        if protocol != "TLS"
                        else []
                    )
                    found.append(
                        ListenerTimeout(
                            load_balancer=load_balancer_dimension(arn),
                            listener_arn=str(listener["ListenerArn"]),
                            protocol=protocol,
                            port=int(listener.get("Port", 0)),
                            idle_timeout_s=listener_idle_timeout(protocol, attributes),
                        )
                    )
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="DescribeListeners/DescribeListenerAttributes") from error
    return found


def nlb_reset_queries(load_balancers: Iterable[str]) -> list[MetricQuery]:
    return [
        MetricQuery(f"nlb_{index}_{short}", NLB_NAMESPACE, metric, (("LoadBalancer", lb),), "Sum", lb)
        for index, lb in enumerate(dict.fromkeys(load_balancers))
        for short, metric in enumerate(NLB_RESET_METRICS)
    ]


def transit_gateway_drop_queries(checks: Iterable[TransitGatewayCheck]) -> list[MetricQuery]:
    """The attachment-level drop counters of every attachment a lookup starts from."""
    attachments = {
        lookup.attachment_id: lookup.transit_gateway_id for check in checks for lookup in check.lookups
    }
    return [
        MetricQuery(
            f"tgw_{index}_{short}",
            TGW_NAMESPACE,
            metric,
            (("TransitGateway", tgw), ("TransitGatewayAttachment", attachment)),
            "Sum",
            attachment,
        )
        for index, (attachment, tgw) in enumerate(attachments.items())
        for short, metric in enumerate(TGW_DROP_METRICS)
    ]


def cloudwatch_agent_allowances(
    instance_id: str,
    *,
    namespace: str = CLOUDWATCH_AGENT_NAMESPACE,
    cloudwatch: CloudWatchClient | None = None,
) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """The ``ethtool_*_allowance_exceeded`` metrics the CloudWatch agent publishes for an instance, each
    with its dimensions as listed (one per interface, typically)."""
    client = cloudwatch or clients.cloudwatch()
    found: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    try:
        pages = client.get_paginator("list_metrics").paginate(
            Namespace=namespace, Dimensions=[{"Name": "InstanceId", "Value": instance_id}]
        )
        for page in pages:
            for metric in page.get("Metrics", []):
                if metric.get("MetricName") in ALLOWANCE_METRICS:
                    dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
                    found.append((str(metric["MetricName"]), dims))
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="ListMetrics") from error
    return sorted(dict.fromkeys(found))


def _points(points: Iterable[tuple[datetime, float]]) -> list[dict[str, Any]]:
    return [{"at": at.isoformat(), "value": value} for at, value in points]


def read_other_drops(
    start: datetime,
    end: datetime,
    *,
    site: str | None,
    nat_gateway_ids: Iterable[str] = (),
    load_balancers: Iterable[str] = (),
    transit_gateways: Iterable[TransitGatewayCheck] = (),
    instances: Iterable[str] = (),
    namespace: str = NAMESPACE,
    agent_namespace: str = CLOUDWATCH_AGENT_NAMESPACE,
    cloudwatch: CloudWatchClient | None = None,
) -> dict[str, Any]:
    """The ``other_drops`` data (its shape: ``rules/other_drops.py``)."""
    client = cloudwatch or clients.cloudwatch()
    checks = list(transit_gateways)
    host_queries = host_drop_queries(site, namespace=namespace, cloudwatch=client) if site else []
    attributed = {
        key: attributed_queries(site, spec, dimension, namespace=namespace, cloudwatch=client) if site else []
        for key, spec, dimension in (
            ("firewall_rules", HOST_FIREWALL_RULE_DROPS, RULE_DIMENSION),
            ("qdiscs", QDISC_DROPS_BY_QDISC, QDISC_DIMENSION),
        )
    }
    aws_queries = [*nat_error_queries(nat_gateway_ids), *nlb_reset_queries(load_balancers)]
    tgw_queries = transit_gateway_drop_queries(checks)
    agent_queries, unread = _allowance_queries(instances, agent_namespace, client)
    queries = [
        *host_queries,
        *(q for found in attributed.values() for _, _, q in found),
        *aws_queries,
        *tgw_queries,
        *agent_queries,
    ]
    series = read_series(queries, start, end, cloudwatch=client) if queries else {}
    hosts: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for query in host_queries:
        points = hosts.setdefault(query.resource_id, {})
        # A metric with no point in the window was not published (the source is missing on that host):
        # left out, so the rules say "unknown", never "clean".
        if series[query.query_id]:
            points[query.metric] = _points(series[query.query_id])
    by_host: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {key: {} for key in attributed}
    for key, found in attributed.items():
        for host, value, query in found:
            if series[query.query_id]:
                by_host[key].setdefault(host, {})[value] = _points(series[query.query_id])
    return {
        "hosts": hosts,
        **by_host,
        "aws_resources": [
            {"namespace": q.namespace, "resource_id": q.resource_id}
            for q in {(q.namespace, q.resource_id): q for q in aws_queries}.values()
        ],
        "aws": [
            {
                "namespace": q.namespace,
                "resource_id": q.resource_id,
                "metric": q.metric,
                "points": _points(series[q.query_id]),
            }
            for q in aws_queries
            # No point at all is no data (the resource idle or the metric not published): left out, so the
            # rules say "unknown", never "clean".
            if series[q.query_id]
        ],
        "transit_gateways": [_transit_gateway_data(check, tgw_queries, series) for check in checks],
        "instance_allowances": [
            {
                "instance_id": instance,
                "namespace": agent_namespace,
                "unread": reason,
                "series": [
                    {
                        "metric": q.metric,
                        "dimensions": dict(q.dimensions),
                        "points": _points(series[q.query_id]),
                    }
                    for q in agent_queries
                    # No point in the window: not published now (the agent stopped, or the instance did).
                    if q.resource_id == instance and series[q.query_id]
                ],
            }
            for instance, reason in unread.items()
        ],
    }


def _allowance_queries(
    instances: Iterable[str], namespace: str, client: CloudWatchClient
) -> tuple[list[MetricQuery], dict[str, str]]:
    """One query per listed allowance series (Maximum: the running total at the end of the minute), and
    for every instance why it could not be listed ("" when it was)."""
    queries: list[MetricQuery] = []
    unread: dict[str, str] = {}
    for instance in dict.fromkeys(instances):
        try:
            listed = cloudwatch_agent_allowances(instance, namespace=namespace, cloudwatch=client)
        except AwsError as error:
            unread[instance] = f"ListMetrics refused ({error.kind}: {error})"
            continue
        unread[instance] = ""
        queries.extend(
            MetricQuery(f"cwagent_{len(queries) + i}", namespace, metric, dims, "Maximum", instance)
            for i, (metric, dims) in enumerate(listed)
        )
    return queries, unread


def _transit_gateway_data(
    check: TransitGatewayCheck,
    queries: Iterable[MetricQuery],
    series: dict[str, tuple[tuple[datetime, float], ...]],
) -> dict[str, Any]:
    mine = {lookup.attachment_id for lookup in check.lookups}
    drops: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for query in queries:
        # A counter with no point in the window was not published: left out, so the rules say "unknown".
        if query.resource_id in mine and series[query.query_id]:
            drops.setdefault(query.resource_id, {})[query.metric] = _points(series[query.query_id])
    return {
        "transit_gateway_id": check.transit_gateway_id,
        "lookups": [lookup.as_data() for lookup in check.lookups],
        "drops": drops,
        "unread": check.unread,
    }
