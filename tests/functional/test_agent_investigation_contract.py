"""One contract, both sides: what the site agent publishes is what the investigation reads (moto).

The agent's own code (``probe.agent``, ``probe.changelog``) writes; the investigation's own readers
(``aws.metrics``, ``steps.path``, ``aws.site_changes``) read, with only the site registry's knowledge (the
site's name, ``probe_targets`` addresses, ``expected_mtus``).
"""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from dropsleuth.aws.metrics import metrics_context
from dropsleuth.aws.site_changes import ChangeStoreMissingError, site_change_records
from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.metrics_catalog import change_log_group
from dropsleuth.probe import agent, pmtu
from dropsleuth.probe.changelog import ChangeLogWriter
from dropsleuth.rules.pmtu_verdict import PathVerdict, PmtuVerdict
from dropsleuth.sites import Site
from dropsleuth.steps.path import _interface_mtus

SITE = "lab-site"
TARGET = "10.99.3.2"


def _black_hole(target: str, settings: pmtu.ProbeSettings) -> pmtu.PmtuResult:
    verdict = PmtuVerdict(PathVerdict.BLACK_HOLE, 1500, 1500, 1501, explanation="1501 vanishes")
    return pmtu.PmtuResult(target, socket.AF_INET, settings.mode, "e0", 9000, verdict, (), 1, 0.1)


def _host(mtu: int) -> dict[str, Any]:
    return {
        "interfaces": {"e0": {"mtu": mtu, "up": True, "addresses": ["10.99.1.1/24"]}},
        "default_route": ["e0"],
    }


def _config(tmp_path: Path) -> agent.AgentConfig:
    return agent.AgentConfig(
        site=SITE,
        host="edge-1",
        expected_mtus={"e0": 1500},
        # The display name is the agent's own; the registry knows the address.
        targets=(agent.TargetConfig(address=TARGET, name="cloud"),),
        counters=False,
        spool=agent.SpoolConfig(path=str(tmp_path / "spool.jsonl")),
    )


def _context(window: Window) -> InvestigationContext:
    site = Site(name=SITE, expected_mtus={"e0": 1500}, probe_targets=(TARGET,))
    return InvestigationContext(
        vpc_id="vpc-1", source=Endpoint(cidr="10.99.1.0/24"), destination=Endpoint(ip=TARGET), window=window,
        site=site,
    )  # fmt: skip


def test_what_the_agent_measured_is_what_the_investigation_reads(aws: None, tmp_path: Path) -> None:
    # Given two agent cycles: e0 at 1500, then at 9000 with the target a black hole
    config = _config(tmp_path)
    state = agent.AgentState()
    start = time.time() - 600
    hosts = iter([_host(1500), _host(9000)])
    for offset in (0, 60):
        points = agent.collect(
            config,
            state,
            probe=_black_hole,
            now=lambda offset=offset: start + offset,  # type: ignore[misc]
            read_interfaces=lambda: next(hosts),
        )
        assert agent.publish(config, agent.with_site_rollups(points)).error is None
        assert agent.send_changes(state, ChangeLogWriter(SITE, "edge-1")) == (1 if offset else 0)
    window = Window(
        start=datetime.fromtimestamp(start - 60, tz=UTC), end=datetime.fromtimestamp(start + 180, tz=UTC)
    )

    # When the investigation reads with the registry's addresses, names and expectations
    read = metrics_context(window.start, window.end, site=SITE, probe_targets=(TARGET,))
    measured, unread = _interface_mtus(_context(window), "DropSleuth")
    changes = site_change_records(SITE, window.start, window.end)

    # Then it finds the agent's verdict toward the target, the interface's MTUs and the change
    assert [v for _, v in read.path_mtu[TARGET]] == [1500.0, 1500.0]
    assert [v for _, v in read.black_hole[TARGET]] == [1.0, 1.0]
    assert unread == ""
    assert [v for _, v in measured["e0"]] == [1500.0, 9000.0]
    (record,) = changes.records
    assert (record.kind, record.interface, record.before, record.after) == ("interface_mtu", "e0", 1500, 9000)
    assert record.host == "edge-1"
    assert record.since is not None
    assert record.at - record.since == timedelta(seconds=60)


def test_a_target_published_under_a_display_name_is_not_what_the_registry_reads(
    aws: None, tmp_path: Path
) -> None:
    # The old behaviour (Target = "cloud") must not come back: the registry's address finds nothing then.
    cloudwatch = boto3.client("cloudwatch")
    now = datetime.now(UTC)
    cloudwatch.put_metric_data(
        Namespace="DropSleuth",
        MetricData=[
            {
                "MetricName": "PathMtu",
                "Dimensions": [{"Name": "Site", "Value": SITE}, {"Name": "Target", "Value": "cloud"}],
                "Timestamp": now - timedelta(minutes=2),
                "Value": 1500.0,
            }
        ],
    )
    read = metrics_context(now - timedelta(minutes=10), now, site=SITE, probe_targets=(TARGET,))
    assert read.path_mtu[TARGET] == ()


def test_only_change_records_of_the_schema_and_site_are_accepted(aws: None) -> None:
    logs = boto3.client("logs")
    group = change_log_group(SITE)
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="somewhere")
    now = datetime.now(UTC)
    stamp = int((now - timedelta(minutes=5)).timestamp() * 1000)
    foreign = {
        "eventSource": "site.dropsleuth",  # a source name is no reason to accept anything
        "eventName": "SetInterfaceMtu",
        "eventTime": now.isoformat(),
        "additionalEventData": {"summary": "eno1 MTU changed from 1500 to 9000"},
    }
    other_site = {
        "schema": "dropsleuth.site-change/1", "site": "elsewhere", "host": "h", "at": now.isoformat(),
        "kind": "interface_mtu", "interface": "eno1", "before": 1500, "after": 9000, "actor": "a",
        "summary": "h: interface eno1 MTU changed from 1500 to 9000",
    }  # fmt: skip
    logs.put_log_events(
        logGroupName=group,
        logStreamName="somewhere",
        logEvents=[
            {"timestamp": stamp, "message": json.dumps(foreign)},
            {"timestamp": stamp + 1, "message": json.dumps(other_site)},
            {"timestamp": stamp + 2, "message": "eno1 is now 9000"},
        ],
    )
    read = site_change_records(SITE, now - timedelta(hours=1), now)
    assert read.records == ()
    assert len(read.rejected) == 3
    assert any("elsewhere" in reason for reason in read.rejected)


def test_a_site_without_a_change_store_is_an_error_not_an_empty_answer(aws: None) -> None:
    now = datetime.now(UTC)
    with pytest.raises(ChangeStoreMissingError, match="does not exist"):
        site_change_records("never-deployed", now - timedelta(hours=1), now)
