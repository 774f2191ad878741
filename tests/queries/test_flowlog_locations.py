"""Every form of flow-log location reads the flow logs or fails loudly; downloads leave nothing behind."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dropsleuth import queries
from dropsleuth.aws.errors import InputError
from dropsleuth.flowlogs.synth import BlackHole, TrafficTimeline, synthesize, write_parquet
from tests.queries import flowlog_oracle as oracle

TIMELINE = TrafficTimeline(
    start=datetime(2026, 11, 9, 9, 0, tzinfo=UTC),
    duration_minutes=30,
    black_holes=(BlackHole(onset_minute=5),),
)
START, END = TIMELINE.start_utc, TIMELINE.end_utc
WINDOW = {"start": START, "end": END}
REGION_FOLDER = "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1"
FORMS = (
    "",
    "/AWSLogs",
    "/AWSLogs/",
    "/AWSLogs/aws-account-id=123456789012",
    "/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/",
    f"/{REGION_FOLDER}/",
)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return synthesize(TIMELINE)


@pytest.fixture
def bucket(aws, records) -> Any:
    import boto3

    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="flow-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    write_parquet(records, "s3://flow-logs", s3=s3)
    write_parquet(records, "s3://flow-logs/prefixed/vpc", s3=s3)
    return s3


@pytest.mark.parametrize("form", FORMS)
def test_every_s3_form_down_to_a_region_folder_reads_the_flow_logs(bucket, records, form, tmp_path) -> None:
    for root in ("s3://flow-logs", "s3://flow-logs/prefixed/vpc"):
        with queries.LocalEngine(root + form, cache_dir=tmp_path / "cache") as engine:
            rows = engine.run("rejects_timeline", WINDOW).rows
        assert rows
        assert rows == oracle.rejects_timeline(records, START, END), root + form


@pytest.mark.parametrize("form", FORMS)
def test_every_directory_form_down_to_a_region_folder_reads_the_flow_logs(records, form, tmp_path) -> None:
    write_parquet(records, tmp_path)
    with queries.LocalEngine(f"{tmp_path}{form}") as engine:
        rows = engine.run("rejects_timeline", WINDOW).rows
    assert rows
    assert rows == oracle.rejects_timeline(records, START, END)


def test_a_directory_holding_the_hour_folders_itself_reads_them(records, tmp_path) -> None:
    write_parquet(records, tmp_path / "copy")
    copied = tmp_path / "copy" / REGION_FOLDER
    flat = tmp_path / "flat"
    copied.rename(flat)
    with queries.LocalEngine(flat) as engine:
        assert engine.run("rejects_timeline", WINDOW).rows == oracle.rejects_timeline(records, START, END)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (
            "s3://flow-logs/elsewhere/",
            "s3://flow-logs/elsewhere/AWSLogs/aws-account-id=…/aws-service=vpcflowlogs/aws-region=…/",
        ),
        (
            "s3://flow-logs/AWSLogs/aws-account-id=210987654321/",
            "s3://flow-logs/AWSLogs/aws-account-id=210987654321/aws-service=vpcflowlogs/aws-region=…/",
        ),
        (
            f"s3://flow-logs/{REGION_FOLDER.replace('eu-west-1', 'us-east-1')}",
            f"s3://flow-logs/{REGION_FOLDER.replace('eu-west-1', 'us-east-1')}/",
        ),
    ],
)
def test_a_location_without_the_windows_files_fails_naming_where_it_looked(
    bucket, location, expected, tmp_path
) -> None:
    with (
        queries.LocalEngine(location, cache_dir=tmp_path) as engine,
        pytest.raises(queries.NoFlowLogsError) as e,
    ):
        engine.run("rejects_timeline", WINDOW)
    assert str(e.value).startswith("no flow-log files for 2026-11-09T09:00Z–2026-11-09T09:30Z")
    assert str(e.value).endswith(f"expected {expected}year=2026/month=11/day=09/hour=09/")


def test_a_window_whose_partitions_hold_no_file_fails_where_others_have_data(bucket) -> None:
    with queries.LocalEngine("s3://flow-logs/AWSLogs/") as engine:
        assert engine.run("rejects_timeline", WINDOW).rows
        later = {"start": START + timedelta(days=1), "end": END + timedelta(days=1)}
        with pytest.raises(
            queries.NoFlowLogsError, match=r"hour partitions 2026-11-10 09h to 2026-11-10 09h"
        ):
            engine.run("rejects_timeline", later)


@pytest.mark.parametrize(
    "location",
    [
        f"s3://flow-logs/{REGION_FOLDER}/year=2026/",
        "s3://flow-logs/AWSLogs/123456789012/vpcflowlogs/eu-west-1/",
        "s3://flow-logs/AWSLogs/aws-service=vpcflowlogs/",
    ],
)
def test_a_location_below_a_region_folder_or_outside_the_layout_is_refused(location) -> None:
    with pytest.raises(InputError) as caught:
        queries.LocalEngine(location)
    assert caught.value.field == "flow_logs"
    assert "not a folder of AWS's layout down to a Region" in str(caught.value)


def test_downloads_go_to_one_temporary_folder_that_closing_removes(
    bucket, records, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with queries.LocalEngine("s3://flow-logs/") as engine:
        engine.run("rejects_timeline", WINDOW)
        engine.run("rejects_timeline", {"start": START, "end": START + timedelta(minutes=10)})
        (folder,) = tmp_path.glob("dropsleuth-flowlogs-*")
        assert len(list(folder.rglob("*.parquet"))) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_engine_never_closed_removes_its_downloads_when_collected(bucket, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    engine = queries.LocalEngine("s3://flow-logs/")
    engine.run("rejects_timeline", WINDOW)
    assert list(tmp_path.glob("dropsleuth-flowlogs-*"))
    del engine
    assert list(tmp_path.iterdir()) == []


def test_a_given_cache_folder_is_kept(bucket, tmp_path: Path) -> None:
    with queries.LocalEngine("s3://flow-logs/", cache_dir=tmp_path / "cache") as engine:
        engine.run("rejects_timeline", WINDOW)
    assert len(list((tmp_path / "cache").rglob("*.parquet"))) == 1
