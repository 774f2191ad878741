"""A /proc-like directory with the counter files exactly as Linux writes them, for the counter readers.

``write_proc`` fills the four files ``dropsleuth.probe.counters.snapshot(proc=...)`` reads (and the boot id)
from a handful of values; everything else in them is the real layout of a 6.x kernel's files, so the
parsers meet the same header/value pairs, padding and unrelated fields they meet on a host.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BOOT_ID = "c37d7592-5d73-4c47-a1d2-f2ed22180add"


@dataclass(frozen=True)
class Readings:
    dest_unreachs: int = 0
    in_type3: int = 0
    retrans: int = 0
    listen_overflows: int = 0
    listen_drops: int = 0
    rcvbuf_errors: int = 0
    pkt_too_bigs: int = 0
    eth0_rx_errs: int = 0
    eth0_rx_drop: int = 0
    eth0_tx_errs: int = 0
    eth0_tx_drop: int = 0
    boot_id: str = BOOT_ID


def snmp_text(r: Readings) -> str:
    return (
        "Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos "
        "InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs "
        "ReasmFails FragOKs FragFails FragCreates OutTransmits\n"
        "Ip: 2 64 22776 0 0 0 0 0 22776 14087 0 0 0 0 0 0 0 0 0 14087\n"
        "Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs "
        "InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs "
        "OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs "
        "OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks "
        "OutAddrMaskReps\n"
        f"Icmp: {r.dest_unreachs + 7} 0 0 {r.dest_unreachs} 2 0 0 0 5 0 0 0 0 0 12 0 0 0 2 0 0 0 0 5 5 0 "
        "0 0 0\n"
        "IcmpMsg: InType0 InType3 InType8 InType11 OutType0 OutType3 OutType8\n"
        f"IcmpMsg: 5 {r.in_type3} 5 2 5 2 5\n"
        "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets "
        "CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n"
        f"Tcp: 1 200 120000 -1 319 287 4 8 3 22638 13981 {r.retrans} 0 49 0\n"
        "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors "
        "IgnoredMulti MemErrors\n"
        f"Udp: 137 0 {r.rcvbuf_errors} 138 {r.rcvbuf_errors} 0 0 0 0\n"
        "UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors "
        "IgnoredMulti MemErrors\n"
        "UdpLite: 0 0 0 0 0 0 0 0 0\n"
    )


def netstat_text(r: Readings) -> str:
    return (
        "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned "
        "OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab "
        "DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows ListenDrops TCPHPHits\n"
        f"TcpExt: 0 0 0 0 0 0 0 0 0 0 288 15 0 0 0 5 0 7 {r.listen_overflows} {r.listen_drops} 619\n"
        "IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets "
        "OutOctets\n"
        "IpExt: 0 0 0 0 0 0 632098104 959811\n"
        "MPTcpExt: MPCapableSYNRX MPCapableSYNTX\n"
        "MPTcpExt: 0 0\n"
    )


def snmp6_text(r: Readings) -> str:
    rows = [
        ("Ip6InReceives", 1),
        ("Ip6InTooBigErrors", 0),
        ("Icmp6InMsgs", r.pkt_too_bigs + 1),
        ("Icmp6InErrors", 1),
        ("Icmp6InDestUnreachs", 1),
        ("Icmp6InPktTooBigs", r.pkt_too_bigs),
        ("Icmp6InTimeExcds", 0),
        ("Icmp6InType1", 1),
    ]
    return "".join(f"{name:<32}\t{value}\n" for name, value in rows)


def dev_text(r: Readings) -> str:
    return (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo "
        "colls carrier compressed\n"
        "    lo: 3377355    4074    0    0    0     0          0         0  3377355    4074    0    0    0"
        "     0       0          0\n"
        f"  eth0: 632098104   18709 {r.eth0_rx_errs:>4} {r.eth0_rx_drop:>4}    0     0          0         0"
        f"   959811   10055 {r.eth0_tx_errs:>4} {r.eth0_tx_drop:>4}    0     0       0          0\n"
    )


def write_proc(root: Path, readings: Readings) -> Path:
    """Write ``readings`` as ``root/net/{snmp,netstat,snmp6,dev}`` and the boot id; returns ``root``."""
    (root / "net").mkdir(parents=True, exist_ok=True)
    (root / "sys/kernel/random").mkdir(parents=True, exist_ok=True)
    (root / "net/snmp").write_text(snmp_text(readings))
    (root / "net/netstat").write_text(netstat_text(readings))
    (root / "net/snmp6").write_text(snmp6_text(readings))
    (root / "net/dev").write_text(dev_text(readings))
    (root / "sys/kernel/random/boot_id").write_text(readings.boot_id + "\n")
    return root
