"""Flow-log records as AWS delivers them, synthesized from a traffic timeline (deterministic per seed).

A ``TrafficTimeline`` is data: a site's hosts uploading to a destination (an AWS service such as S3, or a
CIDR) through the VPC's ENIs at a baseline throughput, plus lists of events — black-hole windows, port
scans, idle ENIs — that the demo and the tests compose into incidents. ``synthesize`` turns it into
records (dicts keyed by ``schema`` column names); ``write_parquet`` and ``write_text`` lay them out as S3
delivery does, in a directory or a bucket.

What a PMTUD black hole looks like in flow logs (docs/reference/aws-facts.md, "VPC Flow Logs"): the packets
over the path MTU vanish *before* the ENI, so there is no REJECT for them; the ENI sees connections that keep
sending a few small packets (handshakes, window probes, retransmitted small segments) over several minutes,
new connections with SYN each minute, a throughput collapse, and — when a NACL denies the returning ICMP
frag-needed — REJECTed ICMP (protocol 1, ports 0) toward the site's hosts.

Layout (VPC User Guide, "Flow log files" for S3, Parquet, Hive-compatible, per hour)::

    <prefix>/AWSLogs/aws-account-id=ID/aws-service=vpcflowlogs/aws-region=R/year=YYYY/month=MM/day=DD/hour=HH/
        ID_vpcflowlogs_R_fl-…_YYYYMMDDTHHmmZ_hash.log.parquet   (or .log.gz for text)

A file holds records by their **end** time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import ipaddress
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dropsleuth.aws import clients
from dropsleuth.flowlogs.schema import DEFAULT_V2_FIELDS, FIELDS, FIELDS_BY_NAME

if TYPE_CHECKING:
    import pyarrow as pa
    from mypy_boto3_s3 import S3Client

Record = dict[str, Any]

# IANA protocol numbers as flow logs write them.
TCP, UDP, ICMP = 6, 17, 1
# tcp-flags bits (VPC User Guide, "Flow log records": FIN 1, SYN 2, RST 4; SYN-ACK is logged as 18).
FIN, SYN, RST, SYN_ACK = 1, 2, 4, 18
# traffic-path of egress records (VPC User Guide): 1 = through another resource in the same VPC (a NAT
# gateway's interface), 3 = through a virtual private gateway, 8 = through an internet gateway.
PATH_IN_VPC, PATH_VGW, PATH_IGW = 1, 3, 8
_MSS_PAYLOAD = 1400  # bytes per full data packet on a ~1446-byte VPN path
_ACK_BYTES = 52


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Destination(_Model):
    """Where the site uploads to: addresses in ``cidr``; ``service`` fills ``pkt-dst-aws-service``."""

    cidr: str = "52.218.0.0/17"
    service: str | None = "S3"
    port: int = Field(443, ge=1, le=65535)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        ipaddress.ip_network(value, strict=False)
        return value


class BlackHole(_Model):
    """A window (minutes from the timeline's start) where packets above the path MTU vanish.

    ``recovery_minute`` None: until the end. ``icmp_rejected``: a NACL denies the frag-needed the path
    sends back, which shows as REJECTed ICMP toward the site's hosts.
    """

    onset_minute: int = Field(ge=0)
    recovery_minute: int | None = None
    degraded_mbps: float = Field(1.8, ge=0)
    stalled_flows_per_host: int = Field(2, ge=0)
    retries_per_host_per_minute: int = Field(1, ge=0)
    icmp_rejected: bool = True
    icmp_per_host_per_minute: int = Field(4, ge=0)
    icmp_sender: str | None = None
    """Who sends the frag-needed (default: the first ENI's address)."""

    def active(self, minute: int, duration: int) -> bool:
        end = duration if self.recovery_minute is None else self.recovery_minute
        return self.onset_minute <= minute < end


class PortScan(_Model):
    """Security-group REJECTs: ``source_ip`` probing ``ports`` on the ENIs, ``attempts_per_minute`` each."""

    source_ip: str = "198.51.100.23"
    ports: tuple[int, ...] = (22, 3389)
    start_minute: int = Field(0, ge=0)
    end_minute: int | None = None
    attempts_per_minute: int = Field(3, ge=1)


class ReturnRejects(_Model):
    """The VPC's answers to the site REJECTed on the way out (a NACL without the ephemeral port range):
    the site's SYNs are ACCEPTed inbound, the SYN-ACKs from the destination port are REJECTed outbound."""

    start_minute: int = Field(0, ge=0)
    end_minute: int | None = None
    attempts_per_host_per_minute: int = Field(3, ge=1)


class ConnectTimeouts(_Model):
    """Connection attempts of the site's hosts toward one destination that get no answer.

    Each attempt is one record: the SYN and its retransmissions (Linux: after 1 s, 3 s, 7 s …) until the
    client's connect timeout, ``syn_packets`` packets of 60 bytes, ``tcp-flags`` 2; nothing comes back.
    Behind a NAT gateway out of source ports the gateway's interface logs the instance's leg, and no leg
    toward the destination (there was no port to send it from).
    """

    start_minute: int = Field(0, ge=0)
    end_minute: int | None = None
    attempts_per_host_per_minute: int = Field(20, ge=1)
    syn_packets: int = Field(4, ge=1, le=8)
    """The SYN and its retransmissions at 1, 3 and 7 s, before a 10 s connect timeout."""

    def active(self, minute: int, duration: int) -> bool:
        end = duration if self.end_minute is None else self.end_minute
        return self.start_minute <= minute < end


class NatInterface(_Model):
    """The network interface of the NAT gateway the site's hosts (instances of the VPC) go out through.

    Its records, as the VPC User Guide's NAT gateway example shows them ("Flow log record examples"): the
    instance's leg (``dstaddr`` the gateway's private address, ``pkt-dstaddr`` the destination), the
    gateway's leg to the destination from its private address and a port of its own, the answer back to
    the gateway, and the answer to the instance (``srcaddr`` the gateway, ``pkt-srcaddr`` the destination).
    """

    eni_id: str
    private_ip: str


class TrafficTimeline(_Model):
    """A site's traffic through a VPC over ``duration_minutes`` from ``start``, as data."""

    start: datetime
    duration_minutes: int = Field(60, ge=1, le=60 * 24 * 31)
    seed: int = 0
    account_id: str = "123456789012"
    region: str = "eu-west-1"
    az_id: str = "euw1-az1"
    vpc_id: str = "vpc-0a1b2c3d4e5f60718"
    vpc_cidr: str = "10.20.0.0/16"
    subnet_id: str = "subnet-0a1b2c3d4e5f60718"
    instance_id: str | None = None
    eni_ids: tuple[str, ...] = ("eni-0a1b2c3d4e5f60718",)
    eni_ips: tuple[str, ...] = ("10.20.1.10",)
    idle_eni_ids: tuple[str, ...] = ()
    """ENIs with no traffic: one NODATA record each per minute."""
    site_cidr: str = "192.168.50.0/24"
    site_hosts: tuple[str, ...] = ("192.168.50.10", "192.168.50.11")
    destination: Destination = Destination()
    baseline_mbps: float = Field(42.0, ge=0)
    flows_per_host: int = Field(4, ge=1)
    flow_lifetime_minutes: int = Field(5, ge=1)
    black_holes: tuple[BlackHole, ...] = ()
    scans: tuple[PortScan, ...] = ()
    return_rejects: tuple[ReturnRejects, ...] = ()
    connect_timeouts: tuple[ConnectTimeouts, ...] = ()
    nat: NatInterface | None = None
    """The site's hosts are instances of the VPC (``eni_ips`` are their addresses) going out through this
    NAT gateway: their own interfaces log their flows as egress, and the gateway's interface logs them too."""
    packet_bytes: int = Field(_MSS_PAYLOAD, ge=576, le=9216)
    """Bytes per full data packet the site's hosts get through (their MSS or clamp + 40)."""
    noise_flows_per_minute: int = Field(6, ge=0)
    flow_log_id: str = "fl-0a1b2c3d4e5f60718"

    @model_validator(mode="after")
    def _consistent(self) -> TrafficTimeline:
        if self.start.tzinfo is None:
            raise ValueError("start needs a time zone (UTC)")
        if len(self.eni_ids) != len(self.eni_ips) or not self.eni_ids:
            raise ValueError("give one address in eni_ips per ENI in eni_ids")
        site = ipaddress.ip_network(self.site_cidr, strict=False)
        for host in self.site_hosts:
            if ipaddress.ip_address(host) not in site:
                raise ValueError(f"site host {host} is outside site_cidr {self.site_cidr}")
        if self.nat is not None and tuple(self.site_hosts) != tuple(self.eni_ips):
            raise ValueError("behind a NAT gateway the site's hosts are the instances: site_hosts = eni_ips")
        return self

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC).replace(second=0, microsecond=0)

    @property
    def end_utc(self) -> datetime:
        return self.start_utc + timedelta(minutes=self.duration_minutes)


def _base(t: TrafficTimeline, eni: int, minute_start: int, rng: random.Random) -> Record:
    record: Record = {f.column: None for f in FIELDS}
    record.update(
        version=5,
        account_id=t.account_id,
        interface_id=t.eni_ids[eni],
        start=minute_start + rng.randint(0, 4),
        # With 1-minute aggregation a record closes up to a few seconds after its minute; the records of a
        # minute ending at :59 therefore land in the next hour's file.
        end=minute_start + 60 + rng.randint(0, 9),
        log_status="OK",
        vpc_id=t.vpc_id,
        subnet_id=t.subnet_id,
        instance_id=t.instance_id,
        type="IPv4",
        region=t.region,
        az_id=t.az_id,
    )
    return record


def _flow(
    t: TrafficTimeline,
    rng: random.Random,
    minute_start: int,
    *,
    eni: int,
    src: str,
    dst: str,
    sport: int,
    dport: int,
    protocol: int,
    packets: int,
    nbytes: int,
    action: str,
    flags: int,
    direction: str,
    src_service: str | None = None,
    dst_service: str | None = None,
) -> Record:
    record = _base(t, eni, minute_start, rng)
    record.update(
        srcaddr=src,
        dstaddr=dst,
        srcport=sport,
        dstport=dport,
        protocol=protocol,
        packets=max(1, packets),
        bytes=max(1, nbytes),
        action=action,
        tcp_flags=flags,
        pkt_srcaddr=src,
        pkt_dstaddr=dst,
        pkt_src_aws_service=src_service,
        pkt_dst_aws_service=dst_service,
        flow_direction=direction,
        traffic_path=PATH_VGW if direction == "egress" else None,
    )
    return record


def _destination_ip(t: TrafficTimeline, index: int) -> str:
    network = ipaddress.ip_network(t.destination.cidr, strict=False)
    if network.num_addresses <= 20:
        # A single host or a small block: its own addresses.
        return str(network.network_address + index % network.num_addresses)
    return str(network.network_address + 10 + index % max(1, network.num_addresses - 20))


def synthesize(t: TrafficTimeline) -> list[Record]:
    """Every record of the timeline, sorted by start time (same timeline and seed → same records)."""
    rng = random.Random(t.seed)  # noqa: S311 -- reproducible test data, not secrets
    records: list[Record] = []
    unanswered: list[Record] = []
    t0 = int(t.start_utc.timestamp())
    hosts = len(t.site_hosts)
    for minute in range(t.duration_minutes):
        at = t0 + 60 * minute
        holes = [b for b in t.black_holes if b.active(minute, t.duration_minutes)]
        for h, host in enumerate(t.site_hosts):
            eni = h % len(t.eni_ids)
            if holes:
                records.extend(
                    _black_hole_minute(
                        t, rng=rng, at=at, minute=minute, h=h, host=host, eni=eni, hole=holes[0]
                    )
                )
            else:
                records.extend(
                    _upload_minute(
                        t,
                        rng=rng,
                        at=at,
                        minute=minute,
                        h=h,
                        host=host,
                        eni=eni,
                        host_mbps=t.baseline_mbps / hosts,
                    )
                )
        for scan in t.scans:
            end = t.duration_minutes if scan.end_minute is None else scan.end_minute
            if scan.start_minute <= minute < end:
                for port in scan.ports:
                    for _ in range(scan.attempts_per_minute):
                        eni = rng.randrange(len(t.eni_ids))
                        records.append(
                            _flow(
                                t,
                                rng,
                                at,
                                eni=eni,
                                src=scan.source_ip,
                                dst=t.eni_ips[eni],
                                sport=rng.randint(32768, 60999),
                                dport=port,
                                protocol=TCP,
                                packets=1,
                                nbytes=44,
                                action="REJECT",
                                flags=SYN,
                                direction="ingress",
                            )
                        )
        for rejects in t.return_rejects:
            end = t.duration_minutes if rejects.end_minute is None else rejects.end_minute
            if rejects.start_minute <= minute < end:
                records.extend(_return_reject_minute(t, rng, at, rejects))
        for timeouts in t.connect_timeouts:
            if timeouts.active(minute, t.duration_minutes):
                unanswered.extend(_connect_timeout_minute(t, rng, at, timeouts))
        records.extend(_noise_minute(t, rng, at))
        for idle in t.idle_eni_ids:
            record: Record = {f.column: None for f in FIELDS}
            record.update(
                version=5,
                account_id=t.account_id,
                interface_id=idle,
                start=at,
                end=at + 60,
                log_status="NODATA",
                vpc_id=t.vpc_id,
                subnet_id=t.subnet_id,
                region=t.region,
                az_id=t.az_id,
            )
            records.append(record)
    if t.nat is not None:
        records = _through_nat(t, records, unanswered)
    else:
        records.extend(unanswered)
    records.sort(key=lambda r: (r["start"], r["interface_id"], r["srcaddr"] or "", r["srcport"] or 0))
    return records


def _connect_timeout_minute(
    t: TrafficTimeline, rng: random.Random, at: int, timeouts: ConnectTimeouts
) -> list[Record]:
    return [
        _flow(
            t,
            rng,
            at,
            eni=h % len(t.eni_ids),
            src=host,
            dst=_destination_ip(t, 0),
            sport=rng.randint(32768, 60999),
            dport=t.destination.port,
            protocol=TCP,
            packets=timeouts.syn_packets,
            nbytes=60 * timeouts.syn_packets,
            action="ACCEPT",
            flags=SYN,
            direction="ingress",
            dst_service=t.destination.service,
        )
        for h, host in enumerate(t.site_hosts)
        for _ in range(timeouts.attempts_per_host_per_minute)
    ]


def _through_nat(t: TrafficTimeline, records: list[Record], unanswered: list[Record]) -> list[Record]:
    """The records of hosts inside the VPC going out through a NAT gateway (``NatInterface``).

    The hosts' own interfaces log their flows to the destination as egress (through another resource of the
    VPC: the gateway), the answers as ingress. The gateway's interface logs each flow twice — the instance's
    leg and its own leg from a port it allocated — and each answer twice; an unanswered attempt only as
    the instance's leg (``ConnectTimeouts``).
    """
    nat = t.nat
    assert nat is not None
    hosts = set(t.site_hosts)
    destination = ipaddress.ip_network(t.destination.cidr, strict=False)
    ports: dict[tuple[str, int], int] = {}

    def nat_port(host: str, sport: int) -> int:
        return ports.setdefault((host, sport), 1024 + len(ports) % 64000)

    def outside(address: str | None) -> bool:
        return address is not None and ipaddress.ip_address(address) in destination

    def on_nat(record: Record, **fields: Any) -> Record:
        return record | {"interface_id": nat.eni_id, "instance_id": None} | fields

    result: list[Record] = []
    for record in records:
        src, dst = record["srcaddr"], record["dstaddr"]
        if src in hosts and outside(dst):
            result.append(record | {"flow_direction": "egress", "traffic_path": PATH_IN_VPC})
            result.append(on_nat(record, dstaddr=nat.private_ip, flow_direction="ingress", traffic_path=None))
            result.append(
                on_nat(record, srcaddr=nat.private_ip, pkt_srcaddr=nat.private_ip,
                       srcport=nat_port(src, record["srcport"]), flow_direction="egress",
                       traffic_path=PATH_IGW)
            )  # fmt: skip
        elif dst in hosts and outside(src):
            result.append(record | {"flow_direction": "ingress", "traffic_path": None})
            result.append(
                on_nat(record, dstaddr=nat.private_ip, pkt_dstaddr=nat.private_ip,
                       dstport=nat_port(dst, record["dstport"]), flow_direction="ingress",
                       traffic_path=None)
            )  # fmt: skip
            result.append(
                on_nat(record, srcaddr=nat.private_ip, flow_direction="egress", traffic_path=PATH_IN_VPC)
            )
        else:
            result.append(record)
    for record in unanswered:
        result.append(record | {"flow_direction": "egress", "traffic_path": PATH_IN_VPC})
        result.append(on_nat(record, dstaddr=nat.private_ip, flow_direction="ingress", traffic_path=None))
    return result


def _return_reject_minute(
    t: TrafficTimeline, rng: random.Random, at: int, rejects: ReturnRejects
) -> list[Record]:
    records = []
    for h, host in enumerate(t.site_hosts):
        eni = h % len(t.eni_ids)
        for _ in range(rejects.attempts_per_host_per_minute):
            sport = rng.randint(32768, 60999)
            common = {"eni": eni, "protocol": TCP, "packets": 1, "nbytes": 60}
            records.append(
                _flow(t, rng, at, src=host, dst=t.eni_ips[eni], sport=sport, dport=t.destination.port,
                      action="ACCEPT", flags=SYN, direction="ingress", **common)  # type: ignore[arg-type]
            )  # fmt: skip
            records.append(
                _flow(t, rng, at, src=t.eni_ips[eni], dst=host, sport=t.destination.port, dport=sport,
                      action="REJECT", flags=SYN_ACK, direction="egress", **common)  # type: ignore[arg-type]
            )  # fmt: skip
    return records


def _upload_minute(
    t: TrafficTimeline,
    *,
    rng: random.Random,
    at: int,
    minute: int,
    h: int,
    host: str,
    eni: int,
    host_mbps: float,
) -> list[Record]:
    records = []
    life = t.flow_lifetime_minutes
    generation, age = divmod(minute, life)
    per_flow = host_mbps * 1_000_000 / 8 * 60 / t.flows_per_host
    for f in range(t.flows_per_host):
        sport = 32768 + (h * 7919 + generation * t.flows_per_host + f) % 28000
        dst = _destination_ip(t, h * t.flows_per_host + f)
        nbytes = int(per_flow * rng.uniform(0.9, 1.1))
        packets = max(1, nbytes // t.packet_bytes)
        flags = (SYN if age == 0 else 0) | (FIN if age == life - 1 else 0)
        records.append(
            _flow(
                t,
                rng,
                at,
                eni=eni,
                src=host,
                dst=dst,
                sport=sport,
                dport=t.destination.port,
                protocol=TCP,
                packets=packets,
                nbytes=nbytes,
                action="ACCEPT",
                flags=flags,
                direction="ingress",
                dst_service=t.destination.service,
            )
        )
        acks = max(1, packets // 2)
        back = (SYN_ACK if age == 0 else 0) | (FIN if age == life - 1 else 0)
        records.append(
            _flow(
                t,
                rng,
                at,
                eni=eni,
                src=dst,
                dst=host,
                sport=t.destination.port,
                dport=sport,
                protocol=TCP,
                packets=acks,
                nbytes=acks * _ACK_BYTES,
                action="ACCEPT",
                flags=back,
                direction="egress",
                src_service=t.destination.service,
            )
        )
    return records


def _black_hole_minute(
    t: TrafficTimeline,
    *,
    rng: random.Random,
    at: int,
    minute: int,
    h: int,
    host: str,
    eni: int,
    hole: BlackHole,
) -> list[Record]:
    records: list[Record] = []
    service = t.destination.service
    port = t.destination.port
    small_bytes = 0
    for s in range(hole.stalled_flows_per_host):
        # One connection per slot for the whole window: the same 5-tuple, minute after minute.
        sport = 61000 + (h * 97 + s) % 4000
        dst = _destination_ip(t, 1000 + h * 31 + s)
        packets = rng.randint(4, 12)
        nbytes = packets * rng.randint(52, 90)
        small_bytes += nbytes
        flags = SYN if minute == hole.onset_minute else 0
        records.append(
            _flow(
                t,
                rng,
                at,
                eni=eni,
                src=host,
                dst=dst,
                sport=sport,
                dport=port,
                protocol=TCP,
                packets=packets,
                nbytes=nbytes,
                action="ACCEPT",
                flags=flags,
                direction="ingress",
                dst_service=service,
            )
        )
    for _ in range(hole.retries_per_host_per_minute):
        sport = rng.randint(32768, 60999)
        packets = rng.randint(2, 3)
        nbytes = packets * 60
        small_bytes += nbytes
        records.append(
            _flow(
                t,
                rng,
                at,
                eni=eni,
                src=host,
                dst=_destination_ip(t, rng.randrange(64)),
                sport=sport,
                dport=port,
                protocol=TCP,
                packets=packets,
                nbytes=nbytes,
                action="ACCEPT",
                flags=SYN,
                direction="ingress",
                dst_service=service,
            )
        )
    hosts = len(t.site_hosts)
    surviving = hole.degraded_mbps / hosts * 1_000_000 / 8 * 60 - small_bytes
    if surviving > t.packet_bytes:
        nbytes = int(surviving * rng.uniform(0.95, 1.05))
        records.append(
            _flow(
                t,
                rng,
                at,
                eni=eni,
                src=host,
                dst=_destination_ip(t, 2000 + h),
                sport=60000 + h,
                dport=port,
                protocol=TCP,
                packets=nbytes // t.packet_bytes,
                nbytes=nbytes,
                action="ACCEPT",
                flags=0,
                direction="ingress",
                dst_service=service,
            )
        )
    if hole.icmp_rejected and hole.icmp_per_host_per_minute:
        sender = hole.icmp_sender or t.eni_ips[0]
        count = hole.icmp_per_host_per_minute
        # ICMP records carry no type or code: ports are 0 (docs/reference/aws-facts.md). 56 bytes: IP + ICMP
        # header + the original IP header and 8 bytes.
        records.append(
            _flow(
                t,
                rng,
                at,
                eni=eni,
                src=sender,
                dst=host,
                sport=0,
                dport=0,
                protocol=ICMP,
                packets=count,
                nbytes=count * 56,
                action="REJECT",
                flags=0,
                direction="egress",
            )
        )
    return records


def _noise_minute(t: TrafficTimeline, rng: random.Random, at: int) -> list[Record]:
    network = ipaddress.ip_network(t.vpc_cidr, strict=False)
    records = []
    for _ in range(t.noise_flows_per_minute):
        src = str(network.network_address + rng.randint(10, min(4000, network.num_addresses - 2)))
        dst = str(network.network_address + rng.randint(10, min(4000, network.num_addresses - 2)))
        protocol, dport = rng.choice([(TCP, 5432), (TCP, 443), (UDP, 53), (TCP, 8080)])
        packets = rng.randint(1, 400)
        eni = rng.randrange(len(t.eni_ids))
        records.append(
            _flow(
                t,
                rng,
                at,
                eni=eni,
                src=src,
                dst=dst,
                sport=rng.randint(32768, 60999),
                dport=dport,
                protocol=protocol,
                packets=packets,
                nbytes=packets * rng.randint(60, 1400),
                action="ACCEPT",
                flags=0,
                direction=rng.choice(["ingress", "egress"]),
            )
        )
    return records


# --- writers -------------------------------------------------------------------------------------------


def arrow_schema() -> pa.Schema:
    """AWS's Parquet schema: INT32 for ``int`` fields, INT64 for ``bigint``, strings otherwise."""
    import pyarrow as pa  # noqa: PLC0415 -- heavy; writers only

    types = {"int": pa.int32(), "bigint": pa.int64(), "string": pa.string()}
    return pa.schema([pa.field(f.column, types[f.athena_type]) for f in FIELDS])


def hour_folder(account_id: str, region: str, hour: datetime) -> str:
    """The Hive-compatible, per-hour folder of one account, Region and hour (no leading prefix)."""
    return (
        f"AWSLogs/aws-account-id={account_id}/aws-service=vpcflowlogs/aws-region={region}/"
        f"year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}/"
    )


def _by_end_hour(records: Iterable[Record]) -> dict[tuple[str, str, datetime], list[Record]]:
    groups: dict[tuple[str, str, datetime], list[Record]] = defaultdict(list)
    for record in records:
        hour = datetime.fromtimestamp(record["end"], UTC).replace(minute=0, second=0)
        groups[(record["account_id"], record["region"] or "", hour)].append(record)
    return groups


def _file_name(account: str, region: str, *, flow_log_id: str, hour: datetime, body: bytes, ext: str) -> str:
    digest = hashlib.sha256(body).hexdigest()[:8]
    return f"{account}_vpcflowlogs_{region}_{flow_log_id}_{hour:%Y%m%dT%H%MZ}_{digest}.{ext}"


def _put(destination: str | Path, key: str, body: bytes, s3: S3Client | None) -> str:
    target = str(destination)
    if target.startswith("s3://"):
        bucket, _, prefix = target.removeprefix("s3://").partition("/")
        full = f"{prefix.strip('/')}/{key}" if prefix.strip("/") else key
        (s3 or clients.s3()).put_object(Bucket=bucket, Key=full, Body=body)
        return f"s3://{bucket}/{full}"
    path = Path(target) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return str(path)


def to_parquet_bytes(records: Sequence[Record]) -> bytes:
    """One Parquet file of ``records`` with AWS's column names and types."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    schema = arrow_schema()
    table = pa.Table.from_pylist(list(records), schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def write_parquet(
    records: Iterable[Record],
    destination: str | Path,
    *,
    flow_log_id: str = "fl-0a1b2c3d4e5f60718",
    s3: S3Client | None = None,
) -> list[str]:
    """Write ``records`` as S3 delivery does (Parquet, Hive per-hour, by end time) under ``destination``.

    ``destination`` is a directory or ``s3://bucket/prefix`` (through ``dropsleuth.aws.clients``, so moto
    and ``AWS_ENDPOINT_URL`` apply). Returns the paths or URIs written.
    """
    written = []
    for (account, region, hour), group in sorted(_by_end_hour(records).items()):
        body = to_parquet_bytes(group)
        name = _file_name(account, region, flow_log_id=flow_log_id, hour=hour, body=body, ext="log.parquet")
        written.append(_put(destination, hour_folder(account, region, hour) + name, body, s3))
    return written


def format_text(records: Iterable[Record], fields: Sequence[str] = DEFAULT_V2_FIELDS) -> str:
    """Records as a flow-log text file: a header line of field names, then space-separated values, ``-``
    for a missing value."""
    columns = [FIELDS_BY_NAME[name].column for name in fields]
    lines = [" ".join(fields)]
    lines += [
        " ".join("-" if record.get(c) is None else str(record[c]) for c in columns) for record in records
    ]
    return "\n".join(lines) + "\n"


def write_text(
    records: Iterable[Record],
    destination: str | Path,
    *,
    fields: Sequence[str] = DEFAULT_V2_FIELDS,
    flow_log_id: str = "fl-0a1b2c3d4e5f60718",
    s3: S3Client | None = None,
) -> list[str]:
    """Write ``records`` as gzip text files (default: the v2 format) in the same per-hour layout."""
    written = []
    for (account, region, hour), group in sorted(_by_end_hour(records).items()):
        body = gzip.compress(format_text(group, fields).encode("utf-8"), mtime=0)
        name = _file_name(account, region, flow_log_id=flow_log_id, hour=hour, body=body, ext="log.gz")
        written.append(_put(destination, hour_folder(account, region, hour) + name, body, s3))
    return written
