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
    keys = ("interface_id", "srcaddr", "dstaddr", "srcport", "dstport")
    groups: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
    for r in windowed(records, start, end):
        if r["action"] == "ACCEPT" and r["protocol"] == 6 and in_cidr(r["srcaddr"], source_cidr):
            groups[tuple(r[k] for k in keys)].append(r)
    rows = []
    for key, rs in groups.items():
        packets = sum(r["packets"] for r in rs)
        nbytes = sum(r["bytes"] for r in rs)
        if len(rs) < min_records or nbytes / packets > max_bytes_per_packet:
            continue
        # SYN-heavy: the share of the 5-tuple's records whose tcp-flags (OR over the interval) has SYN (2).
        syn = sum(1 for r in rs if r["tcp_flags"] & 2)
        rows.append(
            dict(zip(keys, key, strict=True))
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
