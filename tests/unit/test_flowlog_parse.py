"""The text-format parser against the synthesizer's text writer and AWS's documented shapes."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dropsleuth.flowlogs.parse import FlowLogParseError, parse_lines, parse_log_format, read_text_file
from dropsleuth.flowlogs.schema import DEFAULT_V2_FIELDS, FIELDS_BY_NAME, REQUIRED_FIELDS, log_format
from dropsleuth.flowlogs.synth import BlackHole, TrafficTimeline, format_text, synthesize, write_text

TIMELINE = TrafficTimeline(
    start=datetime(2026, 11, 20, 9, 0, tzinfo=UTC), duration_minutes=6, idle_eni_ids=("eni-0idle",),
    black_holes=(BlackHole(onset_minute=2),),
)  # fmt: skip


@pytest.mark.parametrize(
    "fields", [DEFAULT_V2_FIELDS, REQUIRED_FIELDS, ("version", "srcaddr", "tcp-flags", "end")]
)
def test_text_round_trips_through_the_parser(fields) -> None:
    records = synthesize(TIMELINE)
    parsed = list(parse_lines(format_text(records, fields).splitlines()))
    columns = [FIELDS_BY_NAME[f].column for f in fields]
    assert parsed == [{c: r[c] for c in columns} for r in records]


def test_default_v2_lines_without_a_header() -> None:
    line = "2 123456789012 eni-0a1b2c3d 10.0.1.5 192.168.50.10 0 0 1 4 224 1763629200 1763629260 REJECT OK"
    (record,) = parse_lines([line])
    assert record["protocol"] == 1
    assert record["bytes"] == 224
    assert record["action"] == "REJECT"


def test_nodata_and_skipdata_records_have_none_for_missing_fields() -> None:
    lines = [
        "2 123456789012 eni-0a1b2c3d - - - - - - - 1763629200 1763629260 - NODATA",
        "2 123456789012 eni-0a1b2c3d - - - - - - - 1763629200 1763629260 - SKIPDATA",
    ]
    nodata, skipdata = parse_lines(lines)
    assert nodata["log_status"] == "NODATA"
    assert nodata["srcaddr"] is None
    assert nodata["packets"] is None
    assert skipdata["log_status"] == "SKIPDATA"


def test_custom_log_format_without_header() -> None:
    fields = parse_log_format("${vpc-id} ${srcaddr} ${tcp-flags} ${pkt-dst-aws-service}")
    assert fields == ("vpc-id", "srcaddr", "tcp-flags", "pkt-dst-aws-service")
    (record,) = parse_lines(
        ["vpc-01 192.168.50.10 18 S3"], log_format="${vpc-id} ${srcaddr} ${tcp-flags} ${pkt-dst-aws-service}"
    )
    assert record == {
        "vpc_id": "vpc-01",
        "srcaddr": "192.168.50.10",
        "tcp_flags": 18,
        "pkt_dst_aws_service": "S3",
    }
    assert parse_log_format(log_format()) == REQUIRED_FIELDS


@pytest.mark.parametrize("bad", ["", "version srcaddr", "${version} junk"])
def test_malformed_log_format_is_refused(bad: str) -> None:
    with pytest.raises(FlowLogParseError):
        parse_log_format(bad)


def test_wrong_field_count_and_bad_numbers_name_the_line() -> None:
    with pytest.raises(FlowLogParseError, match="line 2"):
        list(parse_lines(["version srcaddr", "2"]))
    with pytest.raises(FlowLogParseError, match="packets") as caught:
        list(parse_lines(["version packets", "2 many"]))
    assert caught.value.field == "packets"


def test_gzip_files_written_by_the_synthesizer(tmp_path: Path) -> None:
    records = synthesize(TIMELINE)
    (path,) = write_text(records, tmp_path)
    assert path.endswith(".log.gz")
    with gzip.open(path, "rt") as handle:
        assert handle.readline().split() == list(DEFAULT_V2_FIELDS)
    assert len(read_text_file(path)) == len(records)
