"""Host checks on the lab: the exact frag-needed counter, the interface check, the firewall check, and the
agent publishing what it measured to moto_server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from dropsleuth.probe import agent, counters
from dropsleuth.probe.pmtu import Mode, ProbeSettings, probe_path
from dropsleuth.rules.pmtu_verdict import Outcome
from tests.netns.lab import Lab, in_netns, sh

pytestmark = pytest.mark.netns

DROPSLEUTH = str(Path(sys.executable).with_name("dropsleuth"))


def cli(lab: Lab, role: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", lab.ns(role), DROPSLEUTH, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_counting_rule_counts_exactly_the_frag_needed_messages(working_lab: Lab) -> None:
    installed = cli(working_lab, "edge", "probe", "counters", "--install-counter", "-o", "json")
    assert installed.returncode == 0, installed.stderr
    before = json.loads(installed.stdout)
    assert before["frag_needed_exact"] is True
    # UDP probes to a closed port: sizes above 1500 draw frag-needed from gw (type 3 code 4), the others
    # reach the target and draw port-unreachable (type 3 code 3): both are ICMP type 3.
    result = in_netns(
        working_lab.ns("edge"), lambda: probe_path(working_lab.cloud_ip, ProbeSettings(mode=Mode.udp, port=9))
    )
    too_big = sum(1 for p in result.probes if p.outcome is Outcome.TOO_BIG)
    port_unreachable = sum(1 for p in result.probes if p.outcome is Outcome.REPLY)
    assert too_big > 0
    assert port_unreachable > 0
    after = in_netns(working_lab.ns("edge"), counters.snapshot).values
    exact = after["frag_needed_v4"] - before["counters"]["frag_needed_v4"]
    all_type3 = after["icmp_in_type3"] - before["counters"]["icmp_in_type3"]
    assert exact == too_big
    assert all_type3 == too_big + port_unreachable  # what /proc/net/snmp alone would have reported
    removed = cli(working_lab, "edge", "probe", "counters", "--remove-counter", "-o", "json")
    assert json.loads(removed.stdout) == {"removed": True}
    tables = sh("nft", "list", "tables", netns=working_lab.ns("edge")).stdout
    assert "dropsleuth" not in tables
    again = in_netns(working_lab.ns("edge"), counters.snapshot)
    assert again.frag_needed_exact is False
    assert any("approximate" in note for note in again.notes)


def test_counting_rule_counts_exactly_the_ipv6_packet_too_big_messages(working_lab: Lab) -> None:
    installed = cli(working_lab, "edge", "probe", "counters", "--install-counter", "-o", "json")
    assert installed.returncode == 0, installed.stderr
    before = json.loads(installed.stdout)["counters"]
    # UDP probes to a closed port over IPv6: above 1500 gw answers Packet Too Big (ICMPv6 type 2); the
    # others reach the target and draw port-unreachable (ICMPv6 type 1 code 4), which must not count.
    result = in_netns(
        working_lab.ns("edge"),
        lambda: probe_path(working_lab.cloud_ip6, ProbeSettings(mode=Mode.udp, port=9)),
    )
    too_big = sum(1 for p in result.probes if p.outcome is Outcome.TOO_BIG)
    port_unreachable = sum(1 for p in result.probes if p.outcome is Outcome.REPLY)
    assert too_big > 0
    assert port_unreachable > 0
    after = in_netns(working_lab.ns("edge"), counters.snapshot)
    assert after.frag_needed_exact is True
    grew = {k: v - before[k] for k, v in after.values.items()}
    assert grew["packet_too_big_v6"] == too_big
    assert grew["icmp6_in_pkt_too_bigs"] == too_big  # the kernel's own exact IPv6 count agrees
    assert grew["frag_needed_v4"] == 0
    assert grew["frag_needed"] == too_big
    removed = cli(working_lab, "edge", "probe", "counters", "--remove-counter", "-o", "json")
    assert json.loads(removed.stdout) == {"removed": True}


def test_counters_interval_reports_what_happened_during_it(
    working_lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """``probe counters --interval``: the deltas over the interval, not the totals."""
    from dropsleuth.cli.common import OutputFormat
    from dropsleuth.cli.probe import counters_command

    # Traffic before the interval: it must not appear in the deltas.
    in_netns(
        working_lab.ns("edge"), lambda: probe_path(working_lab.cloud_ip, ProbeSettings(mode=Mode.udp, port=9))
    )
    during: dict[str, object] = {}

    def measure() -> int:
        def traffic() -> None:
            time.sleep(0.5)
            during["result"] = probe_path(working_lab.cloud_ip, ProbeSettings(mode=Mode.udp, port=9))

        worker = threading.Thread(target=traffic)  # inherits this thread's network namespace
        worker.start()
        code = counters_command(
            interval=3.0, install_counter=False, remove_counter=False, output=OutputFormat.json
        )
        worker.join(timeout=30)
        return code

    assert in_netns(working_lab.ns("edge"), measure) == 0
    document = json.loads(capsys.readouterr().out)
    result = during["result"]
    too_big = sum(1 for p in result.probes if p.outcome is Outcome.TOO_BIG)  # type: ignore[attr-defined]
    port_unreachable = sum(1 for p in result.probes if p.outcome is Outcome.REPLY)  # type: ignore[attr-defined]
    assert document["interval_s"] == pytest.approx(3.0, abs=0.5)
    assert document["frag_needed_exact"] is False
    assert document["counters"]["icmp_in_type3"] == too_big + port_unreachable
    assert document["counters"]["frag_needed"] == too_big + port_unreachable  # approximate, as labelled
    assert any("approximate" in note for note in document["notes"])
    assert document["interfaces"]["e0"]["rx_dropped"] == 0


def test_interface_check_flags_the_9000_interface(working_lab: Lab) -> None:
    flagged = cli(working_lab, "edge", "probe", "interfaces", "--expect", "e0=1500", "-o", "json")
    assert flagged.returncode == 1, flagged.stderr
    document = json.loads(flagged.stdout)
    assert document["default_route"] == ["e0"]
    (finding,) = document["findings"]
    assert finding["code"] == "INTERFACE_MTU_UNEXPECTED"
    assert finding["evidence"][0]["data"] == {
        "interface": "e0",
        "mtu": 9000,
        "expected_mtu": 1500,
        "default_route": True,
        "kind": "veth",
    }
    fine = cli(working_lab, "edge", "probe", "interfaces", "--expect", "e0=9000")
    assert fine.returncode == 0, fine.stdout


def test_firewall_check_finds_the_routers_output_rule(blackhole_lab: Lab) -> None:
    router = cli(blackhole_lab, "gw", "probe", "firewall", "-o", "json")
    assert router.returncode == 1, router.stderr
    findings = json.loads(router.stdout)["findings"]
    rules = {f["evidence"][0]["data"]["rule"] for f in findings}
    assert rules == {
        "icmp type destination-unreachable icmp code frag-needed drop",
        "icmpv6 type packet-too-big drop",
    }
    assert {f["evidence"][0]["data"]["hook"] for f in findings} == {"output"}
    commands = {c for f in findings for c in f["remediation"]["commands"]}
    assert "nft insert rule inet lab_blackhole output icmpv6 type packet-too-big accept" in commands
    host = cli(blackhole_lab, "edge", "probe", "firewall", "-o", "json")
    assert host.returncode == 0, host.stdout
    assert json.loads(host.stdout)["findings"] == []


def test_firewall_check_without_privilege_is_unknown_not_clear(blackhole_lab: Lab) -> None:
    # Given the router whose OUTPUT chain drops frag-needed, checked by an unprivileged user (nobody, no
    # capabilities): neither iptables-save nor nft may read the rules
    unprivileged = subprocess.run(
        [
            "ip", "netns", "exec", blackhole_lab.ns("gw"),
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", DROPSLEUTH, "probe", "firewall", "-o", "json",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    # Then the answer is "unknown" with each reason and exit 4 — not "no rule drops frag-needed", exit 0
    assert unprivileged.returncode == 4, unprivileged.stdout + unprivileged.stderr
    answer = json.loads(unprivileged.stdout)
    assert answer["status"] == "unknown"
    assert answer["findings"] == []
    assert answer["sources"] == []
    assert any(reason.startswith("nft -j list ruleset refused") for reason in answer["unread"])
    table = subprocess.run(
        [
            "ip", "netns", "exec", blackhole_lab.ns("gw"),
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", DROPSLEUTH, "probe", "firewall",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "UNKNOWN" in table.stdout
    assert "no rule drops" not in table.stdout


def test_agent_publishes_what_it_measured(blackhole_lab: Lab, moto_endpoint: str, tmp_path: Path) -> None:
    config = agent.AgentConfig(
        site="lab-site",
        expected_mtus={"e0": 1500},
        targets=(agent.TargetConfig(address=blackhole_lab.cloud_ip, name="cloud"),),
        counters=False,
        spool=agent.SpoolConfig(path=str(tmp_path / "spool.jsonl")),
    )
    # Measure inside the lab's edge namespace, publish from here (where moto_server listens).
    points = in_netns(blackhole_lab.ns("edge"), lambda: agent.collect(config, agent.AgentState()))
    result = agent.publish(config, points)
    assert result.sent == len(points)
    assert result.pending == 0
    assert result.error is None
    cloudwatch = boto3.client("cloudwatch", endpoint_url=moto_endpoint)

    def value(name: str, dimension: tuple[str, str]) -> float:
        answer = cloudwatch.get_metric_statistics(
            Namespace="DropSleuth",
            MetricName=name,
            Dimensions=[{"Name": "Site", "Value": "lab-site"}, {"Name": dimension[0], "Value": dimension[1]}],
            StartTime=datetime.now(UTC) - timedelta(minutes=10),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum"],
        )
        return max(point["Maximum"] for point in answer["Datapoints"])

    # Target is the address (what the registry's probe_targets hold), not the display name.
    assert value("PathMtuBlackHole", ("Target", blackhole_lab.cloud_ip)) == 1.0
    assert value("PathMtu", ("Target", blackhole_lab.cloud_ip)) == 1500.0
    assert value("InterfaceMtuMismatch", ("Interface", "e0")) == 1.0
    assert value("InterfaceMtu", ("Interface", "e0")) == 9000.0


def test_post_change_passes_where_pmtud_works_and_fails_loudly_on_the_black_hole(
    working_lab: Lab, blackhole_lab: Lab
) -> None:
    ok = cli(
        working_lab,
        "edge",
        "probe",
        "post-change",
        "--target",
        working_lab.cloud_ip,
        "--duration",
        "2",
        "--every",
        "1",
        "-o",
        "json",
    )
    assert ok.returncode == 0, ok.stderr
    document = json.loads(ok.stdout)
    assert document["runs"] >= 2
    assert document["failures"] == []
    assert document["path_mtus"] == [1500]
    bad = cli(
        blackhole_lab,
        "edge",
        "probe",
        "post-change",
        "--target",
        blackhole_lab.cloud_ip,
        "--duration",
        "2",
        "--every",
        "1",
    )
    assert bad.returncode == 1, bad.stderr
    assert bad.stdout.startswith("FAILED: ")
    assert "black_hole" in bad.stdout
    assert f"dropsleuth: post-change test FAILED toward {blackhole_lab.cloud_ip}" in bad.stderr
