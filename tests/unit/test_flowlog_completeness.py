"""What makes an existing flow log complete for the queries: fields, traffic, S3, 1-minute aggregation,
Parquet in Hive-compatible per-hour partitions; what the endpoint does not report stays unknown."""

from __future__ import annotations

from typing import Any

import pytest

from dropsleuth.aws import flowlogs
from dropsleuth.flowlogs.schema import log_format

COMPLETE: dict[str, Any] = {
    "FlowLogId": "fl-0a1b2c3d4e5f60718",
    "ResourceId": "vpc-0a1b2c3d4e5f60718",
    "TrafficType": "ALL",
    "LogDestinationType": "s3",
    "LogDestination": "arn:aws:s3:::flow-logs",
    "LogFormat": log_format(),
    "MaxAggregationInterval": 60,
    "DestinationOptions": {
        "FileFormat": "parquet",
        "HiveCompatiblePartitions": True,
        "PerHourPartition": True,
    },
    "FlowLogStatus": "ACTIVE",
}


def existing(**changes: Any) -> flowlogs.ExistingFlowLog:
    raw = COMPLETE | changes
    return flowlogs._existing({k: v for k, v in raw.items() if v is not None})


def test_the_flow_log_enable_creates_is_complete_and_fully_known() -> None:
    log = existing()
    assert log.complete
    assert log.shortcomings() == []
    assert log.unknowns() == []
    assert (log.file_format, log.aggregation_interval_s) == ("parquet", 60)


def test_ten_minute_aggregation_is_incomplete_and_says_so() -> None:
    log = existing(MaxAggregationInterval=600)
    assert not log.complete
    assert log.shortcomings() == ["aggregation interval 600 s (60 s needed for throughput per minute)"]


@pytest.mark.parametrize(
    ("options", "lacking"),
    [
        (
            {"FileFormat": "plain-text", "HiveCompatiblePartitions": True, "PerHourPartition": True},
            "file format plain-text (the Athena table reads Parquet)",
        ),
        (
            {"FileFormat": "parquet", "HiveCompatiblePartitions": False, "PerHourPartition": True},
            "partitions not Hive-compatible (the table's projection reads year=/month=/day=/hour=)",
        ),
        (
            {"FileFormat": "parquet", "HiveCompatiblePartitions": True, "PerHourPartition": False},
            "daily partitions (the table's projection reads per-hour folders)",
        ),
    ],
)
def test_a_known_layout_other_than_the_tables_is_incomplete(options: dict[str, Any], lacking: str) -> None:
    log = existing(DestinationOptions=options)
    assert not log.complete
    assert log.shortcomings() == [lacking]
    assert log.unknowns() == []


def test_missing_destination_options_are_unknown_not_incomplete() -> None:
    # moto 5.2 drops DestinationOptions (docs/reference/aws-facts.md); AWS returns them for S3 delivery.
    log = existing(DestinationOptions=None)
    assert log.file_format == "unknown"
    assert log.complete
    assert log.shortcomings() == []
    assert log.unknowns() == ["file format and partitioning unknown (no DestinationOptions returned)"]


def test_missing_aggregation_interval_is_unknown_not_incomplete() -> None:
    log = existing(MaxAggregationInterval=None)
    assert log.complete
    assert log.unknowns() == ["aggregation interval unknown (no MaxAggregationInterval returned)"]


def test_every_shortcoming_is_listed_together() -> None:
    log = existing(
        TrafficType="REJECT",
        MaxAggregationInterval=600,
        LogFormat="${version} ${srcaddr}",
        DestinationOptions={"FileFormat": "plain-text", "HiveCompatiblePartitions": False,
                            "PerHourPartition": False},
    )  # fmt: skip
    lacking = log.shortcomings()
    assert len(lacking) == 6
    assert lacking[0].startswith("missing fields: account-id")
    assert "traffic type REJECT (ALL needed for throughput)" in lacking
    assert "aggregation interval 600 s (60 s needed for throughput per minute)" in lacking


def test_cloudwatch_delivery_is_judged_on_its_destination_not_on_s3_file_options() -> None:
    log = existing(
        LogDestinationType="cloud-watch-logs",
        LogDestination=None,
        LogGroupName="vpc",
        DestinationOptions=None,
    )
    assert log.shortcomings() == ["delivered to cloud-watch-logs, not S3 (Athena reads S3)"]
    assert log.unknowns() == []
