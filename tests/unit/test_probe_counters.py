"""The kernel-counter readers over the files as Linux writes them, and deltas across wraps and resets."""

# ruff: noqa: E501 -- the /proc texts below are verbatim, one line per kernel line

from __future__ import annotations

from pathlib import Path

import pytest

from dropsleuth.probe import counters
from tests.procfs import BOOT_ID, Readings, write_proc

# /proc/net/snmp of a 6.x kernel, verbatim (one header line and one value line per protocol).
SNMP = """\
Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits
Ip: 2 64 22776 0 0 0 0 0 22776 14087 0 0 0 0 0 0 0 0 0 14087
Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps
Icmp: 31 0 0 17 0 0 0 0 7 7 0 0 0 0 14 0 0 0 0 0 0 0 0 7 7 0 0 0 0
IcmpMsg: InType0 InType3 InType8 OutType0 OutType8
IcmpMsg: 7 17 7 7 7
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 319 287 4 8 0 22638 13981 42 0 49 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 137 0 3 138 3 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
"""

# The start of /proc/net/netstat (TcpExt is much longer on a real kernel; the pairs are what matter).
NETSTAT = """\
TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab BeyondWindow TSEcrRejected PAWSOldAck PAWSTimewait DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows ListenDrops TCPHPHits
TcpExt: 0 0 0 0 0 0 0 0 0 0 288 15 0 0 0 0 0 0 0 5 0 7 11 13 619
IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets
IpExt: 0 0 0 0 0 0 632098104 959811
"""

DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 3377355    4074    0    0    0     0          0         0  3377355    4074    0    0    0     0       0          0
  eth0: 632098104   18709    2    5    0     0          0         0   959811   10055    1    4    0     0       0          0
enp0s31f6: 0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
"""


def test_parse_snmp_table_pairs_each_header_with_its_values() -> None:
    table = counters.parse_snmp_table(SNMP)
    assert set(table) == {"Ip", "Icmp", "IcmpMsg", "Tcp", "Udp", "UdpLite"}
    assert table["Icmp"]["InDestUnreachs"] == 17
    assert table["IcmpMsg"] == {"InType0": 7, "InType3": 17, "InType8": 7, "OutType0": 7, "OutType8": 7}
    assert table["Tcp"]["RetransSegs"] == 42
    assert table["Tcp"]["MaxConn"] == -1  # a signed field stays a number
    assert table["Udp"]["RcvbufErrors"] == 3
    netstat = counters.parse_snmp_table(NETSTAT)
    assert netstat["TcpExt"]["ListenOverflows"] == 11
    assert netstat["TcpExt"]["ListenDrops"] == 13
    assert netstat["IpExt"]["OutOctets"] == 959811


def test_parse_snmp_table_skips_a_mismatched_pair() -> None:
    # A header paired with another protocol's values is skipped, not misread.
    assert counters.parse_snmp_table("Tcp: RetransSegs\nUdp: 5\n") == {}
    assert counters.parse_snmp_table("") == {}


def test_parse_net_dev_reads_errors_and_drops_per_interface() -> None:
    assert counters.parse_net_dev(DEV) == {
        "lo": {"rx_errors": 0, "rx_dropped": 0, "tx_errors": 0, "tx_dropped": 0},
        "eth0": {"rx_errors": 2, "rx_dropped": 5, "tx_errors": 1, "tx_dropped": 4},
        "enp0s31f6": {"rx_errors": 0, "rx_dropped": 0, "tx_errors": 0, "tx_dropped": 0},
    }


def test_snapshot_reads_a_proc_root(tmp_path: Path) -> None:
    proc = write_proc(
        tmp_path,
        Readings(
            dest_unreachs=9,
            in_type3=9,
            retrans=4,
            listen_overflows=2,
            listen_drops=3,
            rcvbuf_errors=6,
            pkt_too_bigs=1,
            eth0_rx_drop=8,
        ),
    )
    taken = counters.snapshot(wall_clock=100.0, proc=proc, counting_rule=lambda: None)
    assert taken.values == {
        "icmp_in_dest_unreachs": 9,
        "icmp_in_type3": 9,
        "icmp6_in_pkt_too_bigs": 1,
        "tcp_retrans_segs": 4,
        "tcp_listen_overflows": 2,
        "tcp_listen_drops": 3,
        "udp_rcvbuf_errors": 6,
        "frag_needed": 10,  # approximate: every ICMPv4 type 3 plus IPv6's exact Packet Too Big count
    }
    assert taken.frag_needed_exact is False
    assert any("approximate" in note for note in taken.notes)
    assert taken.interfaces["eth0"]["rx_dropped"] == 8
    assert taken.boot_id == BOOT_ID
    assert taken.taken_at == 100.0


def test_snapshot_prefers_the_exact_counting_rule(tmp_path: Path) -> None:
    proc = write_proc(tmp_path, Readings(in_type3=50, pkt_too_bigs=4))
    taken = counters.snapshot(proc=proc, counting_rule=lambda: {"frag_needed_v4": 3, "packet_too_big_v6": 4})
    assert taken.frag_needed_exact is True
    assert taken.values["frag_needed"] == 7
    assert taken.notes == ()


def test_an_empty_proc_root_reads_zeros_not_a_crash(tmp_path: Path) -> None:
    taken = counters.snapshot(proc=tmp_path, counting_rule=lambda: None)
    assert taken.values["tcp_retrans_segs"] == 0
    assert taken.interfaces == {}
    assert taken.boot_id is None


def test_deltas_over_an_interval(tmp_path: Path) -> None:
    first = counters.snapshot(
        wall_clock=1000.0,
        proc=write_proc(tmp_path / "a", Readings(in_type3=5, retrans=10, listen_overflows=1, eth0_rx_drop=2)),
        counting_rule=lambda: None,
    )
    second = counters.snapshot(
        wall_clock=1060.5,
        proc=write_proc(
            tmp_path / "b",
            Readings(
                in_type3=8,
                pkt_too_bigs=2,
                retrans=17,
                listen_overflows=4,
                listen_drops=1,
                rcvbuf_errors=5,
                eth0_rx_drop=3,
                eth0_tx_errs=2,
            ),
        ),
        counting_rule=lambda: None,
    )
    delta = counters.deltas(first, second)
    assert delta["interval_s"] == 60.5
    assert delta["frag_needed_exact"] is False
    assert delta["counters"]["frag_needed"] == 5  # 3 more type 3 + 2 Packet Too Big
    assert delta["counters"]["tcp_retrans_segs"] == 7
    assert delta["counters"]["tcp_listen_overflows"] == 3
    assert delta["counters"]["tcp_listen_drops"] == 1
    assert delta["counters"]["udp_rcvbuf_errors"] == 5
    assert delta["interfaces"]["eth0"] == {"rx_errors": 0, "rx_dropped": 1, "tx_errors": 2, "tx_dropped": 0}
    assert delta["interfaces"]["lo"] == {"rx_errors": 0, "rx_dropped": 0, "tx_errors": 0, "tx_dropped": 0}


def test_a_counter_that_went_down_after_a_reset_is_never_negative(tmp_path: Path) -> None:
    before = counters.snapshot(
        proc=write_proc(tmp_path / "a", Readings(retrans=90_000, in_type3=400, eth0_rx_drop=77)),
        counting_rule=lambda: None,
    )
    after = counters.snapshot(
        proc=write_proc(tmp_path / "b", Readings(retrans=12, in_type3=3, eth0_rx_drop=1)),
        counting_rule=lambda: None,
    )
    delta = counters.deltas(before, after)
    assert all(v >= 0 for v in delta["counters"].values())
    assert delta["counters"]["tcp_retrans_segs"] == 12  # counted from zero since the restart
    assert delta["counters"]["frag_needed"] == 3
    assert delta["interfaces"]["eth0"]["rx_dropped"] == 1


def test_an_interface_that_appeared_counts_from_zero() -> None:
    before = counters.CounterSnapshot(0.0, {}, {}, False)
    after = counters.CounterSnapshot(60.0, {}, {"wg0": {"rx_dropped": 4}}, False)
    assert counters.deltas(before, after)["interfaces"] == {"wg0": {"rx_dropped": 4}}


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (10, 10, 0),
        (10, 25, 15),
        (2**32 - 5, 3, 8),  # a 32-bit kernel's counter wrapped
        (2**32 - 5, 2**31, 2**31),  # too far for one interval's wrap: a restart
        (3_000_000_000, 100, 100),  # a restart from a large value, not a wrap
        (2**40, 7, 7),  # a 64-bit counter never wraps at 32 bits
        (None, 9, 9),
    ],
)
def test_counter_delta(before: int | None, after: int, expected: int) -> None:
    assert counters.counter_delta(before, after) == expected


def test_a_snapshot_round_trips_and_knows_when_it_is_stale(tmp_path: Path) -> None:
    taken = counters.snapshot(
        wall_clock=5000.0, proc=write_proc(tmp_path, Readings(retrans=3)), counting_rule=lambda: None
    )
    back = counters.snapshot_from_dict(counters.snapshot_to_dict(taken))
    assert back == taken
    assert counters.stale_reason(taken, boot_id=BOOT_ID, now=5060.0, max_age_s=180) is None
    assert "another boot" in (counters.stale_reason(taken, boot_id="other", now=5060.0, max_age_s=180) or "")
    assert "old" in (counters.stale_reason(taken, boot_id=BOOT_ID, now=5181.0, max_age_s=180) or "")
    assert "future" in (counters.stale_reason(taken, boot_id=BOOT_ID, now=4000.0, max_age_s=180) or "")
    assert counters.snapshot_from_dict({"taken_at": "x"}) is None
    assert counters.snapshot_from_dict(None) is None
