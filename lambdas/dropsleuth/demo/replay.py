"""Replaying a scenario's incident on the embedded account, and the alarm that starts the investigation.

Everything the deployed toolkit would find in an account is put there as AWS would put it: the network
(``account.py``), flow logs as S3 delivers them (Parquet, Hive per-hour partitions, written by the
synthesizer from the scenario's traffic), the site's metrics from the host agent and AWS/VPN
``TunnelState``, the site registry in SSM, a report bucket, an SNS topic (with an SQS queue subscribed, to
show the summary), the idempotency table — and the alarm, defined as the CDK app defines it and set to
ALARM. moto never evaluates alarms (docs/reference/aws-facts.md), so the replay sets the state and builds the
EventBridge event from the alarm's own description; then the ``investigate`` Lambda handler is called in this
process with that event, exactly as Lambda would call it.

Nothing here tells the investigation what happened: it sees only the account.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dropsleuth.aws import clients
from dropsleuth.aws.flowlogs import enable_flow_logs
from dropsleuth.config import settings
from dropsleuth.demo.account import BuiltAccount, build_account
from dropsleuth.demo.scenario import HostCountersSpec, MetricWindowSpec, Scenario
from dropsleuth.demo.site_host import run_agent
from dropsleuth.flowlogs.synth import (
    Destination,
    NatInterface,
    TrafficTimeline,
    synthesize,
    write_parquet,
)
from dropsleuth.metrics_catalog import (
    CONNTRACK_USED,
    FIREWALL_RULES_PER_CYCLE,
    FRAG_NEEDED,
    HOST_DIMENSION,
    HOST_DROP_METRICS,
    HOST_FIREWALL_RULE_DROPS,
    HOST_GAUGE_METRICS,
    NAMESPACE,
    QDISC_DIMENSION,
    QDISC_DROPS_BY_QDISC,
    QDISCS_PER_CYCLE,
    RULE_DIMENSION,
    SITE_DIMENSION,
    UPLOAD_THROUGHPUT,
    MetricSpec,
)
from dropsleuth.model import Report
from dropsleuth.requests import ALARM_DETAIL_TYPE

FLOW_LOGS_PREFIX = ""
_PUT_METRIC_BATCH = 500


@dataclass
class DemoLambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str = "dropsleuth-investigate"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:dropsleuth-investigate"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/dropsleuth-investigate"
    log_stream_name: str = "demo"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass
class Replay:
    """What the replay put in the account, the event it sent, and what the handler answered."""

    scenario: Scenario
    built: BuiltAccount
    start: datetime
    end: datetime
    event: dict[str, Any]
    environment: dict[str, str]
    response: dict[str, Any] = field(default_factory=dict)
    notifications: list[dict[str, str]] = field(default_factory=list)
    flow_log_files: int = 0
    records: int = 0

    @property
    def report(self) -> Report:
        return Report.model_validate(self.response["report"])


def prepare(scenario: Scenario, *, now: datetime | None = None) -> Replay:
    """Build the account and its history; return the alarm event (or manual request) to investigate."""
    end = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    start = end - timedelta(minutes=scenario.traffic.duration_minutes)
    built = build_account(scenario)
    assert built.site is not None
    account = clients.sts().get_caller_identity()["Account"]
    names = _resource_names(scenario.name, account)
    environment = _delivery_resources(names)
    environment["DROPSLEUTH_SITES_PARAMETER"] = _site_registry(built, names["parameter"])
    replay = Replay(scenario, built, start, end, event={}, environment=environment)
    timeline = traffic_timeline(scenario, built, start=start, account=account)
    records = synthesize(timeline)
    replay.records = len(records)
    # Flow logs enabled as ``dropsleuth flowlogs enable`` does (moto rejects a destination with a prefix,
    # so they go to the bucket's root), then the records S3 delivery would have written there.
    enable_flow_logs(built.id("vpc"), names["flow_logs"])
    replay.flow_log_files = len(write_parquet(records, f"s3://{names['flow_logs']}"))
    environment["DROPSLEUTH_FLOW_LOGS_BUCKET"] = names["flow_logs"]
    environment["DROPSLEUTH_FLOW_LOGS_PREFIX"] = FLOW_LOGS_PREFIX
    publish_metrics(scenario, built, start=start)
    if scenario.agent is not None:
        # The site agent's own cycle over the scenario's host: its metrics and change records.
        run_agent(
            scenario.agent,
            site=built.site.name,
            expected_mtus=dict(built.site.expected_mtus),
            start=start,
            minutes=scenario.traffic.duration_minutes,
            publish=_put_agent_metrics,
        )
    # The account's trail, as deployed accounts have one (empty when nothing changed); moto has no
    # LookupEvents, so the step reads the trail's files.
    environment["DROPSLEUTH_CHANGES_SOURCE"] = write_change_records(
        scenario, built, start=start, bucket=names["flow_logs"], account=account
    )
    replay.event = (
        alarm_event(scenario, built, start=start)
        if scenario.alarm.minute is not None
        else {
            "site": built.site.name,
            "window": {"start": start.isoformat(), "end": end.isoformat()},
        }
    )
    if scenario.request is not None:
        for key in ("source", "destination"):
            value = getattr(scenario.request, key)
            if value is not None:
                replay.event[key] = built.id("eni", value[4:]) if value.startswith("eni:") else value
    return replay


def run(replay: Replay) -> Replay:
    """Call the ``investigate`` handler with the replay's event, configured as the CDK app configures it."""
    from dropsleuth.handlers.investigate import handler  # noqa: PLC0415 -- after the account exists

    with lambda_environment(replay.environment):
        replay.response = handler(replay.event, DemoLambdaContext())
    replay.notifications = _received(replay.environment.get("DEMO_QUEUE_URL", ""))
    return replay


# --- the account's history ----------------------------------------------------------------------------


def _resource_names(scenario: str, account: str) -> dict[str, str]:
    suffix = f"{account}-{scenario}"[:40].lower()
    return {
        "flow_logs": f"dropsleuth-flowlogs-{suffix}",
        "reports": f"dropsleuth-reports-{suffix}",
        "topic": f"dropsleuth-reports-{scenario}",
        "queue": f"dropsleuth-demo-inbox-{scenario}",
        "table": f"dropsleuth-idempotency-{scenario}",
        "parameter": f"/dropsleuth/{scenario}/sites",
    }


def _delivery_resources(names: dict[str, str]) -> dict[str, str]:
    s3 = clients.s3()
    region = clients.region()
    for bucket in (names["flow_logs"], names["reports"]):
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})  # type: ignore[typeddict-item]
    sns = clients.sns()
    topic = sns.create_topic(Name=names["topic"])["TopicArn"]
    sqs = clients.client("sqs")
    queue_url = sqs.create_queue(QueueName=names["queue"])["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    # The idempotency table as the CDK app creates it: Powertools' default key and TTL attributes.
    clients.dynamodb().create_table(
        TableName=names["table"],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return {
        "DROPSLEUTH_REPORT_BUCKET": names["reports"],
        "DROPSLEUTH_REPORT_TOPIC_ARN": topic,
        "DROPSLEUTH_IDEMPOTENCY_TABLE": names["table"],
        "DEMO_QUEUE_URL": queue_url,
    }


def _site_registry(built: BuiltAccount, parameter: str) -> str:
    assert built.site is not None
    document = {"sites": [built.site.model_dump(mode="json")]}
    clients.ssm().put_parameter(Name=parameter, Type="String", Value=json.dumps(document), Overwrite=True)
    return parameter


def site_hosts(scenario: Scenario) -> tuple[str, ...]:
    network = ipaddress.ip_network(scenario.site.cidrs[0], strict=False)
    return tuple(str(network.network_address + 10 + i) for i in range(scenario.traffic.site_hosts))


def traffic_timeline(
    scenario: Scenario, built: BuiltAccount, *, start: datetime, account: str
) -> TrafficTimeline:
    """The scenario's traffic through the site's ENIs, with the ids the account gave them."""
    assert built.site is not None
    instances = {i.name: i for i in scenario.network.instances}
    names = scenario.site.instances
    upload = scenario.site.upload_destination or "S3"
    if "/" in upload or upload.replace(".", "").isdigit():
        destination = Destination(cidr=upload if "/" in upload else f"{upload}/32", service=None)
    else:
        destination = Destination(service=upload)
    return TrafficTimeline(
        start=start,
        duration_minutes=scenario.traffic.duration_minutes,
        seed=scenario.traffic.seed,
        account_id=account,
        region=scenario.region,
        vpc_id=built.id("vpc"),
        vpc_cidr=scenario.network.vpc.cidr,
        subnet_id=built.id("subnet", instances[names[0]].subnet),
        eni_ids=tuple(built.id("eni", n) for n in names),
        eni_ips=tuple(instances[n].private_ip for n in names),
        site_cidr=scenario.site.cidrs[0],
        site_hosts=site_hosts(scenario),
        destination=destination,
        baseline_mbps=scenario.traffic.baseline_mbps,
        black_holes=scenario.traffic.black_holes,
        scans=scenario.traffic.scans,
        return_rejects=scenario.traffic.return_rejects,
        connect_timeouts=scenario.traffic.connect_timeouts,
        nat=_nat_interface(scenario, built),
        packet_bytes=scenario.traffic.packet_bytes,
    )


def _nat_interface(scenario: Scenario, built: BuiltAccount) -> NatInterface | None:
    """The NAT gateway's interface the site's flows go through, with the id the account gave it."""
    name = scenario.traffic.through_nat
    if name is None:
        return None
    (spec,) = [n for n in scenario.network.nat_gateways if n.name == name]
    return NatInterface(eni_id=built.id("nat-eni", name), private_ip=spec.private_ip)


def host_throughput(scenario: Scenario, minute: int) -> float:
    """What the host agent's upload probe measured at ``minute`` (Mbps), following the traffic."""
    for hole in scenario.traffic.black_holes:
        if hole.active(minute, scenario.traffic.duration_minutes):
            return hole.degraded_mbps
    measured = _window_value(scenario.metrics.upload_mbps, minute, scenario.traffic.duration_minutes)
    if measured is not None:
        return measured
    # A small deterministic ripple: real measurements are never flat.
    return scenario.traffic.baseline_mbps * (1 + 0.03 * ((minute * 7) % 5 - 2) / 2)


def publish_metrics(scenario: Scenario, built: BuiltAccount, *, start: datetime) -> None:
    """The host agent's series (namespace DropSleuth, dimension Site) and AWS/VPN TunnelState."""
    assert built.site is not None
    site = [{"Name": SITE_DIMENSION, "Value": built.site.name}]
    data: list[dict[str, Any]] = []
    minutes = range(scenario.traffic.duration_minutes)
    if scenario.metrics.host_agent:
        for minute in minutes:
            at = start + timedelta(minutes=minute)
            frag = sum(
                w.per_minute
                for w in scenario.metrics.frag_needed
                if w.from_minute <= minute < (w.to_minute if w.to_minute is not None else len(minutes))
            )
            data.append(
                {
                    "MetricName": UPLOAD_THROUGHPUT.name,
                    "Dimensions": site,
                    "Timestamp": at,
                    "Value": round(host_throughput(scenario, minute), 3),
                    "Unit": UPLOAD_THROUGHPUT.unit,
                }
            )
            data.append(
                {
                    "MetricName": FRAG_NEEDED.name,
                    "Dimensions": site,
                    "Timestamp": at,
                    "Value": frag,
                    "Unit": FRAG_NEEDED.unit,
                }
            )
    data.extend(host_counter_data(scenario, built.site.name, start=start))
    cloudwatch = clients.cloudwatch()
    for offset in range(0, len(data), _PUT_METRIC_BATCH):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[offset : offset + _PUT_METRIC_BATCH])  # type: ignore[arg-type]
    aws = aws_metric_data(scenario, built, start=start)
    for namespace in sorted({namespace for namespace, _ in aws}):
        batch_all = [datum for ns, datum in aws if ns == namespace]
        for offset in range(0, len(batch_all), _PUT_METRIC_BATCH):
            cloudwatch.put_metric_data(
                Namespace=namespace,
                MetricData=batch_all[offset : offset + _PUT_METRIC_BATCH],  # type: ignore[arg-type]
            )
    vpn_id = built.ids.get("vpn")
    if vpn_id:
        # AWS/VPN TunnelState: 1 up, 0 down, per tunnel and per connection (Site-to-Site VPN User Guide,
        # "Monitoring with CloudWatch").
        down = set(scenario.metrics.tunnel_down_minutes)
        tunnel = [
            {
                "MetricName": "TunnelState",
                "Dimensions": [{"Name": "VpnId", "Value": vpn_id}],
                "Timestamp": start + timedelta(minutes=minute),
                "Value": 0.0 if minute in down else 1.0,
            }
            for minute in minutes
        ]
        for offset in range(0, len(tunnel), _PUT_METRIC_BATCH):
            batch = tunnel[offset : offset + _PUT_METRIC_BATCH]
            cloudwatch.put_metric_data(Namespace="AWS/VPN", MetricData=batch)  # type: ignore[arg-type]


def aws_metric_data(
    scenario: Scenario, built: BuiltAccount, *, start: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """The metrics AWS publishes for the scenario's NAT gateways, load balancers and transit gateway
    attachments, every minute, as (namespace, datum): ``AWS/NATGateway`` by ``NatGatewayId``,
    ``AWS/NetworkELB`` by ``LoadBalancer`` (``net/NAME/ID``), ``AWS/TransitGateway`` by ``TransitGateway``
    and ``TransitGatewayAttachment`` and, summed over its attachments, by ``TransitGateway`` alone; each a
    count per minute (statistic Sum)."""
    duration = scenario.traffic.duration_minutes
    data: list[tuple[str, dict[str, Any]]] = []
    gateway_totals: dict[tuple[str, int], float] = {}
    for spec in scenario.metrics.aws:
        dimensions = _aws_dimensions(spec.namespace, spec.resource, built)
        for minute in range(duration):
            value = _window_value(spec.windows, minute, duration) or 0.0
            data.append((spec.namespace, _count_datum(spec.metric, dimensions, start, minute, value)))
            if spec.namespace == "AWS/TransitGateway":
                key = (spec.metric, minute)
                gateway_totals[key] = gateway_totals.get(key, 0.0) + value
    gateway = [{"Name": "TransitGateway", "Value": built.ids.get("tgw", "")}]
    data.extend(
        ("AWS/TransitGateway", _count_datum(metric, gateway, start, minute, value))
        for (metric, minute), value in gateway_totals.items()
    )
    return data


def _aws_dimensions(namespace: str, resource: str, built: BuiltAccount) -> list[dict[str, str]]:
    if namespace == "AWS/NATGateway":
        return [{"Name": "NatGatewayId", "Value": built.id("nat", resource)}]
    if namespace == "AWS/NetworkELB":
        return [{"Name": "LoadBalancer", "Value": built.id("nlb", resource)}]
    return [
        {"Name": "TransitGateway", "Value": built.ids["tgw"]},
        {"Name": "TransitGatewayAttachment", "Value": built.id("tgw-attach", resource)},
    ]


def _count_datum(
    metric: str, dimensions: list[dict[str, str]], start: datetime, minute: int, value: float
) -> dict[str, Any]:
    return {
        "MetricName": metric,
        "Dimensions": dimensions,
        "Timestamp": start + timedelta(minutes=minute),
        "Value": value,
        "Unit": "Count",
    }


def _put_agent_metrics(data: list[Any]) -> None:
    cloudwatch = clients.cloudwatch()
    for offset in range(0, len(data), _PUT_METRIC_BATCH):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[offset : offset + _PUT_METRIC_BATCH])


def _window_value(windows: Sequence[MetricWindowSpec], minute: int, duration: int) -> float | None:
    """The per-minute value of the windows covering ``minute`` (summed), or None when none covers it."""
    covering = [
        w.per_minute
        for w in windows
        if w.from_minute <= minute < (w.to_minute if w.to_minute is not None else duration)
    ]
    return sum(covering) if covering else None


def _datum(metric: MetricSpec, dims: list[dict[str, str]], value: float, at: datetime) -> dict[str, Any]:
    return {
        "MetricName": metric.name,
        "Dimensions": dims,
        "Timestamp": at,
        "Value": value,
        "Unit": metric.unit,
    }


def _busiest(
    series: dict[str, tuple[MetricWindowSpec, ...]], minute: int, duration: int, limit: int
) -> dict[str, float]:
    """The references that counted in ``minute``, the busiest ``limit`` of them (the agent's cap)."""
    counted = [(_window_value(windows, minute, duration) or 0.0, ref) for ref, windows in series.items()]
    busiest = sorted((c for c in counted if c[0] > 0), key=lambda c: (-c[0], c[1]))[:limit]
    return {ref: value for value, ref in busiest}


def _attributed_series(spec: HostCountersSpec, metric: MetricSpec) -> dict[str, tuple[MetricWindowSpec, ...]]:
    """The per-rule (per-qdisc) series whose sum a host total is, if the scenario gives them."""
    if metric is HOST_DROP_METRICS["firewall.dropped"]:
        return spec.firewall_rules
    if metric is HOST_DROP_METRICS["qdisc.dropped"]:
        return spec.qdiscs
    return {}


def host_counter_data(scenario: Scenario, site: str, *, start: datetime) -> list[dict[str, Any]]:
    """The host agents' drop counters and levels (``probe/host_drop_metrics.py``) as they publish them."""
    duration = scenario.traffic.duration_minutes
    data: list[dict[str, Any]] = []
    for spec in scenario.metrics.host_counters:
        # The agent's dimension order (sorted by name): see probe/agent.to_metric_data.
        dims = [{"Name": HOST_DIMENSION, "Value": spec.host}, {"Name": SITE_DIMENSION, "Value": site}]
        conntrack = spec.conntrack_used_percent is not None
        metrics = [
            m
            for key, m in HOST_DROP_METRICS.items()
            if (conntrack or not key.startswith("conntrack."))
            # An agent without CAP_NET_ADMIN cannot read the firewall's counters: it publishes none.
            and (spec.firewall_counters or not key.startswith("firewall."))
        ]
        levels = {m.name: m for m in HOST_GAUGE_METRICS.values() if m.name in spec.levels}
        for minute in range(duration):
            at = start + timedelta(minutes=minute)
            for per_reference, dimension, series, limit in (
                (HOST_FIREWALL_RULE_DROPS, RULE_DIMENSION, spec.firewall_rules, FIREWALL_RULES_PER_CYCLE),
                (QDISC_DROPS_BY_QDISC, QDISC_DIMENSION, spec.qdiscs, QDISCS_PER_CYCLE),
            ):
                for reference, dropped in _busiest(series, minute, duration, limit).items():
                    named = sorted([*dims, {"Name": dimension, "Value": reference}], key=lambda d: d["Name"])
                    data.append(_datum(per_reference, named, dropped, at))
            for metric in (*metrics, CONNTRACK_USED) if conntrack else metrics:
                if metric is CONNTRACK_USED:
                    used = spec.conntrack_used_percent
                    value = (
                        used if isinstance(used, int | float) else _window_value(used or (), minute, duration)
                    )
                else:
                    value = _window_value(spec.counts.get(metric.name, ()), minute, duration)
                    attributed = _attributed_series(spec, metric)
                    if attributed and metric.name not in spec.counts:
                        # The total is what the rules (or qdiscs) dropped, as the agent's reading sums it.
                        value = sum(_window_value(w, minute, duration) or 0.0 for w in attributed.values())
                data.append(_datum(metric, dims, value or 0.0, at))
            for name, metric in levels.items():
                level = _window_value(spec.levels[name], minute, duration)
                if level is not None:
                    data.append(_datum(metric, dims, level, at))
    return data


def _resource_id(built: BuiltAccount, name: str) -> str:
    if name in built.ids:
        return built.ids[name]
    matches = [value for key, value in built.ids.items() if key.endswith(f":{name}")]
    return matches[0] if matches else name


def write_change_records(
    scenario: Scenario, built: BuiltAccount, *, start: datetime, bucket: str, account: str
) -> str:
    """The scenario's AWS-side changes as a trail delivers them to S3 (CloudTrail record format, gzip JSON).

    Every scenario change is an EC2 API call, so its ``eventSource`` is EC2's, as CloudTrail writes it.
    """
    records = []
    for change in scenario.changes:
        at = start + timedelta(minutes=change.minute)
        records.append(
            {
                "eventVersion": "1.09",
                "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventSource": "ec2.amazonaws.com",
                "eventName": change.event_name,
                "awsRegion": scenario.region,
                "userIdentity": {"type": "IAMUser", "arn": change.actor},
                "resources": [{"ARN": _resource_id(built, r)} for r in change.resources],
                "requestParameters": {
                    key: _resource_id(built, value) if isinstance(value, str) else value
                    for key, value in change.request_parameters.items()
                },
                "eventID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scenario.name}/{change.minute}")),
                "recipientAccountId": account,
            }
        )
    prefix = f"trail/AWSLogs/{account}/CloudTrail/{scenario.region}/{start:%Y/%m/%d}"
    key = f"{prefix}/{account}_CloudTrail_{scenario.region}_{start:%Y%m%dT%H%MZ}_demo.json.gz"
    body = gzip.compress(json.dumps({"Records": records}).encode())
    clients.s3().put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/trail/"


def alarm_event(scenario: Scenario, built: BuiltAccount, *, start: datetime) -> dict[str, Any]:
    """Define the site's alarm as the CDK app does, set it to ALARM, and build EventBridge's event."""
    assert built.site is not None
    assert scenario.alarm.minute is not None
    spec = {m.name: m for m in (UPLOAD_THROUGHPUT, FRAG_NEEDED)}.get(scenario.alarm.metric, UPLOAD_THROUGHPUT)
    name = f"dropsleuth-{built.site.name}-{spec.name}"
    threshold = built.site.min_upload_mbps or spec.default_threshold or 0.0
    cloudwatch = clients.cloudwatch()
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        AlarmDescription=f"{spec.description} at {built.site.name}",
        Namespace=NAMESPACE,
        MetricName=spec.name,
        Dimensions=[{"Name": SITE_DIMENSION, "Value": built.site.name}],
        Statistic=spec.alarm_statistic,
        Period=spec.alarm_period_s,
        EvaluationPeriods=spec.alarm_datapoints,
        DatapointsToAlarm=spec.alarm_datapoints,
        Threshold=threshold,
        ComparisonOperator=spec.alarm_comparison or "LessThanThreshold",
        TreatMissingData=spec.treat_missing_data,
    )
    fired_at = start + timedelta(minutes=scenario.alarm.minute)
    reason = (
        f"Threshold Crossed: {spec.alarm_datapoints} datapoints were "
        f"{'less' if 'Less' in (spec.alarm_comparison or '') else 'greater'} than the threshold ({threshold})"
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    stamp = fired_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    # The shape EventBridge delivers for "CloudWatch Alarm State Change" (CloudWatch User Guide, "Alarm
    # events and EventBridge"); state time is the replay's, since moto does not evaluate alarms.
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": ALARM_DETAIL_TYPE,
        "source": "aws.cloudwatch",
        "account": alarm["AlarmArn"].split(":")[4],
        "time": fired_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": scenario.region,
        "resources": [alarm["AlarmArn"]],
        "detail": {
            "alarmName": alarm["AlarmName"],
            "state": {"value": alarm["StateValue"], "reason": alarm["StateReason"], "timestamp": stamp},
            "previousState": {"value": "OK", "reason": "Threshold Crossed", "timestamp": start.isoformat()},
            "configuration": {
                "description": alarm.get("AlarmDescription", ""),
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": alarm["Namespace"],
                                "name": alarm["MetricName"],
                                "dimensions": {d["Name"]: d["Value"] for d in alarm["Dimensions"]},
                            },
                            "period": alarm["Period"],
                            "stat": alarm["Statistic"],
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }


@contextmanager
def lambda_environment(values: dict[str, str]) -> Iterator[None]:
    """Set the function's environment as the CDK app would, and forget cached settings around the call."""
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

    quiet = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}
    wanted = {k: v for k, v in values.items() if k.startswith("DROPSLEUTH_")} | quiet
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    settings.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    from dropsleuth.observability import logger  # noqa: PLC0415

    level = logger.log_level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        settings.cache_clear()
        parameters.clear_caches()  # type: ignore[no-untyped-call]


def _received(queue_url: str) -> list[dict[str, str]]:
    if not queue_url:
        return []
    sqs = clients.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    received = []
    for message in messages:
        body = json.loads(message["Body"])
        received.append({"subject": body.get("Subject", ""), "message": body.get("Message", "")})
    return received
