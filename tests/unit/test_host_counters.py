"""The host drop-counter reader on real counter text (tests/fixtures/host_counters, see its README)."""

from __future__ import annotations

from pathlib import Path

from dropsleuth.probe.host_counters import (
    ENA_ALLOWANCE_COUNTERS,
    firewall_rule_deltas,
    host_counter_deltas,
    parse_conntrack_stat,
    parse_ethtool_stats,
    parse_listen_queues,
    parse_softnet_dropped,
    parse_tc_qdisc_drops,
    parse_tc_qdiscs,
    qdisc_deltas,
    read_host_counters,
    totals_by_metric,
)
from dropsleuth.rules.qdisc import parse_qdisc_reference, qdisc_commands
from tests.unit.command_fixtures import HOST_SS, HOST_TC, captured, captured_firewall, refused_firewall

FIXTURES = Path(__file__).parents[1] / "fixtures" / "host_counters"


def fixture_ethtool(root: Path):  # type: ignore[no-untyped-def]
    def read(interface: str) -> str | None:
        path = root / f"ethtool-S-{interface}.txt"
        return path.read_text() if path.exists() else None

    return read


def test_a_real_hosts_files_give_every_counter_and_setting() -> None:
    found = read_host_counters(
        FIXTURES / "host",
        ethtool=None,
        tc=HOST_TC,
        firewall=captured_firewall(),
        listeners=HOST_SS,
        wall_clock=1.0,
    )
    for key in (
        "TcpExt.ListenOverflows",
        "TcpExt.ListenDrops",
        "TcpExt.TCPRcvQDrop",
        "TcpExt.PruneCalled",
        "TcpExt.RcvPruned",
        "TcpExt.TCPBacklogDrop",
        "TcpExt.IPReversePathFilter",
        "TcpExt.TCPTimeouts",
        "TcpExt.TCPSynRetrans",
        "Tcp.RetransSegs",
        "Tcp.OutSegs",
        "softnet.dropped",
        "conntrack.drop",
        "conntrack.insert_failed",
        "conntrack.early_drop",
        "nic.eth0.rx_dropped",
        "nic.eth0.rx_crc_errors",
        "nic.eth0.tx_dropped",
    ):
        assert key in found.counters, key
    # Loopback carries none of the traffic that matters.
    assert not any(k.startswith("nic.lo.") for k in found.counters)
    # softnet_stat's second column (dropped), not the third (time_squeeze, 3 on this machine).
    assert found.counters["softnet.dropped"] == 0
    assert found.counters["Tcp.OutSegs"] > found.counters["Tcp.RetransSegs"]
    assert {"conntrack.count", "conntrack.max"} <= set(found.gauges)
    assert found.gauges["setting.somaxconn"] == int(found.settings["net.core.somaxconn"])
    assert found.gauges["setting.tcp_rmem_max"] == int(found.settings["net.ipv4.tcp_rmem"].split()[2])
    assert found.gauges["setting.nf_conntrack_max"] == found.gauges["conntrack.max"]
    assert found.counters["qdisc.eth0.dropped"] == 0
    assert found.settings["net.core.somaxconn"].isdigit()
    assert len(found.settings["net.ipv4.tcp_rmem"].split()) == 3
    assert found.settings["net.ipv4.conf.eth0.rp_filter"] in {"0", "1", "2"}
    # No ENA interface: the allowances are not applicable, which is said, not zeroed.
    assert "not applicable" in found.settings["ena"]
    assert not any(k.startswith("ena.") for k in found.counters)
    assert found.unknown == {}


def test_a_missing_source_is_unknown_with_its_reason_never_zero(tmp_path: Path) -> None:
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/netstat").write_text((FIXTURES / "host/proc/net/netstat").read_text())
    found = read_host_counters(tmp_path, ethtool=None)
    assert "TcpExt.ListenOverflows" in found.counters
    assert "Tcp.RetransSegs" not in found.counters
    assert "could not be read" in found.unknown["proc/net/snmp"]
    assert "not loaded" in found.unknown["conntrack"]
    assert "softnet_stat" in found.unknown["softnet"]
    assert "/sys/class/net" in found.unknown["nic"]


def test_an_older_kernel_without_a_counter_reports_that_counter_unknown(tmp_path: Path) -> None:
    text = (FIXTURES / "host/proc/net/netstat").read_text()
    header, values, *rest = text.splitlines()
    names, numbers = header.split(), values.split()
    keep = [i for i, name in enumerate(names) if name != "TCPRcvQDrop"]
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/netstat").write_text(
        "\n".join([" ".join(names[i] for i in keep), " ".join(numbers[i] for i in keep), *rest]) + "\n"
    )
    found = read_host_counters(tmp_path, ethtool=None)
    assert "TcpExt.TCPRcvQDrop" not in found.counters
    assert "no TCPRcvQDrop" in found.unknown["TcpExt.TCPRcvQDrop"]
    assert "TcpExt.ListenOverflows" in found.counters


def test_the_listen_overflow_the_kernel_counted_shows_in_the_delta() -> None:
    before = read_host_counters(FIXTURES / "listen_overflow_before", ethtool=None)
    during = read_host_counters(FIXTURES / "listen_overflow_during", ethtool=None)
    delta = host_counter_deltas(before, during)
    assert delta["TcpExt.ListenOverflows"] == 12
    assert delta["TcpExt.ListenDrops"] == 12
    assert delta["TcpExt.IPReversePathFilter"] == 0
    assert delta["conntrack.drop"] == 0


def test_ena_allowances_are_read_from_ethtool_on_ena_interfaces_only() -> None:
    root = FIXTURES / "ena_host"
    calls: list[str] = []

    def ethtool(interface: str) -> str | None:
        calls.append(interface)
        return fixture_ethtool(root)(interface)

    found = read_host_counters(root, ethtool=ethtool)
    assert calls == ["ens5"]
    assert found.counters["ena.ens5.pps_allowance_exceeded"] == 15127
    assert {f"ena.ens5.{n}" for n in ENA_ALLOWANCE_COUNTERS} <= set(found.counters)
    assert "ena" not in found.settings
    assert "ena.ens5" not in found.unknown


def test_an_ena_interface_without_ethtool_is_unknown() -> None:
    found = read_host_counters(FIXTURES / "ena_host", ethtool=lambda _: None)
    assert "ethtool" in found.unknown["ena.ens5"]
    assert not any(k.startswith("ena.") for k in found.counters)


def test_an_old_ena_driver_without_allowance_counters_is_unknown() -> None:
    old = "NIC statistics:\n     tx_timeout: 0\n     suspend: 0\n     queue_0_tx_cnt: 2839311\n"
    found = read_host_counters(FIXTURES / "ena_host", ethtool=lambda _: old)
    assert "2.2.10" in found.unknown["ena.ens5"]


def test_parsers_on_the_files_own_text() -> None:
    assert parse_softnet_dropped("00000851 0000000a 00\n00009b51 00000010 03\n") == 0x1A
    assert parse_softnet_dropped("") is None
    stat = parse_conntrack_stat(
        "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop\n"
        "0000002a 0 0 0 0 0 0 0 0 00000001 0000000f 00000002\n"
        "0000002a 0 0 0 0 0 0 0 0 00000000 00000001 00000000\n"
    )
    assert (stat["insert_failed"], stat["drop"], stat["early_drop"]) == (1, 16, 2)
    assert parse_ethtool_stats("NIC statistics:\n     pps_allowance_exceeded: 7\n     junk\n") == {
        "pps_allowance_exceeded": 7
    }


def test_per_interface_counters_are_summed_by_metric() -> None:
    totals = totals_by_metric(
        {
            "nic.eth0.rx_dropped": 2,
            "nic.eth1.rx_dropped": 3,
            "ena.ens5.pps_allowance_exceeded": 4,
            "softnet.dropped": 1,
        }
    )
    assert totals == {"nic.rx_dropped": 5, "ena.pps_allowance_exceeded": 4, "softnet.dropped": 1}


# --- qdisc drops (tc -s qdisc show) ---------------------------------------------------------------------


def test_qdisc_drops_count_each_interfaces_root_qdisc_once() -> None:
    # A tbf shaper at 200 kbit/s with a 3,000-byte queue, flooded: it sent 5 and dropped 297.
    assert parse_tc_qdisc_drops(captured("qdisc/tc-s-qdisc-tbf.txt")() or "") == {"lo": 0, "va": 297}
    # An htb root and its pfifo leaf both show the leaf's 293 drops: counted once, from the root.
    assert parse_tc_qdisc_drops(captured("qdisc/tc-s-qdisc-htb.txt")() or "") == {"lo": 0, "vb": 293}


def test_qdisc_drops_are_per_interface_counters_without_loopback_and_unknown_without_tc() -> None:
    found = read_host_counters(
        FIXTURES / "host",
        ethtool=None,
        tc=captured("qdisc/tc-s-qdisc-tbf.txt"),
    )
    assert found.counters["qdisc.va.dropped"] == 297
    assert "qdisc.lo.dropped" not in found.counters
    assert totals_by_metric({"qdisc.va.dropped": 3, "qdisc.vb.dropped": 4})["qdisc.dropped"] == 7
    missing = read_host_counters(FIXTURES / "host", ethtool=None, tc=lambda: None)
    assert not any(k.startswith("qdisc.") for k in missing.counters)
    assert "tc -s qdisc show could not be run" in missing.unknown["qdisc"]


# --- the host firewall's drop rules ---------------------------------------------------------------------


def test_every_drop_rule_and_drop_policy_is_a_counter_of_its_own() -> None:
    found = read_host_counters(FIXTURES / "host", ethtool=None, firewall=captured_firewall())
    rules = firewall_rule_deltas(dict(found.counters.items()))
    assert rules == {
        "iptables filter INPUT rule 1: -A INPUT -p tcp -m tcp --dport 2222 -j DROP": 1,
        "iptables filter INPUT rule 2: -A INPUT -s 10.77.0.1/32 -p icmp -m icmp --icmp-type 8 -j REJECT "
        "--reject-with icmp-host-prohibited": 3,
        "iptables filter INPUT policy: DROP": 1,
        "iptables filter FORWARD policy: DROP": 0,
        'nft inet site_fw input handle 3: tcp dport 8443 counter drop comment "legacy admin port"': 1,
        "nft inet site_fw input handle 4: udp dport 5353 counter reject": 0,
    }
    # iptables-nft's own table is read once (from iptables-save), not again from nft's listing; the nft
    # rule without `counter` cannot be counted, and says so.
    assert found.gauges["firewall.drop_rules"] == 7
    assert found.gauges["firewall.uncounted_rules"] == 1
    assert "firewall" not in found.unknown


def test_a_firewall_the_agent_may_not_read_is_unknown_with_the_reason_never_zero() -> None:
    found = read_host_counters(FIXTURES / "host", ethtool=None, firewall=refused_firewall)
    assert "CAP_NET_ADMIN" in found.unknown["firewall"]
    assert "Operation not permitted" in found.unknown["firewall"]
    assert not any(k.startswith("fw.") for k in found.counters)
    assert not any(k.startswith("firewall.") for k in found.gauges)


# --- listeners (ss -ltnH) -------------------------------------------------------------------------------


def test_the_fullest_listener_stands_for_the_host() -> None:
    text = HOST_SS() or ""
    # A listener with backlog 4 that never accepts, 10 clients: ss shows 5 queued (backlog + 1).
    assert parse_listen_queues(text) == [(5, 4), (0, 128), (0, 511)]
    found = read_host_counters(FIXTURES / "host", ethtool=None, listeners=HOST_SS)
    assert (found.gauges["listen.fullest_queue"], found.gauges["listen.fullest_backlog"]) == (5, 4)
    quiet = read_host_counters(FIXTURES / "host", ethtool=None, listeners=lambda: "")
    assert "no TCP listener" in quiet.unknown["listeners"]


def test_rp_filter_is_published_as_conf_all_and_the_count_of_strict_interfaces(tmp_path: Path) -> None:
    conf = tmp_path / "proc/sys/net/ipv4/conf"
    for name, value in (
        ("all", "0"),
        ("default", "1"),
        ("lo", "1"),
        ("eth0", "1"),
        ("eth1", "2"),
        ("wg0", "0"),
    ):
        (conf / name).mkdir(parents=True)
        (conf / name / "rp_filter").write_text(value + "\n")
    found = read_host_counters(tmp_path, ethtool=None)
    # The kernel applies max(conf.all, conf.IFACE): only eth0 is strict (lo and default are not interfaces).
    assert found.gauges["setting.rp_filter_all"] == 0
    assert found.gauges["setting.rp_filter_strict_interfaces"] == 1
    (conf / "all/rp_filter").write_text("1\n")
    stricter = read_host_counters(tmp_path, ethtool=None)
    # conf.all = 1 makes wg0 strict too; eth1 stays loose (max(1, 2) = 2).
    assert stricter.gauges["setting.rp_filter_strict_interfaces"] == 2


def test_each_root_qdisc_is_named_with_its_parameters_and_the_command_for_its_kind() -> None:
    tbf = parse_tc_qdiscs(captured("qdisc/tc-s-qdisc-tbf.txt")() or "")
    assert [(q.reference, n) for q, n in tbf] == [
        ("lo root noqueue 0:", 0),
        ("va root tbf 8007: rate 200Kbit burst 1600b lat 56ms", 297),
    ]
    assert qdisc_commands(tbf[1][0]) == (
        "tc -s qdisc show dev va",
        "tc qdisc change dev va root tbf rate <RATE> burst 1600b latency 56ms",
    )
    htb = {q.kind: q for q, _ in parse_tc_qdiscs(captured("qdisc/tc-s-qdisc-htb.txt")() or "")}
    # The pfifo leaf (parent 1:10) is not a root: its drops are already the root's.
    assert set(htb) == {"noqueue", "htb"}
    assert "tc -s class show dev vb" in qdisc_commands(htb["htb"])
    parsed = parse_qdisc_reference(htb["htb"].reference)
    assert parsed == htb["htb"]
    found = read_host_counters(FIXTURES / "host", ethtool=None, tc=captured("qdisc/tc-s-qdisc-tbf.txt"))
    assert qdisc_deltas(found.counters) == {"va root tbf 8007: rate 200Kbit burst 1600b lat 56ms": 297}
