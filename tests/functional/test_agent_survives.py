"""The agent outlives what breaks one cycle (moto CloudWatch): a full spool disk, a hung ``nft``, a bad
config value at load. Each failure is logged, counted in ``AgentCycleErrors``, and the agent goes on."""

from __future__ import annotations

import errno
import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from dropsleuth.aws.errors import InputError
from dropsleuth.probe import agent, counters
from tests.procfs import Readings, write_proc

SITE = "branch-9"


def _host() -> dict[str, Any]:
    return {"interfaces": {"e0": {"mtu": 1500, "up": True, "addresses": []}}, "default_route": ["e0"]}


def _published(name: str) -> list[list[dict[str, str]]]:
    listed = boto3.client("cloudwatch").list_metrics(Namespace="DropSleuth", MetricName=name)["Metrics"]
    return [m["Dimensions"] for m in listed]


def _values(name: str) -> list[float]:
    cloudwatch = boto3.client("cloudwatch")
    answer = cloudwatch.get_metric_statistics(
        Namespace="DropSleuth",
        MetricName=name,
        Dimensions=[{"Name": "Site", "Value": SITE}],
        StartTime=datetime.now(UTC) - timedelta(minutes=10),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    return [p["Sum"] for p in answer["Datapoints"]]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (writes fail with ENOSPC)")
def test_a_full_spool_disk_sends_the_cycle_directly_and_the_agent_goes_on(
    aws: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dropsleuth.agent")
    # Given a spool on a device where every write fails with ENOSPC (the kernel's /dev/full)
    assert stat.S_ISCHR(Path("/dev/full").stat().st_mode)
    spool = tmp_path / "spool.jsonl"
    spool.symlink_to("/dev/full")
    with pytest.raises(OSError, match="No space left") as full:
        spool.write_text("x")
    assert full.value.errno == errno.ENOSPC
    config = agent.AgentConfig(site=SITE, counters=False, spool=agent.SpoolConfig(path=str(spool)))

    # When the agent runs two cycles
    results = agent.run(config, cycles=2, interval_s=10, sleep=lambda _s: None, read_interfaces=_host)

    # Then each cycle's points were sent without the spool, and the disk's failure is in the journal
    assert [(r.sent > 0, r.pending, r.error) for r in results] == [(True, 0, None), (True, 0, None)]
    published = _published("InterfaceMtu")
    assert published
    assert all(
        d == [{"Name": "Interface", "Value": "e0"}, {"Name": "Site", "Value": SITE}] for d in published
    )
    assert "not writable" in caplog.text
    assert "No space left on device" in caplog.text


def test_a_hung_nft_is_a_counted_failure_and_the_rest_of_the_cycle_is_published(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dropsleuth.agent")
    # Given an nft that never answers (first on PATH), and a short command timeout
    tools = tmp_path / "bin"
    tools.mkdir()
    nft = tools / "nft"
    nft.write_text("#!/bin/sh\nexec sleep 30\n")
    nft.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(counters, "COMMAND_TIMEOUT_S", 0.3)
    proc = write_proc(tmp_path / "proc", Readings(in_type3=1))
    config = agent.AgentConfig(
        site=SITE, counters=True, spool=agent.SpoolConfig(path=str(tmp_path / "spool.jsonl"))
    )

    # When the agent runs a cycle whose counter read asks nft for the exact counting rule
    (result,) = agent.run(
        config, cycles=1, counter_source=counters.CounterSource(proc=proc), read_interfaces=_host
    )

    # Then the cycle is published, with the failure counted and the interface metrics in it
    assert result.error is None
    assert _values("AgentCycleErrors") == [1.0]
    assert _published("InterfaceMtu")
    assert "nft" in caplog.text
    assert "timed out after 0.3 s" in caplog.text


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("site: s\nupload: {bucket: b-1, size: 16 parsecs}\n", "upload.size"),
        ("site: s\ninterval_s: 5\n", "interval_s"),
        ("site: s\ntargets: [{address: '10.0.0.1 10.0.0.2'}]\n", "targets.0.address"),
        ("site: 'a site'\n", "site"),
        ("site: s\nspool: {max_bytes: 10}\n", "spool.max_bytes"),
    ],
)
def test_a_bad_config_value_stops_the_agent_at_load_naming_the_field(
    tmp_path: Path, document: str, field: str
) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(document)
    with pytest.raises(InputError) as raised:
        agent.load_config(path)
    assert raised.value.field == field
    assert field in str(raised.value)
