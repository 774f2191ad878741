"""Plain-Python answers to the flow-log queries, computed from the records the synthesizer produced.

Each function states the query's meaning independently of its SQL; the tests compare the engine's rows
with these.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

Record = dict[str, Any]


def in_cidr(address: str | None, cidr: str) -> bool:
    if address is None:
        return False
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def windowed(records: Iterable[Record], start: datetime, end: datetime) -> list[Record]:
    lo, hi = start.timestamp(), end.timestamp()
    return [r for r in records if r["start"] is not None and lo <= r["start"] < hi]


def minute_of(record: Record) -> datetime:
    return datetime.fromtimestamp(record["start"] // 60 * 60, UTC)


FLOW_KEYS = ("interface_id", "srcaddr", "dstaddr", "srcport", "dstport")


def accepted_tcp_flows(
    records: list[Record], start: datetime, end: datetime, source_cidr: str
) -> dict[tuple[Any, ...], list[Record]]:
    """The window's ACCEPTed TCP records from ``source_cidr``, by interface and 5-tuple (``FLOW_KEYS``)."""
    groups: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
    for r in windowed(records, start, end):
        if r["action"] == "ACCEPT" and r["protocol"] == 6 and in_cidr(r["srcaddr"], source_cidr):
            groups[tuple(r[k] for k in FLOW_KEYS)].append(r)
    return groups


def rejects_timeline(records: list[Record], start: datetime, end: datetime) -> list[dict[str, Any]]:
    per_minute: dict[datetime, list[Record]] = defaultdict(list)
    for r in windowed(records, start, end):
        if r["action"] == "REJECT":
            per_minute[minute_of(r)].append(r)
    return [
        {
            "minute": m,
            "rejects": len(rs),
            "packets": sum(r["packets"] for r in rs),
            "bytes": sum(r["bytes"] for r in rs),
        }
        for m, rs in sorted(per_minute.items())
    ]


def top_rejected_flows(records: list[Record], start: datetime, end: datetime) -> list[dict[str, Any]]:
    keys = ("interface_id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol")
    groups: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
    for r in windowed(records, start, end):
        if r["action"] == "REJECT":
            groups[tuple(r[k] for k in keys)].append(r)
    rows = [
        dict(zip(keys, key, strict=True))
        | {
            "records": len(rs),
            "rejected_packets": sum(r["packets"] for r in rs),
            "rejected_bytes": sum(r["bytes"] for r in rs),
            "first_seen": datetime.fromtimestamp(min(r["start"] for r in rs), UTC),
            "last_seen": datetime.fromtimestamp(max(r["end"] for r in rs), UTC),
        }
        for key, rs in groups.items()
    ]
    rows.sort(
        key=lambda x: (
            -x["rejected_packets"], -x["records"], x["srcaddr"], x["dstaddr"], x["srcport"], x["dstport"],
            x["protocol"], x["interface_id"],
        )
    )  # fmt: skip
    return rows[:50]


def icmp_rejects(
    records: list[Record], start: datetime, end: datetime, source_cidr: str
) -> list[dict[str, Any]]:
    per_minute: dict[datetime, list[Record]] = defaultdict(list)
    for r in windowed(records, start, end):
        if r["action"] == "REJECT" and r["protocol"] in (1, 58) and in_cidr(r["dstaddr"], source_cidr):
            per_minute[minute_of(r)].append(r)
    return [
        {
            "minute": m,
            "rejects": len(rs),
            "packets": sum(r["packets"] for r in rs),
            "senders": len({r["srcaddr"] for r in rs}),
        }
        for m, rs in sorted(per_minute.items())
    ]


def upload_throughput(
    records: list[Record],
    start: datetime,
    end: datetime,
    source_cidr: str,
    *,
    destination_service: str | None = None,
    destination_cidr: str | None = None,
) -> list[dict[str, Any]]:
    per_minute: dict[datetime, list[Record]] = defaultdict(list)
    for r in windowed(records, start, end):
        to_destination = (
            destination_service is not None and r["pkt_dst_aws_service"] == destination_service
        ) or (destination_cidr is not None and in_cidr(r["dstaddr"], destination_cidr))
        if r["action"] == "ACCEPT" and in_cidr(r["srcaddr"], source_cidr) and to_destination:
            per_minute[minute_of(r)].append(r)
    return [
        {
            "minute": m,
            "mbps": sum(r["bytes"] for r in rs) * 8 / 60 / 1_000_000,
            "bytes": sum(r["bytes"] for r in rs),
            "packets": sum(r["packets"] for r in rs),
            "flows": len(rs),
        }
        for m, rs in sorted(per_minute.items())
    ]


def stalled_flows(
    records: list[Record],
    start: datetime,
    end: datetime,
    source_cidr: str,
    *,
    min_records: int = 3,
    max_bytes_per_packet: float = 160,
) -> list[dict[str, Any]]:
    rows = []
    for key, rs in accepted_tcp_flows(records, start, end, source_cidr).items():
        packets = sum(r["packets"] for r in rs)
        nbytes = sum(r["bytes"] for r in rs)
        if len(rs) < min_records or nbytes / packets > max_bytes_per_packet:
            continue
        # SYN-heavy: the share of the 5-tuple's records whose tcp-flags (OR over the interval) has SYN (2).
        syn = sum(1 for r in rs if r["tcp_flags"] & 2)
        rows.append(
            dict(zip(FLOW_KEYS, key, strict=True))
            | {
                "records": len(rs),
                "total_packets": packets,
                "total_bytes": nbytes,
                "bytes_per_packet": nbytes / packets,
                "syn_records": syn,
                "syn_share": syn / len(rs),
                "first_seen": datetime.fromtimestamp(min(r["start"] for r in rs), UTC),
                "last_seen": datetime.fromtimestamp(max(r["end"] for r in rs), UTC),
            }
        )
    rows.sort(
        key=lambda x: (
            -x["syn_share"], -x["records"], -x["total_packets"], x["srcaddr"], x["srcport"], x["dstaddr"],
            x["dstport"], x["interface_id"],
        )
    )  # fmt: skip
    return rows[:100]


def syn_rst_by_destination(
    records: list[Record], start: datetime, end: datetime, source_cidr: str
) -> list[dict[str, Any]]:
    """Connection attempts from the sources (a 5-tuple with SYN and no ACK in a record), per destination
    with the totals over all destinations: unanswered when no record of the reverse 5-tuple carries SYN-ACK
    (18), reset when a record of either direction carries RST (4). ACCEPTed TCP records of the window only.
    Addresses are the packet's own (pkt-srcaddr/pkt-dstaddr, else srcaddr/dstaddr); an attempt seen on
    several interfaces is one attempt, its SYN records counted on the interface with the most."""
    tcp = [r for r in windowed(records, start, end) if r["action"] == "ACCEPT" and r["protocol"] == 6]

    def tuple_of(r: Record) -> tuple[Any, ...]:
        src, dst = r["pkt_srcaddr"] or r["srcaddr"], r["pkt_dstaddr"] or r["dstaddr"]
        return (src, r["srcport"], dst, r["dstport"])

    flags: dict[tuple[Any, ...], int] = defaultdict(int)
    for r in tcp:
        flags[tuple_of(r)] |= r["tcp_flags"]
    per_interface: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    first_syn: dict[tuple[Any, ...], int] = {}
    for r in tcp:
        key = tuple_of(r)
        if in_cidr(key[0], source_cidr) and r["tcp_flags"] & 18 == 2:
            per_interface[key][r["interface_id"]] += 1
            first_syn[key] = min(first_syn.get(key, r["start"]), r["start"])
    per_destination: dict[tuple[str, int], dict[str, Any]] = defaultdict(
        lambda: {"attempts": 0, "unanswered": 0, "unanswered_syn_records": 0, "reset_attempts": 0,
                 "first_unanswered": None, "last_unanswered": None}
    )  # fmt: skip
    for (src, sport, dst, dport), counts in per_interface.items():
        back = flags.get((dst, dport, src, sport), 0)
        forth = flags.get((src, sport, dst, dport), 0)
        row = per_destination[(dst, dport)]
        row["attempts"] += 1
        if back & 18 != 18:
            at = first_syn[(src, sport, dst, dport)]
            row["unanswered"] += 1
            row["unanswered_syn_records"] += max(counts.values())
            row["first_unanswered"] = min(at, row["first_unanswered"] or at)
            row["last_unanswered"] = max(at, row["last_unanswered"] or at)
        if (back | forth) & 4:
            row["reset_attempts"] += 1
    counted = ("attempts", "unanswered", "unanswered_syn_records", "reset_attempts")
    rows = [
        {"dstaddr": dst, "dstport": dport, **{k: row[k] for k in counted}}
        | {
            "unanswered_share": row["unanswered"] / row["attempts"],
            "reset_share": row["reset_attempts"] / row["attempts"],
            "first_unanswered": row["first_unanswered"],
            "last_unanswered": row["last_unanswered"],
            "all_attempts": sum(r["attempts"] for r in per_destination.values()),
            "all_destinations": len(per_destination),
        }
        for (dst, dport), row in per_destination.items()
    ]
    rows.sort(
        key=lambda x: (-x["unanswered"], -x["reset_attempts"], -x["attempts"], x["dstaddr"], x["dstport"])
    )
    return rows[:50]


def flow_packet_sizes(
    records: list[Record], start: datetime, end: datetime, source_cidr: str, *, min_packets: int = 10
) -> list[dict[str, Any]]:
    rows = []
    for key, rs in accepted_tcp_flows(records, start, end, source_cidr).items():
        packets = sum(r["packets"] for r in rs)
        nbytes = sum(r["bytes"] for r in rs)
        if packets < min_packets:
            continue
        rows.append(
            dict(zip(FLOW_KEYS, key, strict=True))
            | {
                "records": len(rs),
                "total_packets": packets,
                "total_bytes": nbytes,
                "bytes_per_packet": nbytes / packets,
            }
        )
    rows.sort(
        key=lambda x: (
            -x["bytes_per_packet"], -x["total_packets"], x["srcaddr"], x["srcport"], x["dstaddr"],
            x["dstport"], x["interface_id"],
        )
    )  # fmt: skip
    return rows[:100]


def rejected_replies(records: list[Record], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per interface and replying peer (address, port): the connections (5-tuples) whose SYN-ACK (flags
    with 18) the interface REJECTed; requested_here when an ACCEPTed record of the reverse 5-tuple with SYN
    and no ACK is on the same interface, else orphaned, requested_elsewhere when one is on another interface
    (request_interface the smallest such interface). TCP records of the window only; packet addresses."""
    tcp = [r for r in windowed(records, start, end) if r["protocol"] == 6]

    def tuple_of(r: Record) -> tuple[Any, ...]:
        return (
            r["pkt_srcaddr"] or r["srcaddr"],
            r["srcport"],
            r["pkt_dstaddr"] or r["dstaddr"],
            r["dstport"],
        )

    requested_on: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    replies: dict[tuple[str, tuple[Any, ...]], list[Record]] = defaultdict(list)
    for r in tcp:
        if r["action"] == "ACCEPT" and r["tcp_flags"] & 18 == 2:
            requested_on[tuple_of(r)].add(r["interface_id"])
        if r["action"] == "REJECT" and r["tcp_flags"] & 18 == 18:
            replies[(r["interface_id"], tuple_of(r))].append(r)
    rows: dict[tuple[str, str, int], dict[str, Any]] = {}
    for (eni, (peer, peer_port, requester, requester_port)), rs in replies.items():
        row = rows.setdefault(
            (eni, peer, peer_port),
            {"interface_id": eni, "peer_addr": peer, "peer_port": peer_port, "rejected_connections": 0,
             "rejected_records": 0, "rejected_packets": 0, "requested_here": 0, "orphaned": 0,
             "requested_elsewhere": 0, "request_interface": None, "first_orphaned": None,
             "last_orphaned": None},
        )  # fmt: skip
        row["rejected_connections"] += 1
        row["rejected_records"] += len(rs)
        row["rejected_packets"] += sum(r["packets"] for r in rs)
        seen = requested_on.get((requester, requester_port, peer, peer_port), set())
        if eni in seen:
            row["requested_here"] += 1
            continue
        row["orphaned"] += 1
        first, last = min(r["start"] for r in rs), max(r["start"] for r in rs)
        row["first_orphaned"] = min(first, row["first_orphaned"] or first)
        row["last_orphaned"] = max(last, row["last_orphaned"] or last)
        if seen:
            row["requested_elsewhere"] += 1
            elsewhere = min(seen)
            current = row["request_interface"]
            row["request_interface"] = elsewhere if current is None else min(current, elsewhere)
    ordered = sorted(
        rows.values(),
        key=lambda x: (
            -x["orphaned"],
            -x["rejected_packets"],
            x["interface_id"],
            x["peer_addr"],
            x["peer_port"],
        ),
    )
    return ordered[:50]
