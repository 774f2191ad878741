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


RULE = "nft inet site_fw input handle 12: ip saddr 172.22.65.0/24 tcp dport 443 counter drop"


def test_rule_series_are_published_as_the_agent_does_busiest_first_only_when_counting() -> None:
    rules = {
        f"nft inet fw input handle {n}: tcp dport {n} counter drop": [{"per_minute": n}] for n in range(1, 8)
    }
    rules[RULE] = [{"from_minute": 2, "per_minute": 500}]
    spec = HostCountersSpec(host="h", firewall_counters=True, firewall_rules=rules)
    scenario = load_scenario("listen-overflow")
    metrics = scenario.metrics.model_copy(update={"host_counters": (spec,)})
    data = host_counter_data(scenario.model_copy(update={"metrics": metrics}), "branch-31", start=START)
    by_minute: dict[int, dict[str, float]] = {}
    totals: dict[int, float] = {}
    for d in data:
        minute = int((d["Timestamp"] - START).total_seconds() // 60)
        if d["MetricName"] == "HostFirewallRuleDrops":
            rule = next(x["Value"] for x in d["Dimensions"] if x["Name"] == "Rule")
            by_minute.setdefault(minute, {})[rule] = d["Value"]
            assert [x["Name"] for x in d["Dimensions"]] == ["Host", "Rule", "Site"]
        elif d["MetricName"] == "HostFirewallDrops":
            totals[minute] = d["Value"]
    # At most five rules a minute, the busiest; the new rule only from the minute it counts.
    assert all(len(rules_) == 5 for rules_ in by_minute.values())
    assert RULE not in by_minute[1]
    assert by_minute[2][RULE] == 500
    assert "nft inet fw input handle 1: tcp dport 1 counter drop" not in by_minute[2]
    # The host total is every rule's drops, shown or not (the agent's reading sums them all).
    assert totals[1] == sum(range(1, 8))
    assert totals[2] == sum(range(1, 8)) + 500


def test_a_rule_or_qdisc_no_agent_would_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a rule"):
        HostCountersSpec(
            host="h", firewall_counters=True, firewall_rules={"drop everything": [{"per_minute": 1}]}
        )
    with pytest.raises(ValidationError, match="firewall_counters"):
        HostCountersSpec(host="h", firewall_rules={RULE: [{"per_minute": 1}]})
    with pytest.raises(ValidationError, match="not a qdisc"):
        HostCountersSpec(host="h", qdiscs={"a shaper": [{"per_minute": 1}]})
