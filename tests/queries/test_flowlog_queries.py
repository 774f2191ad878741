"""Every query of queries/ on DuckDB equals a plain-Python computation over the same synthesized records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dropsleuth import queries, sqlfiles
from dropsleuth.flowlogs.schema import REQUIRED_FIELDS
from dropsleuth.flowlogs.synth import (
    BlackHole,
    Destination,
    PortScan,
    ReturnRejects,
    TrafficTimeline,
    synthesize,
    write_parquet,
    write_text,
)
from tests.queries import flowlog_oracle as oracle

SITE = "192.168.50.0/24"

TIMELINES = {
    # A day with a leading zero (day=09, hour=09): catches partition values typed as numbers.
    "hour-boundary": (
        TrafficTimeline(
            start=datetime(2026, 11, 9, 8, 40, tzinfo=UTC),
            duration_minutes=120,
            seed=7,
            site_hosts=("192.168.50.10", "192.168.50.11", "192.168.50.12"),
            eni_ids=("eni-0aaa0000000000001", "eni-0aaa0000000000002"),
            eni_ips=("10.20.1.10", "10.20.2.10"),
            idle_eni_ids=("eni-0aaa0000000000003",),
            black_holes=(BlackHole(onset_minute=30, recovery_minute=75),),
            scans=(PortScan(start_minute=5, end_minute=50),),
            # A NACL without the return range for a while: SYN-ACKs REJECTed where the SYN came in.
            return_rejects=(ReturnRejects(start_minute=40, end_minute=45),),
        ),
        datetime(2026, 11, 9, 9, 0, tzinfo=UTC),
        datetime(2026, 11, 9, 10, 0, tzinfo=UTC),
    ),
    # Across midnight, a month and a destination given by CIDR rather than service.
    "month-boundary": (
        TrafficTimeline(
            start=datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
            duration_minutes=60,
            seed=11,
            destination=Destination(cidr="203.0.113.0/24", service=None),
            black_holes=(BlackHole(onset_minute=20, recovery_minute=50, icmp_sender="203.0.113.1"),),
            scans=(PortScan(source_ip="198.51.100.99", ports=(3389,), start_minute=0),),
            return_rejects=(ReturnRejects(start_minute=25, end_minute=28, attempts_per_host_per_minute=1),),
        ),
        datetime(2026, 11, 30, 23, 45, tzinfo=UTC),
        datetime(2026, 12, 1, 0, 20, tzinfo=UTC),
    ),
}


def expected(
    name: str, records: list[dict[str, Any]], timeline: TrafficTimeline, start: datetime, end: datetime
):
    if name == "rejects_timeline":
        return oracle.rejects_timeline(records, start, end)
    if name == "top_rejected_flows":
        return oracle.top_rejected_flows(records, start, end)
    if name == "icmp_rejects":
        return oracle.icmp_rejects(records, start, end, SITE)
    if name == "stalled_flows":
        return oracle.stalled_flows(records, start, end, SITE)
    if name == "syn_rst_by_destination":
        return oracle.syn_rst_by_destination(records, start, end, SITE)
    if name == "flow_packet_sizes":
        return oracle.flow_packet_sizes(records, start, end, SITE)
    if name == "rejected_replies":
        return oracle.rejected_replies(records, start, end)
    if name == "upload_throughput":
        if timeline.destination.service:
            return oracle.upload_throughput(
                records, start, end, SITE, destination_service=timeline.destination.service
            )
        return oracle.upload_throughput(records, start, end, SITE, destination_cidr=timeline.destination.cidr)
    raise AssertionError(f"no oracle for {name}")


def params_for(name: str, timeline: TrafficTimeline, start: datetime, end: datetime) -> dict[str, Any]:
    needs = queries.load_query(name).needs
    params: dict[str, Any] = {"start": start, "end": end}
    if "source_cidr" in needs:
        params["source_cidr"] = SITE
    if "destination" in needs:
        if timeline.destination.service:
            params["destination_service"] = timeline.destination.service
        else:
            params["destination_cidr"] = timeline.destination.cidr
    return params


def assert_rows_equal(actual: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> None:
    assert len(actual) == len(wanted)
    for got, want in zip(actual, wanted, strict=True):
        assert set(got) == set(want)
        for key, value in want.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-9), key
            else:
                assert got[key] == value, key


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[dict[str, Any]], Path]]:
    made = {}
    for label, (timeline, _, _) in TIMELINES.items():
        records = synthesize(timeline)
        root = tmp_path_factory.mktemp(label)
        write_parquet(records, root)
        made[label] = (records, root)
    return made


@pytest.mark.parametrize("label", sorted(TIMELINES))
@pytest.mark.parametrize("name", sqlfiles.query_names())
def test_query_on_duckdb_equals_python(datasets, label: str, name: str) -> None:
    timeline, start, end = TIMELINES[label]
    records, root = datasets[label]
    result = queries.LocalEngine(root).run(name, params_for(name, timeline, start, end))
    wanted = expected(name, records, timeline, start, end)
    assert wanted, "the synthesized data must give this query something to find"
    assert_rows_equal(result.rows, wanted)
    assert result.engine == "duckdb"
    assert list(result.columns) == list(wanted[0])


def test_last_minute_of_window_is_read_from_the_next_hour_partition(datasets) -> None:
    # Files hold records by end time: the records starting at 09:59 end after 10:00 and live in hour=10.
    timeline, start, end = TIMELINES["hour-boundary"]
    records, root = datasets["hour-boundary"]
    last = [
        r for r in records if r["start"] is not None and end.timestamp() - 60 <= r["start"] < end.timestamp()
    ]
    assert last
    assert all(datetime.fromtimestamp(r["end"], UTC).hour == 10 for r in last)
    rows = (
        queries.LocalEngine(root)
        .run("upload_throughput", params_for("upload_throughput", timeline, start, end))
        .rows
    )
    assert rows[-1]["minute"] == end - timedelta(minutes=1)


def test_black_hole_shows_as_collapse_icmp_rejects_and_stalled_flows(datasets) -> None:
    timeline, start, end = TIMELINES["hour-boundary"]
    _, root = datasets["hour-boundary"]
    engine = queries.LocalEngine(root)
    throughput = {
        r["minute"]: r["mbps"]
        for r in engine.run("upload_throughput", params_for("upload_throughput", timeline, start, end)).rows
    }
    hole = timeline.black_holes[0]
    assert hole.recovery_minute is not None
    onset = timeline.start_utc + timedelta(minutes=hole.onset_minute)
    recovery = timeline.start_utc + timedelta(minutes=hole.recovery_minute)
    before = [v for m, v in throughput.items() if m < onset]
    during = [v for m, v in throughput.items() if onset <= m < recovery]
    after = [v for m, v in throughput.items() if m >= recovery]
    assert min(before) > 30
    assert max(during) < 3
    assert min(after) > 30
    icmp = engine.run("icmp_rejects", params_for("icmp_rejects", timeline, start, end)).rows
    assert min(r["minute"] for r in icmp) == onset
    stalled = engine.run("stalled_flows", params_for("stalled_flows", timeline, start, end)).rows
    assert stalled
    assert all(r["bytes_per_packet"] < 160 and r["records"] >= 3 for r in stalled)


def test_stalled_flows_rank_syn_heavy_five_tuples_first(datasets, tmp_path: Path) -> None:
    # A 5-tuple whose every record has SYN set (a handshake retried on the same source port) with fewer
    # records than the black hole's stalled flows, and one seen as often with RST|ACK only.
    timeline, start, end = TIMELINES["hour-boundary"]
    records, _ = datasets["hour-boundary"]
    stalled = oracle.stalled_flows(records, start, end, SITE)
    assert stalled
    assert max(r["syn_share"] for r in stalled) < 1
    template = next(r for r in records if r["srcaddr"] == stalled[0]["srcaddr"] and r["protocol"] == 6)
    fewest = min(r["records"] for r in stalled)
    at = int(start.timestamp()) + 600
    syn_heavy = [
        template | {"srcport": 40001, "start": at + 60 * i, "end": at + 60 * i + 60, "packets": 3,
                    "bytes": 180, "tcp_flags": 2 | (16 * (i % 2))}
        for i in range(max(3, fewest - 1))
    ]  # fmt: skip
    no_syn = [
        template | {"srcport": 40002, "start": at + 60 * i, "end": at + 60 * i + 60, "packets": 3,
                    "bytes": 180, "tcp_flags": 4 | 16}
        for i in range(max(3, fewest - 1))
    ]  # fmt: skip
    mixed = [*records, *syn_heavy, *no_syn]
    write_parquet(mixed, tmp_path)
    rows = queries.LocalEngine(tmp_path).run(
        "stalled_flows", params_for("stalled_flows", timeline, start, end)
    )
    assert_rows_equal(rows.rows, oracle.stalled_flows(mixed, start, end, SITE))
    first = rows.rows[0]
    assert (first["srcport"], first["syn_records"], first["syn_share"]) == (40001, len(syn_heavy), 1.0)
    assert first["records"] < max(r["records"] for r in rows.rows)
    (unsynced,) = [r for r in rows.rows if r["srcport"] == 40002]
    assert unsynced["syn_share"] == 0.0
    assert rows.rows[-1]["syn_share"] == 0.0


def test_tunable_defaults_can_be_overridden(datasets) -> None:
    timeline, start, end = TIMELINES["hour-boundary"]
    records, root = datasets["hour-boundary"]
    params = params_for("stalled_flows", timeline, start, end) | {"min_records": 40}
    rows = queries.LocalEngine(root).run("stalled_flows", params).rows
    assert_rows_equal(rows, oracle.stalled_flows(records, start, end, SITE, min_records=40))


def test_a_one_hour_window_reads_fewer_bytes_than_the_whole_range(datasets) -> None:
    timeline, _, _ = TIMELINES["hour-boundary"]
    _, root = datasets["hour-boundary"]
    engine = queries.LocalEngine(root)
    narrow = engine.run(
        "rejects_timeline", {"start": timeline.start_utc, "end": timeline.start_utc + timedelta(minutes=10)}
    )
    wide = engine.run("rejects_timeline", {"start": timeline.start_utc, "end": timeline.end_utc})
    assert narrow.bytes_scanned is not None
    assert wide.bytes_scanned is not None
    assert narrow.bytes_scanned < wide.bytes_scanned


def test_text_delivery_in_the_full_custom_format_gives_the_same_rows(datasets, tmp_path: Path) -> None:
    timeline, start, end = TIMELINES["hour-boundary"]
    records, _root = datasets["hour-boundary"]
    write_text(records, tmp_path, fields=REQUIRED_FIELDS)
    for name in sqlfiles.query_names():
        params = params_for(name, timeline, start, end)
        assert_rows_equal(
            queries.LocalEngine(tmp_path).run(name, params).rows,
            expected(name, records, timeline, start, end),
        )


def test_default_v2_text_answers_the_queries_that_need_only_v2_fields(datasets, tmp_path: Path) -> None:
    _timeline, start, end = TIMELINES["month-boundary"]
    records, _ = datasets["month-boundary"]
    write_text(records, tmp_path)
    rows = queries.LocalEngine(tmp_path).run("rejects_timeline", {"start": start, "end": end}).rows
    assert_rows_equal(rows, oracle.rejects_timeline(records, start, end))


def test_an_empty_source_fails_instead_of_answering_no_rows(tmp_path: Path) -> None:
    with pytest.raises(queries.NoFlowLogsError) as caught:
        queries.LocalEngine(tmp_path).run(
            "rejects_timeline", {"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T10:00:00Z"}
        )
    assert caught.value.field == "flow_logs"
    assert str(caught.value).startswith("no flow-log files for 2026-11-20T09:00Z–2026-11-20T10:00Z")
    assert str(caught.value).endswith(
        f"expected {tmp_path}/AWSLogs/aws-account-id=…/aws-service=vpcflowlogs/aws-region=…/"
        "year=2026/month=11/day=20/hour=09/"
    )


def test_local_engine_reads_only_the_window_partitions_from_s3(aws, datasets, tmp_path: Path) -> None:
    import boto3

    _timeline, start, _end = TIMELINES["hour-boundary"]
    records, _ = datasets["hour-boundary"]
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="flow-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    written = write_parquet(records, "s3://flow-logs/vpc", s3=s3)
    assert len(written) == 3  # hours 08, 09, 10
    cache = tmp_path / "cache"
    engine = queries.LocalEngine("s3://flow-logs/vpc", cache_dir=cache)
    short = {"start": start, "end": start + timedelta(minutes=20)}
    rows = engine.run("rejects_timeline", short).rows
    assert_rows_equal(rows, oracle.rejects_timeline(records, short["start"], short["end"]))
    hours = sorted(p.parent.name for p in cache.rglob("*.parquet"))
    assert hours == ["hour=09"]


def test_syn_rst_by_destination_counts_unanswered_retries_and_resets(datasets, tmp_path: Path) -> None:
    # One destination, three attempts from a site host: retried three times on one source port and never
    # answered; answered then reset by the server; answered and clean.
    timeline, start, end = TIMELINES["hour-boundary"]
    records, _ = datasets["hour-boundary"]
    template = next(r for r in records if r["protocol"] == 6 and r["action"] == "ACCEPT")
    host, server, at = "192.168.50.10", "10.20.9.9", int(start.timestamp()) + 900

    def record(src: str, sport: int, dst: str, dport: int, *, minute: int, flags: int) -> dict[str, Any]:
        return template | {"srcaddr": src, "srcport": sport, "dstaddr": dst, "dstport": dport,
                           "pkt_srcaddr": src, "pkt_dstaddr": dst,
                           "start": at + 60 * minute, "end": at + 60 * minute + 60, "packets": 1,
                           "bytes": 60, "tcp_flags": flags}  # fmt: skip

    added = [
        *(record(host, 41001, server, 443, minute=m, flags=2) for m in range(3)),
        record(host, 41002, server, 443, minute=0, flags=2),
        record(server, 443, host, 41002, minute=0, flags=18),
        record(server, 443, host, 41002, minute=1, flags=4),
        record(host, 41003, server, 443, minute=0, flags=2),
        record(server, 443, host, 41003, minute=0, flags=18),
    ]
    mixed = [*records, *added]
    write_parquet(mixed, tmp_path)
    rows = (
        queries.LocalEngine(tmp_path)
        .run("syn_rst_by_destination", params_for("syn_rst_by_destination", timeline, start, end))
        .rows
    )
    assert_rows_equal(rows, oracle.syn_rst_by_destination(mixed, start, end, SITE))
    (mine,) = [r for r in rows if r["dstaddr"] == server]
    assert (mine["attempts"], mine["unanswered"], mine["unanswered_syn_records"], mine["reset_attempts"]) == (
        3, 1, 3, 1,
    )  # fmt: skip
    # The unanswered attempt's first SYN record is when it was first and last seen.
    assert mine["first_unanswered"] == mine["last_unanswered"] == at
    # The totals count every destination, the answered ones too (the upload flows of the synthesized day),
    # beyond the 50 rows listed: a clean result still says how much was judged.
    troubled = [r for r in rows if r["unanswered"] or r["reset_attempts"]]
    assert {r["all_destinations"] for r in rows} == {rows[0]["all_destinations"]}
    assert rows[0]["all_destinations"] > len(troubled)
    assert rows[0]["all_attempts"] > sum(r["attempts"] for r in troubled)


def test_syn_rst_by_destination_names_the_final_destination_behind_a_nat_gateway(
    datasets, tmp_path: Path
) -> None:
    # Given an attempt through a NAT gateway, logged on the instance's interface (dstaddr = the remote) and
    # on the NAT gateway's (dstaddr = the gateway's private address, pkt-dstaddr = the remote), and one
    # answered attempt whose SYN-ACK comes back through the gateway (srcaddr = the gateway, pkt-srcaddr =
    # the remote), as the VPC User Guide's NAT gateway record example shows them.
    timeline, start, end = TIMELINES["hour-boundary"]
    records, _ = datasets["hour-boundary"]
    template = next(r for r in records if r["protocol"] == 6 and r["action"] == "ACCEPT")
    host, nat, remote, at = "192.168.50.11", "10.20.0.220", "203.0.113.5", int(start.timestamp()) + 1800
    host_eni, nat_eni = "eni-0aaa0000000000001", "eni-0bbb00000000000aa"

    def record(
        eni: str,
        src: str,
        dst: str,
        pkt_src: str,
        pkt_dst: str,
        *,
        sport: int,
        dport: int,
        minute: int,
        flags: int,
    ) -> dict[str, Any]:
        return template | {"interface_id": eni, "srcaddr": src, "dstaddr": dst, "pkt_srcaddr": pkt_src,
                           "pkt_dstaddr": pkt_dst, "srcport": sport, "dstport": dport,
                           "start": at + 60 * minute, "end": at + 60 * minute + 60, "packets": 4,
                           "bytes": 240, "tcp_flags": flags}  # fmt: skip

    added = [
        # Unanswered, retried in two minutes: on both interfaces, no NAT-to-remote leg (no port to use).
        *(
            record(eni, host, to, host, remote, sport=42001, dport=443, minute=m, flags=2)
            for m in range(2)
            for eni, to in ((host_eni, remote), (nat_eni, nat))
        ),
        # Answered: the SYN-ACK reaches the host through the gateway.
        record(host_eni, host, remote, host, remote, sport=42002, dport=443, minute=3, flags=2),
        record(nat_eni, host, nat, host, remote, sport=42002, dport=443, minute=3, flags=2),
        record(nat_eni, nat, remote, nat, remote, sport=1025, dport=443, minute=3, flags=2),
        record(nat_eni, remote, nat, remote, nat, sport=443, dport=1025, minute=3, flags=18),
        record(nat_eni, nat, host, remote, host, sport=443, dport=42002, minute=3, flags=18),
        record(host_eni, remote, host, remote, host, sport=443, dport=42002, minute=3, flags=18),
    ]
    mixed = [*records, *added]
    write_parquet(mixed, tmp_path)
    rows = (
        queries.LocalEngine(tmp_path)
        .run("syn_rst_by_destination", params_for("syn_rst_by_destination", timeline, start, end))
        .rows
    )
    assert_rows_equal(rows, oracle.syn_rst_by_destination(mixed, start, end, SITE))
    # When: the query runs. Then: one row for the remote, two attempts (not four), one unanswered with
    # its two SYN records; the gateway's private address is nobody's destination.
    (mine,) = [r for r in rows if r["dstaddr"] == remote]
    assert (mine["attempts"], mine["unanswered"], mine["unanswered_syn_records"]) == (2, 1, 2)
    assert (mine["first_unanswered"], mine["last_unanswered"]) == (at, at)
    assert not [r for r in rows if r["dstaddr"] == nat]


def test_rejected_replies_tells_a_reply_on_another_interface_from_one_on_the_requesting_interface(
    datasets, tmp_path: Path
) -> None:
    # Given, in one window: (1) an instance whose connections to a peer leave through firewall appliance A
    # (the SYN ACCEPTed on the instance's interface and on A's) while the route back brings the SYN-ACKs to
    # appliance B, whose security group REJECTs them, retried in a later minute; (2) a NACL without the
    # return range: the SYN ACCEPTed out and its SYN-ACK REJECTed on the same interface; (3) a SYN-ACK
    # REJECTed whose request is in no record (it left through a path without flow logs).
    timeline, start, end = TIMELINES["hour-boundary"]
    records, _ = datasets["hour-boundary"]
    template = next(r for r in records if r["protocol"] == 6 and r["action"] == "ACCEPT")
    at = int(start.timestamp()) + 1200
    instance, peer = "10.20.1.50", "10.30.0.8"
    instance_eni, appliance_a, appliance_b = (
        "eni-0ccc0000000000001", "eni-0ccc00000000000a1", "eni-0ccc00000000000b1",
    )  # fmt: skip
    nacl_host, nacl_eni, far_host, far_eni = "10.20.2.60", "eni-0ccc0000000000002", "10.20.3.70", "eni-0ccc3"

    def record(
        eni: str, src: str, sport: int, dst: str, dport: int, *, minute: int, flags: int, action: str
    ) -> dict[str, Any]:
        return template | {"interface_id": eni, "srcaddr": src, "srcport": sport, "dstaddr": dst,
                           "dstport": dport, "pkt_srcaddr": src, "pkt_dstaddr": dst, "action": action,
                           "start": at + 60 * minute, "end": at + 60 * minute + 60, "packets": 2,
                           "bytes": 120, "tcp_flags": flags}  # fmt: skip

    added = []
    for n, sport in enumerate((45001, 45002, 45003)):
        added += [
            record(eni, instance, sport, peer, 5432, minute=n, flags=2, action="ACCEPT")
            for eni in (instance_eni, appliance_a)
        ]
        added += [
            record(appliance_b, peer, 5432, instance, sport, minute=n + m, flags=18, action="REJECT")
            for m in (0, 1)
        ]
    added += [
        record(nacl_eni, nacl_host, 46001, peer, 5432, minute=0, flags=2, action="ACCEPT"),
        record(nacl_eni, peer, 5432, nacl_host, 46001, minute=0, flags=18, action="REJECT"),
        record(far_eni, peer, 5432, far_host, 47001, minute=2, flags=18, action="REJECT"),
    ]
    mixed = [*records, *added]
    write_parquet(mixed, tmp_path)

    # When: the query runs on DuckDB over the files.
    rows = (
        queries.LocalEngine(tmp_path)
        .run("rejected_replies", params_for("rejected_replies", timeline, start, end))
        .rows
    )

    # Then: it equals the oracle, and each case is told apart.
    assert_rows_equal(rows, oracle.rejected_replies(mixed, start, end))
    by_eni = {r["interface_id"]: r for r in rows}
    asymmetric = by_eni[appliance_b]
    assert (asymmetric["peer_addr"], asymmetric["peer_port"]) == (peer, 5432)
    assert (
        asymmetric["rejected_connections"], asymmetric["rejected_records"], asymmetric["rejected_packets"],
        asymmetric["requested_here"], asymmetric["orphaned"], asymmetric["requested_elsewhere"],
    ) == (3, 6, 12, 0, 3, 3)  # fmt: skip
    assert asymmetric["request_interface"] == instance_eni  # the smaller of the two that saw the SYNs
    assert (asymmetric["first_orphaned"], asymmetric["last_orphaned"]) == (at, at + 180)
    nacl = by_eni[nacl_eni]
    assert (nacl["requested_here"], nacl["orphaned"], nacl["requested_elsewhere"]) == (1, 0, 0)
    assert nacl["first_orphaned"] is None
    assert nacl["request_interface"] is None
    far = by_eni[far_eni]
    assert (far["orphaned"], far["requested_elsewhere"], far["request_interface"]) == (1, 0, None)
    assert rows[0]["interface_id"] == appliance_b
    # The synthesized day's own REJECTed replies (its NACL without the return range) were all requested on
    # the interface that REJECTed them; its scans' REJECTed SYNs are no replies.
    synthesized = [r for r in rows if r["interface_id"] not in {appliance_b, nacl_eni, far_eni}]
    assert synthesized
    assert all(r["orphaned"] == 0 and r["requested_here"] == r["rejected_connections"] for r in synthesized)
