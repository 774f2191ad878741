"""The agent's host drop-counter datapoints: deltas only against a usable previous reading."""

from __future__ import annotations

import shutil
from pathlib import Path

from dropsleuth.probe.host_drop_metrics import host_drop_points
from tests.unit.command_fixtures import HOST_SS, HOST_TC, captured_firewall, refused_firewall

FIXTURES = Path(__file__).parents[1] / "fixtures" / "host_counters"


def tree(tmp_path: Path, fixture: str, boot_id: str = "boot-a") -> Path:
    root = tmp_path / "host"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(FIXTURES / fixture, root, symlinks=True)
    (root / "proc/sys/kernel/random").mkdir(parents=True, exist_ok=True)
    (root / "proc/sys/kernel/random/boot_id").write_text(boot_id + "\n")
    return root / "proc"


def points(tmp_path: Path, proc: Path, now: float) -> dict[str, float]:
    found = host_drop_points(
        "site",
        state_file=tmp_path / "state.json",
        now=now,
        max_age_s=180,
        proc=proc,
        host="h",
        ethtool=None,
        tc=None,
        firewall=None,
        listeners=None,
    )
    assert all(p.dimensions == {"Site": "site", "Host": "h"} for p in found)
    return {p.name: p.value for p in found}


def test_the_first_reading_publishes_only_the_levels_then_deltas(tmp_path: Path) -> None:
    first = points(tmp_path, tree(tmp_path, "listen_overflow_before"), 1000.0)
    assert set(first) == {
        "ConntrackTableUsedPercent",
        "NetCoreSomaxconn",
        "NetCoreRmemMax",
        "TcpRmemMax",
        "NfConntrackMax",
        "RpFilterAll",
        "RpFilterStrictInterfaces",
    }
    second = points(tmp_path, tree(tmp_path, "listen_overflow_during"), 1060.0)
    assert second["TcpListenOverflows"] == 12
    assert second["TcpListenDrops"] == 12
    # A fresh namespace has loopback only: no NIC counter at all, rather than a zero.
    assert "NicRxDropped" not in second


def test_a_reading_from_another_boot_or_too_old_gives_no_delta(tmp_path: Path) -> None:
    points(tmp_path, tree(tmp_path, "listen_overflow_before"), 1000.0)
    rebooted = points(tmp_path, tree(tmp_path, "listen_overflow_during", boot_id="boot-b"), 1060.0)
    assert "TcpListenOverflows" not in rebooted
    points(tmp_path, tree(tmp_path, "listen_overflow_before", boot_id="boot-b"), 2000.0)
    stale = points(tmp_path, tree(tmp_path, "listen_overflow_during", boot_id="boot-b"), 2000.0 + 181)
    assert "TcpListenOverflows" not in stale


def test_a_damaged_state_file_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"taken_at": 1')
    assert "TcpListenOverflows" not in points(tmp_path, tree(tmp_path, "listen_overflow_during"), 1000.0)
    assert points(tmp_path, tree(tmp_path, "listen_overflow_during"), 1060.0)["TcpListenOverflows"] == 0


def firewall_cycle(tmp_path: Path, now: float, firewall):  # type: ignore[no-untyped-def]
    return host_drop_points(
        "site",
        state_file=tmp_path / "state.json",
        now=now,
        max_age_s=180,
        proc=tree(tmp_path, "host"),
        host="h",
        ethtool=None,
        tc=HOST_TC,
        firewall=firewall,
        listeners=HOST_SS,
    )


def more_drops(text: str) -> str:
    """The captured rulesets a minute later: rule 1 (port 2222) counted 40 more, nft handle 3 counted 7."""
    return (
        text.replace(
            "[1:60] -A INPUT -p tcp -m tcp --dport 2222", "[41:2460] -A INPUT -p tcp -m tcp --dport 2222"
        )
        .replace('"packets": 1, "bytes": 60', '"packets": 8, "bytes": 480', 1)
        .replace("counter packets 1 bytes 60 drop comment", "counter packets 8 bytes 480 drop comment")
    )


def test_firewall_drops_are_a_host_total_and_per_rule_for_the_rules_that_counted(tmp_path: Path) -> None:
    first = firewall_cycle(tmp_path, 1000.0, captured_firewall())
    assert {p.name for p in first} >= {"HostFirewallUncountedDropRules", "ListenBacklogOfFullestListener"}
    assert "HostFirewallDrops" not in {p.name for p in first}

    second = firewall_cycle(tmp_path, 1060.0, captured_firewall(edit=more_drops))
    total = {p.name: p.value for p in second if "Rule" not in p.dimensions}
    assert total["HostFirewallDrops"] == 47
    by_rule = {p.dimensions["Rule"]: p.value for p in second if p.name == "HostFirewallRuleDrops"}
    # Only the rules that counted in the interval, most first; the others publish nothing.
    assert by_rule == {
        "iptables filter INPUT rule 1: -A INPUT -p tcp -m tcp --dport 2222 -j DROP": 40,
        'nft inet site_fw input handle 3: tcp dport 8443 counter drop comment "legacy admin port"': 7,
    }
    assert all(
        p.dimensions.keys() == {"Site", "Host", "Rule"} for p in second if p.name == "HostFirewallRuleDrops"
    )
    # Nothing more counted: a true zero total, and no per-rule series at all.
    third = firewall_cycle(tmp_path, 1120.0, captured_firewall(edit=more_drops))
    assert {p.name: p.value for p in third}["HostFirewallDrops"] == 0
    assert not [p for p in third if p.name == "HostFirewallRuleDrops"]


def test_per_rule_points_are_bounded_per_cycle(tmp_path: Path) -> None:
    many = (
        "*filter\n:INPUT ACCEPT [0:0]\n"
        + "".join(f"[{{n{i}}}:0] -A INPUT -p tcp -m tcp --dport {9000 + i} -j DROP\n" for i in range(12))
        + "COMMIT\n"
    )

    def ruleset(count: int):  # type: ignore[no-untyped-def]
        text = many.format(**{f"n{i}": count * (i + 1) for i in range(12)})
        return captured_firewall(edit=lambda original: text if original.startswith("# Generated") else "")

    firewall_cycle(tmp_path, 1000.0, ruleset(0))
    second = firewall_cycle(tmp_path, 1060.0, ruleset(1))
    by_rule = {p.dimensions["Rule"]: p.value for p in second if p.name == "HostFirewallRuleDrops"}
    assert len(by_rule) == 5
    assert sorted(by_rule.values(), reverse=True) == [12, 11, 10, 9, 8]
    assert {p.name: p.value for p in second}["HostFirewallDrops"] == sum(range(1, 13))


def test_an_agent_that_may_not_read_the_firewall_publishes_no_firewall_metric(tmp_path: Path) -> None:
    firewall_cycle(tmp_path, 1000.0, refused_firewall)
    second = firewall_cycle(tmp_path, 1060.0, refused_firewall)
    assert not [p for p in second if p.name.startswith("HostFirewall")]
    # The rest of the cycle is published as usual.
    assert {p.name: p.value for p in second}["QdiscDrops"] == 0
