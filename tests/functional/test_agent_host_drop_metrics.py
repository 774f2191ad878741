"""The agent publishes the host drop counters as deltas with dimensions Site and Host (moto CloudWatch)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

from dropsleuth.probe import agent, counters

FIXTURES = Path(__file__).parents[1] / "fixtures" / "host_counters"
BOOT_ID = "c37d7592-5d73-4c47-a1d2-f2ed22180add"


def _tree(tmp_path: Path, fixture: str) -> Path:
    root = tmp_path / "host"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(FIXTURES / fixture, root, symlinks=True)
    (root / "proc/sys/kernel/random").mkdir(parents=True, exist_ok=True)
    (root / "proc/sys/kernel/random/boot_id").write_text(BOOT_ID + "\n")
    return root


def _sum(name: str, host: str) -> float:
    answer = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "DropSleuth",
                        "MetricName": name,
                        # In the agent's (sorted) order: moto matches dimensions in order.
                        "Dimensions": [{"Name": "Host", "Value": host}, {"Name": "Site", "Value": "ingest"}],
                    },
                    "Period": 1,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=datetime.now(UTC) - timedelta(minutes=10),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
    )
    return sum(answer["MetricDataResults"][0]["Values"])


def test_the_listen_overflow_between_two_cycles_is_published_per_host(aws: None, tmp_path: Path) -> None:
    root = _tree(tmp_path, "listen_overflow_before")
    config = agent.AgentConfig(
        site="ingest", counters=True, spool=agent.SpoolConfig(path=str(tmp_path / "state" / "spool.jsonl"))
    )
    source = counters.CounterSource(proc=root / "proc", counting_rule=lambda: None)

    def between_cycles(_seconds: float) -> None:
        _tree(tmp_path, "listen_overflow_during")

    results = agent.run(config, cycles=2, interval_s=10, sleep=between_cycles, counter_source=source)

    assert [r.error for r in results] == [None, None]
    host = next(
        d["Value"]
        for m in boto3.client("cloudwatch").list_metrics(
            Namespace="DropSleuth", MetricName="TcpListenOverflows"
        )["Metrics"]
        for d in m["Dimensions"]
        if d["Name"] == "Host"
    )
    # The kernel counted 12 overflows in the namespace between the two captures.
    assert _sum("TcpListenOverflows", host) == 12
    assert _sum("TcpListenDrops", host) == 12
    assert _sum("IpReversePathFilterDrops", host) == 0
    # The namespace has only loopback: no NIC counter is published rather than a zero.
    listed = boto3.client("cloudwatch").list_metrics(Namespace="DropSleuth", MetricName="NicRxDropped")
    assert listed["Metrics"] == []
    # A captured tree is not this host: the listing commands (tc, ss, the firewall) are not mixed into it.
    for name in ("QdiscDrops", "HostFirewallDrops", "ListenBacklogOfFullestListener"):
        assert (
            boto3.client("cloudwatch").list_metrics(Namespace="DropSleuth", MetricName=name)["Metrics"] == []
        )
