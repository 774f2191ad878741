"""No all-clear from nothing: host checks that could not read what they check say "unknown", exit 4."""

from __future__ import annotations

import json
from pathlib import Path

from dropsleuth.probe import agent, counters
from tests.procfs import Readings, write_proc
from tests.support import run_dropsleuth


def test_an_expected_interface_that_is_not_there_is_unknown_not_clear() -> None:
    done = run_dropsleuth(None, "probe", "interfaces", "--expect", "ds-vanished0=1500", "-o", "json")
    assert done.returncode == 4, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["unknown"] == ["ds-vanished0"]
    assert answer["findings"] == []
    table = run_dropsleuth(None, "probe", "interfaces", "--expect", "ds-vanished0=1500")
    assert "UNKNOWN: ds-vanished0 is not present" in table.stdout


def test_counters_that_could_not_be_read_are_unknown_not_zero(tmp_path: Path) -> None:
    proc = write_proc(tmp_path / "proc", Readings(in_type3=3))
    (proc / "net" / "snmp").unlink()
    taken = counters.snapshot(proc=proc, counting_rule=lambda: None)
    assert taken.unread == (f"{proc / 'net' / 'snmp'} unreadable or empty",)


def test_the_agent_publishes_no_counter_deltas_from_unreadable_counters(tmp_path: Path) -> None:
    # Given a first reading, then /proc/net/snmp unreadable
    proc = write_proc(tmp_path / "proc", Readings(in_type3=3, retrans=10))
    source = counters.CounterSource(proc=proc, counting_rule=lambda: None)
    config = agent.AgentConfig(site="s", spool=agent.SpoolConfig(path=str(tmp_path / "spool.jsonl")))
    state = agent.AgentState()
    no_host = lambda: {"interfaces": {}, "default_route": []}  # noqa: E731
    agent.collect(config, state, counter_source=source, read_interfaces=no_host)
    (proc / "net" / "snmp").write_text("")
    failures = agent.CycleErrors()
    points = agent.collect(config, state, counter_source=source, read_interfaces=no_host, failures=failures)
    # Then nothing read from /proc/net/snmp is published (no FragNeededCount / TcpRetransSegs of 0), and
    # the failure is counted; counters of /proc/net/netstat, still readable, may be published.
    from_snmp = {"FragNeededCount", "TcpRetransSegs", "TcpHostRetransSegs", "TcpOutSegs"}
    assert not {p.name for p in points} & from_snmp
    assert [p.value for p in points if p.name == "AgentCycleErrors"] == [1.0]
    assert failures.failures[0].startswith("counters: OSError: counters not read")
