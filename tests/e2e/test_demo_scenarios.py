"""Every embedded scenario replayed and investigated end to end; the diagnosis is asserted from evidence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dropsleuth.aws import clients
from dropsleuth.aws.permissions import record_api_calls
from dropsleuth.demo import replay
from dropsleuth.demo.embedded import embedded_account
from dropsleuth.demo.scenario import load_scenario, scenario_names
from dropsleuth.handlers.investigate import FUNCTION
from dropsleuth.model import FindingCode, Report, Severity, StepStatus
from dropsleuth.report.render import to_html
from tests.support import subprocess_env


def investigate(name: str) -> tuple[replay.Replay, Report]:
    scenario = load_scenario(name)
    with embedded_account(scenario.region):
        prepared = replay.prepare(scenario)
        clients.reset()
        with record_api_calls() as calls:
            done = replay.run(prepared)
    assert done.response["status"] == "investigated", done.response
    # Every AWS call the Lambda made is granted by its declared permissions (the demo's own inbox read
    # of the SNS summary is not the Lambda's).
    assert calls.actions - {"sqs:ReceiveMessage"} <= FUNCTION.actions
    return done, done.report


def test_every_scenario_file_is_exercised_below() -> None:
    assert set(scenario_names()) <= set(EXPECTED), "add the new scenario to EXPECTED with its diagnosis"


EXPECTED = {
    "wan-mtu-9000": FindingCode.PMTUD_BLACKHOLE,
    "df-flag-vpn": FindingCode.PMTUD_BLACKHOLE,
    "pmtud-works": FindingCode.MTU_MISMATCH,
    "sg-rejects": FindingCode.FLOW_REJECTED,
    "healthy": None,
    "listen-overflow": FindingCode.LISTEN_QUEUE_OVERFLOW,
    "nat-port-exhaustion": FindingCode.NAT_PORT_EXHAUSTION,
}


def test_nat_port_exhaustion_ranks_first_with_the_flow_logs_unanswered_syns_and_pmtud_clean() -> None:
    done, report = investigate("nat-port-exhaustion")
    top = report.top_finding
    assert top is not None
    assert top.code is FindingCode.NAT_PORT_EXHAUSTION
    assert top.severity is Severity.HIGH
    nat_id = done.built.id("nat", "egress-a")
    assert nat_id in top.resource_ids
    # The numbers before and during, from AWS/NATGateway ErrorPortAllocation as the account holds it.
    metric = next(e for e in top.evidence if e.data.get("metric") == "ErrorPortAllocation")
    assert metric.data["before_total"] == 0
    (errors,) = [m for m in done.scenario.metrics.aws if m.metric == "ErrorPortAllocation"]
    assert metric.data["during_total"] == errors.windows[0].per_minute * metric.data["during_minutes"]
    # The flow logs corroborate it toward the same destination, counted once: the SYN-only attempts are
    # the cause's evidence, not a finding of their own, and name the partner, not the gateway's address.
    flow = next(e for e in top.evidence if e.data.get("query") == "syn_rst_by_destination")
    (row,) = flow.data["rows"]
    assert (row["dstaddr"], row["dstport"]) == ("203.0.113.80", 443)
    assert row["unanswered"] >= 20 * row["attempts"] // 25
    assert FindingCode.SYNS_UNANSWERED not in report.codes()
    assert top.remediation is not None
    assert any("associate-nat-gateway-address" in c for c in top.remediation.commands)
    # Nothing points at the MTU, and the PMTUD checks are listed as clean.
    assert not {FindingCode.PMTUD_BLACKHOLE, FindingCode.MTU_MISMATCH, FindingCode.FLOW_REJECTED} & set(
        report.codes()
    )
    assert all(f.severity not in {Severity.HIGH, Severity.CRITICAL} for f in report.findings[1:])
    assert any("verdict ok" in c for c in report.checked)
    assert any("frag-needed" in c and "admitted" in c for c in report.checked)
    idle = f"NAT gateway {nat_id} idle timeouts: checked, not rising"
    assert any(c.startswith(idle) for c in report.checked)


def test_listen_overflow_on_the_ingest_host_ranks_first_and_pmtud_is_checked_clean() -> None:
    done, report = investigate("listen-overflow")
    top = report.top_finding
    assert top is not None
    assert top.code is FindingCode.LISTEN_QUEUE_OVERFLOW
    assert top.severity is Severity.HIGH
    # The numbers before and during, from the agent's published series: none before, the scenario's rate
    # for every minute since the onset the investigation found.
    (host,) = done.scenario.metrics.host_counters
    evidence = next(e for e in top.evidence if e.data["metric"] == "TcpListenOverflows")
    assert evidence.data["before_total"] == 0
    (rate,) = host.counts["TcpListenOverflows"]
    assert evidence.data["during_total"] == rate.per_minute * evidence.data["during_minutes"]
    assert top.remediation is not None
    assert any("somaxconn" in c for c in top.remediation.commands)
    # The agent's published settings explain it: the application's backlog (128) is the limit, not
    # somaxconn (4096), so the fix raises the application's backlog and leaves somaxconn alone.
    setting = next(e for e in top.evidence if e.kind == "setting")
    assert "net.core.somaxconn = 4096" in setting.summary
    assert "accept queue 129 of backlog 128" in setting.summary
    assert "the application asked for 128" in top.remediation.steps[0]
    assert not any("somaxconn=" in c for c in top.remediation.commands)
    # The stock agent cannot read the firewall's counters: unknown, with why; the qdiscs were read, clean.
    assert any(c.startswith("host firewall drops: unknown") and "CAP_NET_ADMIN" in c for c in report.checked)
    assert any(c.startswith("queueing discipline (qdisc) drops: checked, clean") for c in report.checked)
    # The flow logs' unanswered SYNs toward the ingest host corroborate it, counted once.
    flow = next(e for e in top.evidence if e.data.get("query") == "syn_rst_by_destination")
    assert flow.data["rows"][0]["dstaddr"] == "10.82.1.10"
    assert FindingCode.SYNS_UNANSWERED not in report.codes()
    # Nothing points at the MTU: no PMTUD finding, and the PMTUD checks are listed as clean.
    assert not {FindingCode.PMTUD_BLACKHOLE, FindingCode.MTU_MISMATCH, FindingCode.FLOW_REJECTED} & set(
        report.codes()
    )
    assert any("verdict ok" in c for c in report.checked)
    assert any("frag-needed" in c and "admitted" in c for c in report.checked)
    # The steady NIC trickle is shown as background, below the cause; the other causes are ruled out.
    nic = next(f for f in report.findings if f.code is FindingCode.NIC_DROPS)
    assert nic.severity is Severity.WARNING
    assert any(c.startswith("receive-buffer pressure: checked, clean") for c in report.checked)
    assert any(c.startswith("connection-tracking table full: unknown") for c in report.checked)


def test_df_flag_incident_is_a_black_hole_caused_by_the_nacl_change() -> None:
    done, report = investigate("df-flag-vpn")
    top = report.top_finding
    assert top is not None
    assert top.code is FindingCode.PMTUD_BLACKHOLE
    nacl_id = done.built.id("nacl", "api-hardened")
    assert nacl_id in top.resource_ids
    # The NACL change three minutes before the onset is part of the evidence, with its real id.
    change = next(e for e in top.evidence if e.kind == "change_event")
    assert nacl_id in change.resource_ids
    assert 0 < change.data["minutes_before_onset"] <= 10


def test_jumbo_peer_through_the_igw_with_icmp_admitted_is_no_black_hole() -> None:
    _, report = investigate("pmtud-works")
    codes = report.codes()
    assert codes[0] is FindingCode.MTU_MISMATCH
    assert FindingCode.PMTUD_BLACKHOLE not in codes
    assert all(f.severity not in {Severity.CRITICAL, Severity.HIGH} for f in report.findings)
    assert "PMTUD works" in report.findings[0].detail


def test_security_group_rejects_are_an_access_problem_not_an_mtu_problem() -> None:
    _, report = investigate("sg-rejects")
    top = report.top_finding
    assert top is not None
    assert top.code is FindingCode.FLOW_REJECTED
    rows = next(e for e in top.evidence if e.kind == "query_rows").data["rows"]
    assert {r["dstport"] for r in rows} == {443}
    assert not {FindingCode.PMTUD_BLACKHOLE, FindingCode.MTU_MISMATCH} & set(report.codes())


def test_healthy_network_raises_no_alarm_and_says_what_it_checked() -> None:
    _, report = investigate("healthy")
    assert all(f.severity in {Severity.WARNING, Severity.INFO} for f in report.findings)
    assert all(s.status is StepStatus.OK for s in report.steps), report.steps
    assert len(report.checked) >= len(report.steps)
    assert any("flow-log query" in c for c in report.checked)
    assert any("admit" in c.lower() or "icmp" in c.lower() for c in report.checked)


def test_wan_mtu_9000_is_a_pmtud_black_hole_with_its_evidence_and_fix() -> None:
    done, report = investigate("wan-mtu-9000")
    top = report.top_finding
    assert top is not None
    assert top.code is FindingCode.PMTUD_BLACKHOLE
    assert top.severity is Severity.CRITICAL
    assert top.confidence >= 0.8
    # The evidence names the real resources the account gave ids to, not the scenario's names.
    nacl_id = done.built.id("nacl", "ingest-hardened")
    assert nacl_id in top.resource_ids
    assert any(e.kind == "hop" and done.built.id("vpn") in e.resource_ids for e in top.evidence)
    assert any(e.kind == "query_rows" and e.data.get("query") == "icmp_rejects" for e in top.evidence)
    assert top.remediation is not None
    assert any(nacl_id in c and "create-network-acl-entry" in c for c in top.remediation.commands)
    # One MSS step, with the figures of the smallest hop (MSS = its MTU − 40), not one per source finding.
    (mss_step,) = [step for step in top.remediation.steps if "MSS" in step]
    smallest = min(h["mtu"] for e in top.evidence if e.kind == "hop" for h in e.data["hops"] if h.get("mtu"))
    assert f"to {smallest - 40} (path MTU {smallest}" in mss_step
    # Delivery as deployed: three files in the report bucket, a summary on SNS naming the root cause.
    stored = done.response["delivery"]["stored"]
    assert sorted(stored) == ["html", "json", "md"]
    assert all("/reports/plant-7/" in uri for uri in stored.values())
    assert done.notifications
    assert "PMTUD_BLACKHOLE" in done.notifications[0]["message"]
    assert "create-network-acl-entry" in done.notifications[0]["message"]
    # No fact is shown twice, even when two supporting findings rest on it.
    assert len({e.model_dump_json() for e in top.evidence}) == len(top.evidence)
    # The collapse is measured from the replayed traffic: the scenario's baseline and degraded rates.
    scenario = done.scenario
    (hole,) = scenario.traffic.black_holes
    collapse = next(f for f in report.findings if f.code is FindingCode.THROUGHPUT_COLLAPSE)
    measured = next(e for e in collapse.evidence if e.kind == "metric").data
    assert (
        abs(measured["baseline_mbps"] - scenario.traffic.baseline_mbps) / scenario.traffic.baseline_mbps < 0.1
    )
    assert measured["during_mbps"] < 2 * hole.degraded_mbps
    # The chart marks every tunnel flap the account's metrics hold, between the change and the recovery.
    flaps = [m for m in report.timeline["markers"] if m["kind"] == "flap"]
    assert len(flaps) == len(scenario.metrics.tunnel_down_minutes)
    html = to_html(report)
    assert html.count("<title>tunnel down") == len(flaps)
    # The alarm's transition is what the report is about.
    assert report.subject["alarm"]["alarm_name"].endswith("UploadThroughputMbps")
    # The site side is measured, not declared: the registry holds only the expectation.
    assert done.built.site is not None
    assert done.built.site.wan_mtu is None
    assert done.built.site.expected_mtus == {"eno1": 1500}
    hops = next(e for e in top.evidence if e.kind == "hop").data
    assert hops["source_mtu"] == 9000
    assert any("sender MTU 9000: the host agent measured eno1 at 9000" in c for c in report.checked)
    # The agent's own DF-probe verdict toward the registry's probe target is evidence of the black hole.
    (verdict,) = [e for e in top.evidence if e.kind == "metric" and "PathMtuBlackHole" in e.summary]
    assert verdict.data["target"] == "10.40.1.10"
    # The interface, ranked with the black hole it causes, with the measurement and the change record.
    (interface,) = [f for f in report.findings if f.code is FindingCode.INTERFACE_MTU_UNEXPECTED]
    assert interface.severity is Severity.HIGH
    assert interface.resource_ids == ("eno1",)
    measured = next(e for e in interface.evidence if e.kind == "metric").data
    assert (measured["measured_mtu"], measured["expected_mtu"]) == (9000, 1500)
    change = next(e for e in interface.evidence if e.kind == "change_event").data
    assert (change["host"], change["before"], change["after"]) == ("plant-7-edge", 1500, 9000)
    assert change["actor"] == "dropsleuth agent (observed)"
    assert any("site change records in /dropsleuth/site-changes/plant-7: 2" in c for c in report.checked)
    assert {s.name for s in report.steps if s.status is StepStatus.OK} >= {"flow_log_queries", "icmp_audit"}


def test_make_demo_command_prints_the_root_cause_and_writes_the_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dropsleuth.cli", "demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "PMTUD_BLACKHOLE" in result.stdout.splitlines()[0]
    report = Report.from_json((tmp_path / "report.json").read_text())
    assert report.top_finding is not None
    assert report.top_finding.code is FindingCode.PMTUD_BLACKHOLE
    # The NACL and the rule that deny frag-needed are printed: the scenario's denying inbound ICMP 3/4 rule
    # (what was built), under the id the account gave the NACL (what the report found).
    (deny,) = [
        e
        for acl in load_scenario("wan-mtu-9000").network.network_acls
        for e in acl.entries
        if e.action == "deny" and e.icmp_type == 3 and e.direction == "inbound"
    ]
    nacl = next(e for e in report.top_finding.evidence if e.kind == "nacl_entry")
    assert nacl.data["rule_number"] == deny.rule
    first_finding = result.stdout.split("\n2. ")[0]
    assert f"{nacl.data['network_acl_id']} inbound rule {deny.rule}" in first_finding
    assert f"--network-acl-id {nacl.data['network_acl_id']}" in first_finding
    # The fix's steps are printed, not only its commands: the MSS clamp is the fix a VPN path needs.
    assert all(f"- {step[:60]}" in first_finding for step in report.top_finding.remediation.steps)
    assert "<svg" in (tmp_path / "report.html").read_text()
    assert json.loads((tmp_path / "report.json").read_text())["schema_version"] == report.schema_version


def test_unknown_scenario_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dropsleuth.cli", "demo", "--scenario", "nope"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "unknown scenario" in result.stderr
