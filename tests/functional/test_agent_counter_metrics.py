"""The agent's counter and upload metrics end to end (moto CloudWatch + S3): FragNeededCount and
TcpRetransSegs as deltas of the counters it read, UploadThroughputMbps from a real multipart upload; and the
counter snapshot kept between one-shot runs (the systemd timer's ``probe run --once``)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from dropsleuth.probe import agent, counters
from tests.procfs import BOOT_ID, Readings, write_proc
from tests.support import run_dropsleuth

BUCKET = "site-upload-health"


def _config(tmp_path: Path, *, upload: bool = False) -> agent.AgentConfig:
    return agent.AgentConfig(
        site="branch-7",
        counters=True,
        upload=agent.UploadConfig(bucket=BUCKET, size="6MiB", every_cycles=2) if upload else None,
        spool=agent.SpoolConfig(path=str(tmp_path / "state" / "spool.jsonl")),
    )


def _source(proc: Path) -> counters.CounterSource:
    # No exact counting rule on this fixture host: frag_needed is /proc/net/snmp's approximation.
    return counters.CounterSource(proc=proc, counting_rule=lambda: None)


def _series(name: str) -> list[float]:
    """Every value of ``name`` published with exactly the Site dimension, oldest first."""
    cloudwatch = boto3.client("cloudwatch")
    listed = cloudwatch.list_metrics(Namespace="DropSleuth", MetricName=name)["Metrics"]
    assert [m["Dimensions"] for m in listed] in ([], [[{"Name": "Site", "Value": "branch-7"}]])
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "DropSleuth",
                        "MetricName": name,
                        "Dimensions": [{"Name": "Site", "Value": "branch-7"}],
                    },
                    "Period": 1,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=datetime.now(UTC) - timedelta(minutes=10),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        ScanBy="TimestampAscending",
    )
    return list(answer["MetricDataResults"][0]["Values"])


def test_two_cycles_publish_counter_deltas_and_the_upload_throughput(aws: None, tmp_path: Path) -> None:
    boto3.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    proc = write_proc(tmp_path / "proc", Readings(in_type3=40, pkt_too_bigs=1, retrans=1000))

    def between_cycles(_seconds: float) -> None:
        # What the kernel counted during the interval: 5 ICMP type 3, 2 Packet Too Big, 11 retransmissions.
        write_proc(proc, Readings(in_type3=45, pkt_too_bigs=3, retrans=1011))

    results = agent.run(
        _config(tmp_path, upload=True),
        cycles=2,
        interval_s=10,
        sleep=between_cycles,
        counter_source=_source(proc),
    )
    assert [(r.pending, r.error) for r in results] == [(0, None), (0, None)]
    assert _series("FragNeededCount") == [7.0]
    assert _series("TcpRetransSegs") == [11.0]
    (mbps,) = _series("UploadThroughputMbps")  # every_cycles=2: the first cycle only
    assert mbps > 0
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=BUCKET)  # test object deleted
    state = json.loads((tmp_path / "state" / agent.STATE_FILE).read_text())
    assert state["cycle"] == 2
    assert state["counters"]["values"]["tcp_retrans_segs"] == 1011
    assert state["counters"]["boot_id"] == BOOT_ID


def test_one_shot_runs_publish_deltas_from_the_saved_snapshot(aws: None, tmp_path: Path) -> None:
    config = _config(tmp_path)
    proc = write_proc(tmp_path / "proc", Readings(in_type3=10, retrans=50))
    agent.run(config, cycles=1, counter_source=_source(proc))
    assert _series("FragNeededCount") == []  # nothing to compare the first reading with
    write_proc(proc, Readings(in_type3=13, retrans=54))
    agent.run(config, cycles=1, counter_source=_source(proc))
    assert _series("FragNeededCount") == [3.0]
    assert _series("TcpRetransSegs") == [4.0]


def test_a_snapshot_from_before_a_reboot_is_discarded(aws: None, tmp_path: Path) -> None:
    config = _config(tmp_path)
    proc = write_proc(tmp_path / "proc", Readings(in_type3=900, retrans=70_000))
    agent.run(config, cycles=1, counter_source=_source(proc))
    # After the reboot the counters start again from zero, under a new boot id.
    write_proc(proc, Readings(in_type3=2, retrans=9, boot_id="5d1e0f7a-0000-4000-8000-000000000001"))
    agent.run(config, cycles=1, counter_source=_source(proc))
    assert _series("FragNeededCount") == []  # no delta across the reboot
    write_proc(proc, Readings(in_type3=6, retrans=12, boot_id="5d1e0f7a-0000-4000-8000-000000000001"))
    agent.run(config, cycles=1, counter_source=_source(proc))
    assert _series("FragNeededCount") == [4.0]


def test_a_snapshot_older_than_three_intervals_is_discarded(
    aws: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dropsleuth.agent")
    config = _config(tmp_path)
    proc = write_proc(tmp_path / "proc", Readings(in_type3=1))
    agent.run(config, cycles=1, counter_source=_source(proc))
    path = tmp_path / "state" / agent.STATE_FILE
    saved = json.loads(path.read_text())
    saved["counters"]["taken_at"] = time.time() - 4 * config.interval_s  # the timer missed three runs
    path.write_text(json.dumps(saved))
    write_proc(proc, Readings(in_type3=500))
    agent.run(config, cycles=1, counter_source=_source(proc))
    assert _series("FragNeededCount") == []
    assert "previous counter snapshot discarded" in caplog.text


def test_a_damaged_state_file_starts_afresh(aws: None, tmp_path: Path) -> None:
    config = _config(tmp_path)
    path = tmp_path / "state" / agent.STATE_FILE
    path.parent.mkdir(parents=True)
    path.write_text('{"cycle": 3, "counters": {"taken_at"')  # torn write from an older version
    proc = write_proc(tmp_path / "proc", Readings(in_type3=1))
    assert agent.run(config, cycles=1, counter_source=_source(proc))[0].error is None
    assert json.loads(path.read_text())["counters"]["values"]["icmp_in_type3"] == 1
    assert not list(path.parent.glob("*.tmp"))  # written through a temporary file, renamed


def test_probe_run_once_twice_publishes_counter_metrics(moto_endpoint: str, tmp_path: Path) -> None:
    """The timer's unit runs ``probe run --once``; the second run has the first one's snapshot."""
    config = tmp_path / "site.yaml"
    config.write_text(f"site: timer-site\ncounters: true\nspool: {{path: {tmp_path / 'spool.jsonl'}}}\n")

    def once() -> set[str]:
        done = run_dropsleuth(moto_endpoint, "probe", "run", "--config", str(config), "--once", timeout=60)
        assert done.returncode == 0, done.stderr
        listed = boto3.client("cloudwatch", endpoint_url=moto_endpoint).list_metrics(Namespace="DropSleuth")
        return {
            m["MetricName"]
            for m in listed["Metrics"]
            if m["Dimensions"] == [{"Name": "Site", "Value": "timer-site"}]
        }

    # Every cycle reports how many of its parts failed (none here); counter deltas start with the second.
    assert once() == {"AgentCycleErrors"}
    assert once() == {"AgentCycleErrors", "FragNeededCount", "TcpRetransSegs"}
    assert (tmp_path / agent.STATE_FILE).exists()
