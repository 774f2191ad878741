"""Causes beyond PMTUD graded against the onset: found, background, clean or unknown (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dropsleuth.model import FindingCode, Severity
from dropsleuth.rules.aws_drops import ResourceSeries, assess_aws_drops
from dropsleuth.rules.counter_windows import Grade, split_at_onset
from dropsleuth.rules.host_drops import HostSeries, assess_host_drops
from dropsleuth.rules.other_drops import assess_other_drops

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ONSET = START + timedelta(minutes=40)


def series(before: float, during: float, minutes: int = 90) -> list[tuple[datetime, float]]:
    """One point a minute: ``before`` per minute until the onset, ``during`` per minute after."""
    return [(START + timedelta(minutes=m), before if m < 40 else during) for m in range(minutes)]


def clean_host(name: str, **metrics: list[tuple[datetime, float]]) -> HostSeries:
    zero = series(0, 0)
    base = dict.fromkeys(
        (
            "TcpListenOverflows",
            "TcpListenDrops",
            "TcpRcvQDrop",
            "TcpRcvPruned",
            "TcpBacklogDrop",
            "TcpPruneCalled",
            "NicRxDropped",
            "NicRxErrors",
            "NicRxCrcErrors",
            "NicTxDropped",
            "SoftnetDropped",
            "ConntrackDrop",
            "ConntrackInsertFailed",
            "ConntrackEarlyDrop",
            "IpReversePathFilterDrops",
        ),
        zero,
    )
    base["TcpHostRetransSegs"] = series(2, 2)
    base["TcpOutSegs"] = series(1000, 1000)
    return HostSeries(name, {**base, **metrics})


def test_a_counter_that_began_at_the_onset_rose_and_one_steady_is_background() -> None:
    assert split_at_onset(series(0, 100), ONSET).grade is Grade.ROSE_AT_ONSET
    assert split_at_onset(series(10, 12), ONSET).grade is Grade.BACKGROUND
    assert split_at_onset(series(0, 0), ONSET).grade is Grade.CLEAN
    # A trickle below one a minute is not big enough to explain an outage.
    assert split_at_onset(series(0, 0.5), ONSET).grade is Grade.BACKGROUND
    # No onset: no before to compare with, so never "rose".
    assert split_at_onset(series(0, 100), None).grade is Grade.BACKGROUND


def test_listen_overflows_that_began_at_the_onset_are_high_with_numbers_and_the_fix() -> None:
    hosts = [
        clean_host("ingest-1", TcpListenOverflows=series(0, 120), TcpListenDrops=series(0, 120)),
        clean_host("ingest-2"),
    ]
    result = assess_host_drops(hosts, ONSET)
    found = [f for f in result.findings if f.code is FindingCode.LISTEN_QUEUE_OVERFLOW]
    assert len(found) == 1
    finding = found[0]
    assert finding.severity is Severity.HIGH
    assert finding.resource_ids == ("ingest-1",)
    assert "6,000 since the onset" in finding.title
    assert "began at the onset" in finding.title
    numbers = finding.evidence[0].data
    assert (numbers["before_total"], numbers["during_total"]) == (0, 6000)
    assert finding.remediation is not None
    assert any("somaxconn" in c for c in finding.remediation.commands)
    # Every other cause is ruled out with a line naming the hosts.
    assert any(line.startswith("receive-buffer pressure: checked, clean") for line in result.checked)
    assert any("ingest-1, ingest-2" in line for line in result.checked)


def test_drops_at_the_same_rate_as_before_the_onset_are_a_warning_not_the_cause() -> None:
    hosts = [clean_host("ingest-1", NicRxDropped=series(30, 32))]
    finding = next(f for f in assess_host_drops(hosts, ONSET).findings if f.code is FindingCode.NIC_DROPS)
    assert finding.severity is Severity.WARNING
    assert "background" in finding.title


def test_no_host_counters_is_unknown_never_clean() -> None:
    result = assess_host_drops([], ONSET)
    assert result.findings == []
    assert len(result.checked) == 1
    assert "unknown" in result.checked[0]
    partial = assess_host_drops([HostSeries("old-agent", {"TcpListenOverflows": series(0, 0)})], ONSET)
    assert any(
        line.startswith("NIC") or "interface and driver drops: unknown" in line for line in partial.checked
    )
    assert any(line.startswith("accept queue overflow: checked, clean") for line in partial.checked)


def test_a_conntrack_table_nearly_full_without_drops_is_a_risk() -> None:
    hosts = [clean_host("nat-box", ConntrackTableUsedPercent=series(60, 95))]
    found = [
        f for f in assess_host_drops(hosts, ONSET).findings if f.code is FindingCode.CONNTRACK_TABLE_FULL
    ]
    assert [f.severity for f in found] == [Severity.WARNING]
    assert "95% full" in found[0].title


def test_a_full_table_that_drops_is_one_finding_with_its_fill_as_evidence() -> None:
    hosts = [clean_host("nat-box", ConntrackDrop=series(0, 400), ConntrackTableUsedPercent=series(40, 100))]
    found = [
        f for f in assess_host_drops(hosts, ONSET).findings if f.code is FindingCode.CONNTRACK_TABLE_FULL
    ]
    assert [f.severity for f in found] == [Severity.HIGH]
    assert "nothing dropped yet" not in found[0].title
    assert any(e.data.get("peak_percent") == 100 for e in found[0].evidence)


def test_retransmissions_rising_at_the_onset_are_the_symptom() -> None:
    rising = clean_host("ingest-1", TcpHostRetransSegs=series(2, 80))
    result = assess_host_drops([rising], ONSET)
    found = [f for f in result.findings if f.code is FindingCode.TCP_RETRANSMISSIONS_RISING]
    assert [f.severity for f in found] == [Severity.WARNING]
    steady = assess_host_drops([clean_host("ingest-1")], ONSET)
    assert not any(f.code is FindingCode.TCP_RETRANSMISSIONS_RISING for f in steady.findings)
    assert any("TCP retransmissions: checked, not rising" in line for line in steady.checked)


def test_nat_port_exhaustion_at_the_onset_is_high_and_idle_timeouts_at_most_a_warning() -> None:
    nat = "nat-0a1b2c3d4e5f60718"
    result = assess_aws_drops(
        [
            ResourceSeries("AWS/NATGateway", nat, "ErrorPortAllocation", series(0, 300)),
            ResourceSeries("AWS/NATGateway", nat, "IdleTimeoutCount", series(1, 40)),
        ],
        ONSET,
    )
    by_code = {f.code: f for f in result.findings}
    assert by_code[FindingCode.NAT_PORT_EXHAUSTION].severity is Severity.HIGH
    assert by_code[FindingCode.NAT_PORT_EXHAUSTION].resource_ids == (nat,)
    assert by_code[FindingCode.NAT_IDLE_TIMEOUT].severity is Severity.WARNING
    assert "350 s" in by_code[FindingCode.NAT_IDLE_TIMEOUT].detail
    # The fix names this gateway: nothing to fill in but what the first half of the command returns.
    fix = by_code[FindingCode.NAT_PORT_EXHAUSTION].remediation
    assert fix is not None
    assert all(f"--nat-gateway-id {nat}" in command for command in fix.commands)
    assert not any("NAT_ID" in command or "EIPALLOC" in command for command in fix.commands)


def test_a_clean_nat_gateway_is_checked_and_an_unread_metric_is_unknown() -> None:
    nat = "nat-0a1b2c3d4e5f60718"
    result = assess_aws_drops(
        [ResourceSeries("AWS/NATGateway", nat, "ErrorPortAllocation", series(0, 0))], ONSET
    )
    assert result.findings == []
    assert any("port allocation: checked, clean" in line for line in result.checked)
    assert any("idle timeouts: unknown" in line for line in result.checked)


def test_nlb_resets_by_the_load_balancer_are_high_by_targets_a_warning() -> None:
    lb = "net/ingest/50dc6c495c0c9188"
    own = assess_aws_drops(
        [
            ResourceSeries("AWS/NetworkELB", lb, "TCP_ELB_Reset_Count", series(0, 50)),
            ResourceSeries("AWS/NetworkELB", lb, "TCP_Target_Reset_Count", series(1, 1)),
        ],
        ONSET,
    ).findings
    assert [(f.code, f.severity) for f in own] == [(FindingCode.LB_RESETS, Severity.HIGH)]
    assert own[0].remediation is not None
    assert "350 s" in own[0].remediation.steps[0]
    assert "--names ingest " in own[0].remediation.commands[0]  # the NLB's name, from net/NAME/ID
    targets = assess_aws_drops(
        [ResourceSeries("AWS/NetworkELB", lb, "TCP_Target_Reset_Count", series(0, 50))], ONSET
    ).findings
    assert [f.severity for f in targets] == [Severity.WARNING]


def test_the_step_data_round_trip_gives_the_same_verdict() -> None:
    def points(values: list[tuple[datetime, float]]) -> list[dict[str, object]]:
        return [{"at": t.isoformat(), "value": v} for t, v in values]

    data = {
        "hosts": {"ingest-1": {"TcpListenOverflows": points(series(0, 100))}},
        "aws": [
            {
                "namespace": "AWS/NATGateway",
                "resource_id": "nat-1",
                "metric": "ErrorPortAllocation",
                "points": points(series(0, 0)),
            }
        ],
    }
    result = assess_other_drops(data, ONSET)
    assert [f.code for f in result.findings] == [FindingCode.LISTEN_QUEUE_OVERFLOW]
    assert any("nat-1 port allocation: checked, clean" in line for line in result.checked)
    assert assess_other_drops(None, ONSET).findings == []


# --- issue 15, part A: the firewall per rule, qdiscs, the settings in the evidence -------------------------

RULE = "iptables filter INPUT rule 4: -A INPUT -s 172.22.31.0/24 -p tcp -m tcp --dport 443 -j DROP"
POLICY = "iptables filter INPUT policy: DROP"


def test_firewall_drops_at_the_onset_name_the_rule_and_insert_an_accept_before_it_never_delete() -> None:
    host = clean_host("ingest-1", HostFirewallDrops=series(3, 403))
    host = HostSeries(
        host.host,
        host.metrics,
        firewall_rules={RULE: series(0, 400), POLICY: series(3, 3)},
    )
    (finding,) = [
        f for f in assess_host_drops([host], ONSET).findings if f.code is FindingCode.HOST_FIREWALL_DROPS
    ]
    assert finding.severity is Severity.HIGH
    assert RULE in finding.title
    rules = [e for e in finding.evidence if e.kind == "firewall_rule"]
    # The rule that counted most since the onset first, with its numbers before and since.
    assert [e.data["rule"] for e in rules] == [RULE, POLICY]
    assert (rules[0].data["before_total"], rules[0].data["during_total"]) == (0, 20000)
    assert (rules[0].data["chain"], rules[0].data["position"]) == ("INPUT", 4)
    assert finding.remediation is not None
    assert finding.remediation.commands == (
        "iptables -t filter -L INPUT -v -n --line-numbers",
        "iptables -t filter -I INPUT 4 <MATCH> -j ACCEPT",
    )
    assert not any("-D " in c or "delete" in c for c in finding.remediation.commands)


def test_a_rule_that_counted_in_a_few_minutes_is_measured_over_the_hosts_window() -> None:
    # The agent publishes a rule's series only in the minutes it counted: here 3 minutes since the onset.
    sparse = [(ONSET + timedelta(minutes=m), 100.0) for m in (5, 6, 7)]
    host = clean_host("ingest-1", HostFirewallDrops=series(0, 6))
    host = HostSeries(host.host, host.metrics, firewall_rules={RULE: sparse})
    (finding,) = [
        f for f in assess_host_drops([host], ONSET).findings if f.code is FindingCode.HOST_FIREWALL_DROPS
    ]
    rule = next(e for e in finding.evidence if e.kind == "firewall_rule")
    assert (rule.data["during_total"], rule.data["during_minutes"], rule.data["before_minutes"]) == (
        300,
        50,
        40,
    )
    assert "300 in 50 min since (6.0/min)" in rule.summary


def test_firewall_drops_clean_unknown_and_rules_without_counters() -> None:
    unknown = assess_host_drops([clean_host("ingest-1")], ONSET).checked
    assert any(
        line.startswith("host firewall drops: unknown") and "CAP_NET_ADMIN" in line for line in unknown
    )
    blind = clean_host(
        "ingest-1", HostFirewallDrops=series(0, 0), HostFirewallUncountedDropRules=series(2, 2)
    )
    checked = assess_host_drops([blind], ONSET).checked
    line = next(c for c in checked if c.startswith("host firewall drops"))
    assert "checked, clean" in line
    assert "without a counter (2 on ingest-1" in line


def test_qdisc_drops_at_the_onset_are_their_own_cause_with_the_qdisc_fix() -> None:
    result = assess_host_drops([clean_host("ingest-1", QdiscDrops=series(0, 300))], ONSET)
    (finding,) = [f for f in result.findings if f.code is FindingCode.QDISC_DROPS]
    assert finding.severity is Severity.HIGH
    assert finding.remediation is not None
    assert finding.remediation.commands[0] == "tc -s qdisc show"
    named = HostSeries(
        "ingest-1",
        clean_host("ingest-1", QdiscDrops=series(0, 300)).metrics,
        qdiscs={"eth0 root tbf 8001: rate 20Mbit burst 32Kb lat 50ms": series(0, 300)},
    )
    (finding,) = [f for f in assess_host_drops([named], ONSET).findings if f.code is FindingCode.QDISC_DROPS]
    qdisc = next(e for e in finding.evidence if e.kind == "qdisc")
    assert (qdisc.data["interface"], qdisc.data["kind"], qdisc.data["during_total"]) == ("eth0", "tbf", 15000)
    assert finding.remediation is not None
    assert finding.remediation.commands == (
        "tc -s qdisc show dev eth0",
        "tc qdisc change dev eth0 root tbf rate <RATE> burst 32Kb latency 50ms",
    )
    # NIC drops stayed clean: a shaper is not a ring buffer.
    assert not [f for f in result.findings if f.code is FindingCode.NIC_DROPS]


def test_the_published_settings_are_evidence_and_set_the_fix() -> None:
    level = series(128, 128)
    small_cap = clean_host(
        "ingest-1",
        TcpListenOverflows=series(0, 300),
        NetCoreSomaxconn=level,
        ListenBacklogOfFullestListener=level,
        ListenQueueOfFullestListener=series(129, 129),
    )
    finding = next(
        f
        for f in assess_host_drops([small_cap], ONSET).findings
        if f.code is FindingCode.LISTEN_QUEUE_OVERFLOW
    )
    setting = next(e for e in finding.evidence if e.kind == "setting")
    assert "net.core.somaxconn = 128" in setting.summary
    assert "accept queue 129 of backlog 128" in setting.summary
    assert finding.remediation is not None
    assert any("net.core.somaxconn=4096" in c for c in finding.remediation.commands)

    app_backlog = clean_host(
        "ingest-1",
        TcpListenOverflows=series(0, 300),
        NetCoreSomaxconn=series(4096, 4096),
        ListenBacklogOfFullestListener=level,
        ListenQueueOfFullestListener=series(129, 129),
    )
    finding = next(
        f
        for f in assess_host_drops([app_backlog], ONSET).findings
        if f.code is FindingCode.LISTEN_QUEUE_OVERFLOW
    )
    assert finding.remediation is not None
    # somaxconn is not the limit: raising it would change nothing.
    assert not any("somaxconn=" in c for c in finding.remediation.commands)
    assert "the application asked for 128" in finding.remediation.steps[0]
    assert not any("raise both" in step for step in finding.remediation.steps)

    rpf = clean_host(
        "router-1",
        IpReversePathFilterDrops=series(0, 50),
        RpFilterAll=series(1, 1),
        RpFilterStrictInterfaces=series(3, 3),
    )
    finding = next(
        f for f in assess_host_drops([rpf], ONSET).findings if f.code is FindingCode.REVERSE_PATH_FILTER_DROPS
    )
    assert any("all.rp_filter = 1 (strict)" in e.summary for e in finding.evidence)
    assert finding.remediation is not None
    assert "sysctl -w net.ipv4.conf.all.rp_filter=2" in finding.remediation.commands

    loose = clean_host(
        "router-1",
        IpReversePathFilterDrops=series(0, 50),
        RpFilterAll=series(2, 2),
        RpFilterStrictInterfaces=series(0, 0),
    )
    finding = next(
        f
        for f in assess_host_drops([loose], ONSET).findings
        if f.code is FindingCode.REVERSE_PATH_FILTER_DROPS
    )
    assert finding.remediation is not None
    # Nothing strict: loose mode drops only sources without any route, so the fix is the route.
    assert "no route to at all" in finding.remediation.steps[0]
    assert not any("rp_filter=2" in c for c in finding.remediation.commands)

    conntrack = clean_host("nat-1", ConntrackDrop=series(0, 40), NfConntrackMax=series(65536, 65536))
    finding = next(
        f
        for f in assess_host_drops([conntrack], ONSET).findings
        if f.code is FindingCode.CONNTRACK_TABLE_FULL
    )
    assert finding.remediation is not None
    assert "sysctl -w net.netfilter.nf_conntrack_max=131072" in finding.remediation.commands

    buffers = clean_host("ingest-1", TcpRcvQDrop=series(0, 40), TcpRmemMax=series(6291456, 6291456))
    finding = next(
        f
        for f in assess_host_drops([buffers], ONSET).findings
        if f.code is FindingCode.RECEIVE_BUFFER_PRUNING
    )
    assert finding.remediation is not None
    assert any("net.core.rmem_max=16777216" in c for c in finding.remediation.commands)


def test_without_published_settings_the_fix_stays_the_generic_one() -> None:
    finding = next(
        f
        for f in assess_host_drops(
            [clean_host("ingest-1", TcpListenOverflows=series(0, 300))], ONSET
        ).findings
        if f.code is FindingCode.LISTEN_QUEUE_OVERFLOW
    )
    assert not [e for e in finding.evidence if e.kind == "setting"]
    assert finding.remediation is not None
    assert "sysctl net.core.somaxconn" in finding.remediation.commands
