"""The agent's publishing path against moto_server: CloudWatch down, then back; every point once."""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from dropsleuth.probe import agent
from dropsleuth.probe.spool import Datapoint, Spool
from tests.support import run_dropsleuth


def _dead_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


def _client(endpoint: str) -> object:
    # One attempt: the spool, not botocore, retries across cycles.
    return boto3.client("cloudwatch", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))


def _points(start: float, count: int, label: str) -> list[Datapoint]:
    return [
        Datapoint("PathMtu", 1400.0 + i, "Bytes", start + 60 * i, {"Site": "s1", "Target": label})
        for i in range(count)
    ]


def _published(endpoint: str, label: str, start: float, minutes: int) -> dict[datetime, tuple[float, float]]:
    answer = boto3.client("cloudwatch", endpoint_url=endpoint).get_metric_statistics(
        Namespace="DropSleuth",
        MetricName="PathMtu",
        Dimensions=[{"Name": "Site", "Value": "s1"}, {"Name": "Target", "Value": label}],
        StartTime=datetime.fromtimestamp(start, UTC) - timedelta(minutes=1),
        EndTime=datetime.fromtimestamp(start, UTC) + timedelta(minutes=minutes + 1),
        Period=60,
        Statistics=["SampleCount", "Maximum"],
    )
    return {p["Timestamp"]: (p["SampleCount"], p["Maximum"]) for p in answer["Datapoints"]}


def test_spool_survives_an_outage_and_delivers_each_point_once(moto_endpoint: str, tmp_path: Path) -> None:
    config = agent.AgentConfig(site="s1", spool=agent.SpoolConfig(path=str(tmp_path / "spool.jsonl")))
    start = (time.time() // 60 - 30) * 60  # whole minutes, half an hour ago: timestamps must survive
    down = _client(_dead_endpoint())
    early, late = _points(start, 3, "t"), _points(start + 180, 2, "t")
    first = agent.publish(config, early, cloudwatch=down)  # type: ignore[arg-type]
    second = agent.publish(config, late, cloudwatch=down)  # type: ignore[arg-type]
    assert (first.sent, first.pending) == (0, 3)
    assert first.error
    assert (second.sent, second.pending) == (0, 5)
    back = agent.publish(config, [], cloudwatch=_client(moto_endpoint))  # type: ignore[arg-type]
    assert (back.sent, back.pending, back.error) == (5, 0, None)
    again = agent.publish(config, [], cloudwatch=_client(moto_endpoint))  # type: ignore[arg-type]
    assert again.sent == 0
    published = _published(moto_endpoint, "t", start, 5)
    expected = {datetime.fromtimestamp(p.timestamp, UTC): (1.0, p.value) for p in early + late}
    assert published == expected


def test_a_failure_mid_flush_keeps_exactly_the_unsent_batches(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    points = _points(time.time() - 600, 7, "x")
    spool.append(points)
    delivered: list[str] = []

    def flaky(batch: object) -> None:
        if len(delivered) >= 3:
            raise ConnectionError("endpoint went away")
        delivered.extend(p.id for p in batch)  # type: ignore[attr-defined]

    result = spool.flush(flaky, batch_size=3)
    assert (result.sent, result.pending) == (3, 4)
    assert [p.id for p in spool.pending()] == [p.id for p in points[3:]]
    spool.flush(lambda batch: delivered.extend(p.id for p in batch), batch_size=3)
    assert delivered == [p.id for p in points]
    assert spool.pending() == []


def test_size_bound_drops_the_oldest_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    one = _points(time.time(), 1, "x")[0]
    line = len(__import__("json").dumps(one.__dict__, separators=(",", ":"))) + 1
    spool = Spool(tmp_path / "spool.jsonl", max_bytes=max(4096, line * 10))
    points = _points(time.time() - 3600, 40, "x")
    with caplog.at_level(logging.WARNING):
        dropped = sum(spool.append([p]) for p in points)
    kept = spool.pending()
    assert dropped == len(points) - len(kept) > 0
    assert [p.id for p in kept] == [p.id for p in points[-len(kept) :]]  # the newest survive
    assert (tmp_path / "spool.jsonl").stat().st_size <= spool.max_bytes
    assert "spool full" in caplog.text


def test_points_too_old_for_cloudwatch_are_dropped_not_sent(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    now = time.time()
    spool.append([*_points(now - 15 * 24 * 3600, 1, "old"), *_points(now - 60, 1, "new")])
    sent: list[Datapoint] = []
    result = spool.flush(sent.extend, batch_size=10, now=now)
    assert [p.dimensions["Target"] for p in sent] == ["new"]
    assert result.dropped == 1


def test_probe_run_cli_publishes_one_cycle(moto_endpoint: str, tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        "site: cli-site\n"
        "expected_mtus: {lo: 1500}\n"
        "counters: false\n"
        f"spool: {{path: {tmp_path / 'spool.jsonl'}}}\n"
    )
    done = run_dropsleuth(moto_endpoint, "probe", "run", "--config", str(config), "--once", timeout=60)
    assert done.returncode == 0, done.stderr
    metrics = boto3.client("cloudwatch", endpoint_url=moto_endpoint).list_metrics(Namespace="DropSleuth")
    names = {
        (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
        for m in metrics["Metrics"]
    }
    assert ("InterfaceMtuMismatch", (("Interface", "lo"), ("Site", "cli-site"))) in names


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("site: x\ninterval_s: 1\n")
    done = run_dropsleuth(None, "probe", "run", "--config", str(config), "--once", timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "interval_s" in done.stderr


def test_more_than_one_call_of_points_goes_in_batches_within_the_limits(aws: None, tmp_path: Path) -> None:
    """1,234 spooled points: PutMetricData calls of at most 500 points and 1 MB, every point once."""
    config = agent.AgentConfig(site="s1", spool=agent.SpoolConfig(path=str(tmp_path / "spool.jsonl")))
    start = (time.time() // 60 - 700) * 60
    # Two targets, one point per target and minute: 617 minutes of both, each with its own value.
    points = [
        Datapoint(
            "PathMtu", float(1000 + i), "Bytes", start + 60 * (i // 2), {"Site": "s1", "Target": f"t{i % 2}"}
        )
        for i in range(1234)
    ]
    down = _client(_dead_endpoint())
    assert agent.publish(config, points, cloudwatch=down).pending == 1234  # type: ignore[arg-type]
    cloudwatch = boto3.client("cloudwatch")
    calls: list[tuple[int, int]] = []
    counts: list[int] = []

    def count(params: dict, **_: object) -> None:
        counts.append(len(params["MetricData"]))

    def size(request: object, **_: object) -> None:
        body = request.body  # type: ignore[attr-defined]
        calls.append((counts[-1], len(body if isinstance(body, bytes) else str(body).encode())))

    cloudwatch.meta.events.register("before-parameter-build.cloudwatch.PutMetricData", count)
    cloudwatch.meta.events.register("before-send.cloudwatch.PutMetricData", size)
    result = agent.publish(config, [], cloudwatch=cloudwatch)
    assert (result.sent, result.pending, result.error) == (1234, 0, None)
    assert [n for n, _ in calls] == [500, 500, 234]
    assert all(body <= 1_000_000 for _, body in calls)
    assert agent.MAX_DATA_PER_CALL * max(body / n for n, body in calls) < 1_000_000
    for target in ("t0", "t1"):
        answer = cloudwatch.get_metric_statistics(
            Namespace="DropSleuth",
            MetricName="PathMtu",
            Dimensions=[{"Name": "Site", "Value": "s1"}, {"Name": "Target", "Value": target}],
            StartTime=datetime.fromtimestamp(start, UTC) - timedelta(minutes=1),
            EndTime=datetime.fromtimestamp(start, UTC) + timedelta(minutes=620),
            Period=60,
            Statistics=["SampleCount", "Maximum"],
        )
        published = {p["Timestamp"]: (p["SampleCount"], p["Maximum"]) for p in answer["Datapoints"]}
        expected = {
            datetime.fromtimestamp(p.timestamp, UTC): (1.0, p.value)
            for p in points
            if p.dimensions["Target"] == target
        }
        assert published == expected
    assert agent.publish(config, [], cloudwatch=cloudwatch).sent == 0


def test_the_same_endpoint_stopped_and_restarted_gets_every_point_once(tmp_path: Path) -> None:
    """A moto server on a fixed port goes away mid-run and comes back on the same port."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    config = agent.AgentConfig(site="s1", spool=agent.SpoolConfig(path=str(tmp_path / "spool.jsonl")))
    client = _client(endpoint)  # one client, one endpoint, for the whole run
    start = (time.time() // 60 - 40) * 60
    before, during, after = _points(start, 2, "r"), _points(start + 120, 3, "r"), _points(start + 300, 2, "r")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        assert agent.publish(config, before, cloudwatch=client).sent == 2  # type: ignore[arg-type]
    finally:
        server.stop()
    outage = [agent.publish(config, [p], cloudwatch=client) for p in during]  # type: ignore[arg-type]
    assert [(r.sent, r.pending) for r in outage] == [(0, 1), (0, 2), (0, 3)]
    assert all(r.error for r in outage)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        back = agent.publish(config, after, cloudwatch=client)  # type: ignore[arg-type]
        assert (back.sent, back.pending, back.error) == (5, 0, None)
        assert agent.publish(config, [], cloudwatch=client).sent == 0  # type: ignore[arg-type]
        published = _published(endpoint, "r", start, 7)
    finally:
        server.stop()
    expected = {datetime.fromtimestamp(p.timestamp, UTC): (1.0, p.value) for p in before + during + after}
    assert published == expected


def test_a_config_that_is_not_yaml_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("site: x\ntargets: [unclosed\n")
    done = run_dropsleuth(None, "probe", "run", "--config", str(config), "--once", timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "is not valid YAML: line 3, column 1" in done.stderr
