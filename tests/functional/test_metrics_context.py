"""The metrics context read back from moto's CloudWatch: what was put is what the investigation sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from dropsleuth.aws.errors import AccessDeniedError
from dropsleuth.aws.metrics import MAX_QUERIES_PER_CALL, metric_queries, metrics_context
from dropsleuth.rules import onset

START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
MINUTES = 90
SITE, TARGET, VPN = "plant-7", "10.40.1.10", "vpn-0123456789abcdef0"
NAT, TGW = "nat-0123456789abcdef0", "tgw-0123456789abcdef0"


def at(minute: int) -> datetime:
    return START + timedelta(minutes=minute)


def put(cloudwatch: Any, namespace: str, name: str, dimensions: dict[str, str], values: list[float]) -> None:
    data = [
        {
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Timestamp": at(minute),
            "Value": value,
        }
        for minute, value in enumerate(values)
    ]
    for offset in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[offset : offset + 500])


@pytest.fixture
def cloudwatch(aws: None) -> Any:
    return boto3.client("cloudwatch", region_name="eu-west-1")


def test_every_series_is_read_back(cloudwatch: Any) -> None:
    throughput = [40.0 + (m % 3) for m in range(60)] + [1.5] * 20 + [41.0] * 10
    frag = [0.0] * MINUTES
    mtu = [1500.0] * 60 + [1406.0] * 30
    tunnel = [1.0] * 62 + [0.0, 1.0, 1.0, 0.0, 0.0] + [1.0] * 23
    nat_drops = [0.0] * 70 + [12.0] * 5 + [0.0] * 15
    blackhole = [0.0] * MINUTES
    put(cloudwatch, "DropSleuth", "UploadThroughputMbps", {"Site": SITE}, throughput)
    put(cloudwatch, "DropSleuth", "FragNeededCount", {"Site": SITE}, frag)
    put(cloudwatch, "DropSleuth", "PathMtu", {"Site": SITE, "Target": TARGET}, mtu)
    put(cloudwatch, "AWS/VPN", "TunnelState", {"VpnId": VPN}, tunnel)
    put(cloudwatch, "AWS/NATGateway", "PacketsDropCount", {"NatGatewayId": NAT}, nat_drops)
    put(cloudwatch, "AWS/TransitGateway", "PacketDropCountBlackhole", {"TransitGateway": TGW}, blackhole)
    # Another site's series must not leak into this one's.
    put(cloudwatch, "DropSleuth", "UploadThroughputMbps", {"Site": "plant-8"}, [99.0] * MINUTES)

    read = metrics_context(
        at(0),
        at(MINUTES),
        site=SITE,
        probe_targets=(TARGET,),
        vpn_connection_id=VPN,
        nat_gateway_ids=(NAT,),
        transit_gateway_ids=(TGW,),
        cloudwatch=cloudwatch,
    )

    assert [value for _, value in read.throughput] == throughput
    assert [t for t, _ in read.throughput] == [at(m) for m in range(MINUTES)]
    assert sum(v for _, v in read.frag_needed) == 0
    assert [v for _, v in read.path_mtu[TARGET]] == mtu
    assert [v for _, v in read.tunnel_state] == tunnel
    counters = {(c.namespace, c.metric, c.resource_id): c for c in read.drop_counters}
    assert counters[("AWS/NATGateway", "PacketsDropCount", NAT)].total == 60
    assert counters[("AWS/TransitGateway", "PacketDropCountBlackhole", TGW)].total == 0
    # Nothing was put for the no-route counter: read as an empty series, not an error.
    assert counters[("AWS/TransitGateway", "PacketDropCountNoRoute", TGW)].points == ()
    # And the rules over what was read: the collapse at minute 60, two flaps.
    assert onset.onset(read.throughput, read.frag_needed) == at(60)
    assert onset.tunnel_flaps(read.tunnel_state) == [at(62), at(65)]


def test_nothing_known_reads_nothing(cloudwatch: Any) -> None:
    assert metrics_context(at(0), at(MINUTES), cloudwatch=cloudwatch).queried == ()


def test_more_queries_than_one_call_takes_are_batched(cloudwatch: Any) -> None:
    tgws = [f"tgw-{index:017x}" for index in range(MAX_QUERIES_PER_CALL // 2 + 5)]
    put(cloudwatch, "AWS/TransitGateway", "PacketDropCountNoRoute", {"TransitGateway": tgws[-1]}, [3.0] * 10)
    calls: list[int] = []
    cloudwatch.meta.events.register(
        "before-parameter-build.cloudwatch.GetMetricData",
        lambda params, **_: calls.append(len(params["MetricDataQueries"])),
    )

    read = metrics_context(at(0), at(MINUTES), transit_gateway_ids=tgws, cloudwatch=cloudwatch)

    assert len(read.queried) == 2 * len(tgws)
    assert calls == [MAX_QUERIES_PER_CALL, 2 * len(tgws) - MAX_QUERIES_PER_CALL]
    totals = {(c.metric, c.resource_id): c.total for c in read.drop_counters}
    assert totals[("PacketDropCountNoRoute", tgws[-1])] == 30


def test_query_ids_are_valid_and_unique() -> None:
    queries = metric_queries(
        site=SITE,
        probe_targets=(TARGET, "s3.eu-west-1.amazonaws.com"),
        vpn_connection_id=VPN,
        nat_gateway_ids=(NAT, NAT),
        transit_gateway_ids=(TGW,),
    )
    ids = [q.query_id for q in queries]
    # site: throughput, frag-needed, retransmissions; per target: PathMtu, PathMtuBlackHole; VPN; NAT; 2 TGW
    assert len(ids) == len(set(ids)) == 11
    # GetMetricData: an Id starts with a lowercase letter, then letters, digits and underscores.
    assert all(i[0].islower() and i.replace("_", "").isalnum() for i in ids)


def test_access_denied_is_a_domain_error(cloudwatch: Any) -> None:
    from botocore.stub import Stubber

    with Stubber(cloudwatch) as stub:
        stub.add_client_error("get_metric_data", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(AccessDeniedError):
            metrics_context(at(0), at(MINUTES), site=SITE, cloudwatch=cloudwatch)
