"""The synthesizer: deterministic per seed (records and file bytes, across processes), different seeds
give different data, and the Parquet it writes has AWS's physical types."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dropsleuth.flowlogs.schema import REQUIRED_FIELDS
from dropsleuth.flowlogs.synth import (
    BlackHole,
    PortScan,
    TrafficTimeline,
    synthesize,
    write_parquet,
    write_text,
)

ROOT = Path(__file__).resolve().parents[2]


def timeline(seed: int) -> TrafficTimeline:
    return TrafficTimeline(
        start=datetime(2026, 11, 20, 8, 45, tzinfo=UTC),
        duration_minutes=30,
        seed=seed,
        idle_eni_ids=("eni-0aaa0000000000003",),
        black_holes=(BlackHole(onset_minute=10, recovery_minute=20),),
        scans=(PortScan(start_minute=5),),
    )


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def digest(root: Path) -> str:
    return hashlib.sha256(repr(sorted(files(root).items())).encode()).hexdigest()


def write_all(seed: int, root: Path) -> None:
    records = synthesize(timeline(seed))
    write_parquet(records, root / "parquet")
    write_text(records, root / "v2")
    write_text(records, root / "custom", fields=REQUIRED_FIELDS)


def test_same_seed_gives_identical_records_and_byte_identical_files(tmp_path: Path) -> None:
    assert synthesize(timeline(5)) == synthesize(timeline(5))
    write_all(5, tmp_path / "a")
    write_all(5, tmp_path / "b")
    first, second = files(tmp_path / "a"), files(tmp_path / "b")
    assert len([k for k in first if k.endswith(".parquet")]) == 2  # hours 08 and 09 (by end time)
    assert first == second


def test_same_seed_is_byte_identical_in_another_process_with_another_hash_seed(tmp_path: Path) -> None:
    # Set or dict iteration depending on PYTHONHASHSEED would make "deterministic" true in one process only.
    write_all(5, tmp_path / "here")
    script = (
        "import sys; from pathlib import Path; from tests.unit import test_flowlog_synth as t; "
        "t.write_all(5, Path(sys.argv[1])); print(t.digest(Path(sys.argv[1])))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "there")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == digest(tmp_path / "here")


def test_a_different_seed_gives_different_records_and_files(tmp_path: Path) -> None:
    one, other = synthesize(timeline(5)), synthesize(timeline(6))
    assert one != other
    # The same story either way: the seed varies the values, not the timeline's shape.
    assert {r["log_status"] for r in one} == {r["log_status"] for r in other}
    assert {(r["action"], r["protocol"]) for r in one} == {(r["action"], r["protocol"]) for r in other}
    write_all(5, tmp_path / "a")
    write_all(6, tmp_path / "b")
    first, second = files(tmp_path / "a"), files(tmp_path / "b")
    assert first.keys() != second.keys()  # file names carry a hash of their content
    assert sorted(first.values()) != sorted(second.values())


# VPC User Guide, Parquet delivery (docs/reference/aws-facts.md, "VPC Flow Logs"): INT32 version, ports,
# protocol, tcp-flags, traffic-path; INT64 packets, bytes, start, end; strings for the rest. Written out here,
# not taken from schema.py, so that a wrong type there fails this test.
INT32 = {"version", "srcport", "dstport", "protocol", "tcp_flags", "traffic_path"}
INT64 = {"packets", "bytes", "start", "end"}
STRINGS = {
    "account_id", "interface_id", "srcaddr", "dstaddr", "action", "log_status", "vpc_id", "subnet_id",
    "instance_id", "type", "pkt_srcaddr", "pkt_dstaddr", "region", "az_id", "pkt_src_aws_service",
    "pkt_dst_aws_service", "flow_direction",
}  # fmt: skip


@pytest.fixture(scope="module")
def parquet_file(tmp_path_factory: pytest.TempPathFactory) -> pq.ParquetFile:
    root = tmp_path_factory.mktemp("parquet")
    write_parquet(synthesize(timeline(5)), root)
    return pq.ParquetFile(next(root.rglob("*.log.parquet")))


def test_parquet_columns_are_aws_field_names_with_aws_physical_types(parquet_file: pq.ParquetFile) -> None:
    schema = parquet_file.schema
    columns = {schema.column(i).name: schema.column(i) for i in range(len(schema))}
    assert set(columns) == INT32 | INT64 | STRINGS
    for name, column in columns.items():
        if name in INT32:
            assert column.physical_type == "INT32", name
        elif name in INT64:
            assert column.physical_type == "INT64", name
        else:
            assert (column.physical_type, str(column.logical_type)) == ("BYTE_ARRAY", "String"), name


def test_parquet_arrow_types_match_as_read_back(parquet_file: pq.ParquetFile) -> None:
    arrow = parquet_file.schema_arrow
    assert {f.name for f in arrow if str(f.type) == "int32"} == INT32
    assert {f.name for f in arrow if str(f.type) == "int64"} == INT64
    assert {f.name for f in arrow if str(f.type) == "string"} == STRINGS


def test_hosts_behind_a_nat_gateway_are_logged_on_its_interface_as_aws_shows_nat_records() -> None:
    from dropsleuth.flowlogs.synth import ConnectTimeouts, Destination, NatInterface, TrafficTimeline

    # Given two instances going out through a NAT gateway, and attempts it cannot give a port from minute 5.
    nat = NatInterface(eni_id="eni-0nat00000000000001", private_ip="10.90.1.20")
    timeline = TrafficTimeline(
        start=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        duration_minutes=10,
        vpc_cidr="10.90.0.0/16",
        eni_ids=("eni-0a00000000000000a", "eni-0b00000000000000b"),
        eni_ips=("10.90.2.10", "10.90.2.11"),
        site_cidr="10.90.2.0/24",
        site_hosts=("10.90.2.10", "10.90.2.11"),
        destination=Destination(cidr="203.0.113.80/32", service=None),
        connect_timeouts=(ConnectTimeouts(start_minute=5, attempts_per_host_per_minute=3),),
        nat=nat,
        noise_flows_per_minute=0,
    )
    records = synthesize(timeline)
    on_nat = [r for r in records if r["interface_id"] == nat.eni_id]
    # The instance's leg: dstaddr the gateway, pkt-dstaddr the partner; the gateway's own leg from its
    # private address; the answer to the instance from the gateway with pkt-srcaddr the partner.
    assert any(r["dstaddr"] == nat.private_ip and r["pkt_dstaddr"] == "203.0.113.80" for r in on_nat)
    assert any(r["srcaddr"] == nat.private_ip and r["dstaddr"] == "203.0.113.80" for r in on_nat)
    assert any(r["srcaddr"] == nat.private_ip and r["pkt_srcaddr"] == "203.0.113.80" for r in on_nat)
    # The unanswered attempts: SYN only, on the instance's interface and the gateway's instance leg, and
    # never a leg toward the partner (no port).
    syn_only = [r for r in records if r["tcp_flags"] == 2 and r["packets"] == 4]
    assert len(syn_only) == 2 * 2 * 3 * 5
    assert {r["interface_id"] for r in syn_only} == {*timeline.eni_ids, nat.eni_id}
    assert all(r["srcaddr"] in timeline.site_hosts for r in syn_only)
    # The instances' own records of their flows out are egress, through another resource of the VPC.
    hosts, enis = timeline.site_hosts, timeline.eni_ids
    out = [r for r in records if r["interface_id"] in enis and r["srcaddr"] in hosts]
    assert {(r["flow_direction"], r["traffic_path"]) for r in out} == {("egress", 1)}
