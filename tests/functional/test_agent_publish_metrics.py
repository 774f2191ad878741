"""The publish_metrics Lambda's core over real flow-log SQL (DuckDB), and its handler on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from dropsleuth import queries
from dropsleuth.aws import clients
from dropsleuth.aws.permissions import record_api_calls
from dropsleuth.flowlogs.synth import BlackHole, TrafficTimeline, synthesize, write_parquet
from dropsleuth.handlers import publish_metrics
from dropsleuth.sites import Site, SiteRegistry
from tests.queries import flowlog_oracle as oracle
from tests.support import seed_athena_results

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SITE = Site(
    name="branch-12", cidrs=("192.168.50.0/24",), upload_destination="S3", probe_targets=("127.0.0.1",)
)


@pytest.fixture(scope="module")
def flow_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], Path]:
    timeline = TrafficTimeline(
        start=START,
        duration_minutes=40,
        seed=3,
        site_hosts=("192.168.50.10", "192.168.50.11"),
        black_holes=(BlackHole(onset_minute=15, recovery_minute=30),),
    )
    records = synthesize(timeline)
    root = tmp_path_factory.mktemp("flowlogs")
    write_parquet(records, root)
    return records, root


def test_site_datapoints_match_the_flow_logs(flow_logs) -> None:
    records, root = flow_logs
    start, end = START + timedelta(minutes=5), START + timedelta(minutes=35)
    points, problems = publish_metrics.site_datapoints(SITE, queries.LocalEngine(root), start=start, end=end)
    assert problems == []
    uploads = {p.timestamp: p.value for p in points if p.name == "UploadThroughputMbps"}
    wanted = oracle.upload_throughput(records, start, end, "192.168.50.0/24", destination_service="S3")
    assert uploads == pytest.approx({row["minute"].timestamp(): row["mbps"] for row in wanted})
    rejects = {p.timestamp: p.value for p in points if p.name == "RejectedIcmpCount"}
    wanted_rejects = oracle.icmp_rejects(records, start, end, "192.168.50.0/24")
    assert rejects == {row["minute"].timestamp(): row["rejects"] for row in wanted_rejects}
    assert rejects  # the black hole's rejected ICMP is there
    # No path-MTU probe from a function outside the VPC: it could not reach the site's private targets.
    assert {p.name for p in points} == {"UploadThroughputMbps", "RejectedIcmpCount"}


def test_handler_publishes_what_the_site_alarms_watch_and_names_a_missing_registry(
    flow_logs, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, root = flow_logs
    request = publish_metrics.PublishRequest.model_validate(
        json.loads(Path("events/publish_metrics.json").read_text())
    )
    assert request.time == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    summary = publish_metrics.publish(request, SiteRegistry(sites=(SITE,)), queries.LocalEngine(root))
    assert summary["ok"] is True
    assert summary["window"]["end"] == "2026-11-20T09:20:00+00:00"
    assert summary["published"]["branch-12"] > 0
    # The alarms the CDK app creates watch namespace DropSleuth with exactly the Site dimension
    listed = clients.cloudwatch().list_metrics(Namespace="DropSleuth", MetricName="UploadThroughputMbps")
    assert [m["Dimensions"] for m in listed["Metrics"]] == [[{"Name": "Site", "Value": "branch-12"}]]
    stats = clients.cloudwatch().get_metric_statistics(
        Namespace="DropSleuth",
        MetricName="UploadThroughputMbps",
        Dimensions=[{"Name": "Site", "Value": "branch-12"}],
        StartTime=START,
        EndTime=START + timedelta(hours=1),
        Period=60,
        Statistics=["Average"],
    )
    assert len(stats["Datapoints"]) == summary["published"]["branch-12"] - len(
        clients.cloudwatch().get_metric_statistics(
            Namespace="DropSleuth",
            MetricName="RejectedIcmpCount",
            Dimensions=[{"Name": "Site", "Value": "branch-12"}],
            StartTime=START,
            EndTime=START + timedelta(hours=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
    )
    for key in ("DROPSLEUTH_SITES_PARAMETER", "DROPSLEUTH_SITES_FILE"):
        monkeypatch.delenv(key, raising=False)
    publish_metrics.settings.cache_clear()
    monkeypatch.setenv("DROPSLEUTH_ATHENA_WORKGROUP", "wg")
    monkeypatch.setenv("DROPSLEUTH_ATHENA_DATABASE", "db")
    try:
        answer = publish_metrics.handler({}, _Context())
    finally:
        publish_metrics.settings.cache_clear()
    assert answer["ok"] is False
    assert answer["error"]["field"] == "sites"


class _Context:
    function_name = "publish_metrics"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:publish_metrics"
    aws_request_id = "req-1"


def test_the_handler_calls_only_declared_actions(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduled run against moto: registry from SSM, both queries on Athena, PutMetricData."""
    registry = {"sites": [SITE.model_dump(mode="json")]}
    boto3.client("ssm").put_parameter(Name="/DropSleuth/sites", Value=json.dumps(registry), Type="String")
    boto3.client("athena").create_work_group(
        Name="wg", Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/"}}
    )
    seed_athena_results(  # upload_throughput, then icmp_rejects: moto answers queries in order
        [["2026-11-20 09:12:00.000 UTC", "24.5", "183750000", "130000", "4"]],
        [("minute", "timestamp with time zone"), ("mbps", "double"), ("bytes", "bigint"),
         ("packets", "bigint"), ("flows", "bigint")],
    )  # fmt: skip
    seed_athena_results(
        [["2026-11-20 09:12:00.000 UTC", "3", "12", "1"]],
        [("minute", "timestamp with time zone"), ("rejects", "bigint"), ("packets", "bigint"),
         ("senders", "bigint")],
    )  # fmt: skip
    for key, value in {
        "DROPSLEUTH_SITES_PARAMETER": "/DropSleuth/sites",
        "DROPSLEUTH_ATHENA_WORKGROUP": "wg",
        "DROPSLEUTH_ATHENA_DATABASE": "db",
        "DROPSLEUTH_ATHENA_OUTPUT": "s3://results/",
    }.items():
        monkeypatch.setenv(key, value)
    publish_metrics.settings.cache_clear()
    clients.reset()
    try:
        with record_api_calls() as recorder:
            answer = publish_metrics.handler(
                json.loads(Path("events/publish_metrics.json").read_text()), _Context()
            )
    finally:
        publish_metrics.settings.cache_clear()
    assert answer["ok"] is True, answer
    assert answer["published"]["branch-12"] >= 2
    assert {"ssm:GetParameter", "athena:StartQueryExecution", "cloudwatch:PutMetricData"} <= recorder.actions
    assert recorder.actions <= publish_metrics.FUNCTION.actions, (
        recorder.actions - publish_metrics.FUNCTION.actions
    )
