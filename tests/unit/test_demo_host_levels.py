"""The demo publishes the host agents' metrics as an agent would: levels where read, no firewall counters
without the capability to read them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from dropsleuth.demo.replay import host_counter_data
from dropsleuth.demo.scenario import HostCountersSpec, load_scenario

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_the_listen_overflow_host_publishes_its_settings_and_no_firewall_counters() -> None:
    scenario = load_scenario("listen-overflow")
    data = host_counter_data(scenario, "branch-31", start=START)
    names = {d["MetricName"] for d in data}
    assert {"NetCoreSomaxconn", "ListenBacklogOfFullestListener", "QdiscDrops"} <= names
    # The shipped unit has no CAP_NET_ADMIN: the agent publishes nothing about the firewall.
    assert not {n for n in names if n.startswith("HostFirewall")}
    queue = [d["Value"] for d in data if d["MetricName"] == "ListenQueueOfFullestListener"]
    assert len(queue) == scenario.traffic.duration_minutes
    assert (queue[39], queue[40]) == (0, 129)


def test_firewall_counters_are_published_only_by_an_agent_that_may_read_them() -> None:
    scenario = load_scenario("listen-overflow")
    host = scenario.metrics.host_counters[0].model_copy(update={"firewall_counters": True})
    metrics = scenario.metrics.model_copy(update={"host_counters": (host,)})
    data = host_counter_data(scenario.model_copy(update={"metrics": metrics}), "branch-31", start=START)
    assert "HostFirewallDrops" in {d["MetricName"] for d in data}


def test_a_level_no_agent_publishes_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="NetCoreSomaxconnn"):
        HostCountersSpec(host="h", levels={"NetCoreSomaxconnn": [{"per_minute": 1}]})
    with pytest.raises(ValidationError, match="firewall_counters"):
        HostCountersSpec(host="h", levels={"HostFirewallUncountedDropRules": [{"per_minute": 1}]})
