"""Binding standard parameters to the placeholders of the flow-log queries (pure)."""

from __future__ import annotations

import fnmatch
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dropsleuth import queries
from dropsleuth.aws.errors import InputError

WINDOWS = st.tuples(
    st.datetimes(min_value=datetime(2021, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),  # noqa: DTZ001 -- hypothesis wants naive bounds; timezones= makes the values UTC
    st.integers(min_value=1, max_value=60 * 24 * 40),
)


@given(WINDOWS)
def test_partition_predicates_select_exactly_the_hours_of_the_window(window) -> None:
    start, minutes = window
    end = start + timedelta(minutes=minutes)
    bounds = queries.partition_bounds(start, end)
    first = start.replace(minute=0, second=0, microsecond=0)
    probe = first - timedelta(hours=30)
    while probe <= end + timedelta(hours=30):
        values = {"year": f"{probe:%Y}", "month": f"{probe:%m}", "day": f"{probe:%d}", "hour": f"{probe:%H}"}
        selected = all(bounds[f"{k}_first"] <= values[k] <= bounds[f"{k}_last"] for k in values) and (
            bounds["hour_key_first"] <= "".join(values.values()) <= bounds["hour_key_last"]
        )
        assert selected == (first <= probe <= end), probe
        probe += timedelta(hours=1)


def test_window_partitions_reach_past_the_end_by_the_longest_aggregation_interval() -> None:
    query = queries.load_query("rejects_timeline")
    values = queries.derive_values(query, {"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T09:55:00Z"})
    assert (values["hour_key_first"], values["hour_key_last"]) == ("2026112009", "2026112010")
    assert values["end_epoch"] - values["start_epoch"] == 55 * 60


def test_athena_literals_and_duckdb_values_are_the_same_values() -> None:
    query = queries.load_query("upload_throughput")
    params = {"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T10:00:00Z", "source_cidr": "10.0.0.0/8",
              "destination_service": "S3"}  # fmt: skip
    typed = queries.bind(query, params)
    literals = queries.athena_parameters(query, params)
    assert len(typed) == len(literals) == len(query.placeholders)
    for value, literal in zip(typed, literals, strict=True):
        assert literal == (
            f"'{value}'"
            if isinstance(value, str)
            else str(value).upper()
            if isinstance(value, bool)
            else str(value)
        )
    assert typed[12:16] == ["10.%", True, 167772160, 184549375]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "2026-11-20T10:00:00Z"}, "start"),
        ({"start": "2026-11-20T09:00:00", "end": "2026-11-20T10:00:00Z"}, "start"),
        ({"start": "yesterday", "end": "2026-11-20T10:00:00Z"}, "start"),
        ({"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T09:00:00Z"}, "end"),
        ({"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T10:00:00Z", "limit": 5}, "limit"),
    ],
)
def test_bad_parameters_name_the_field(params, field: str) -> None:
    with pytest.raises(InputError) as caught:
        queries.bind(queries.load_query("rejects_timeline"), params)
    assert caught.value.field == field


def test_upload_throughput_needs_exactly_one_destination() -> None:
    base = {"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T10:00:00Z", "source_cidr": "10.0.0.0/8"}
    query = queries.load_query("upload_throughput")
    for extra in ({}, {"destination_service": "S3", "destination_cidr": "52.0.0.0/8"}):
        with pytest.raises(InputError) as caught:
            queries.bind(query, base | extra)
        assert caught.value.field == "destination_service"
    values = queries.derive_values(query, base | {"destination_cidr": "52.0.0.0/8"})
    assert values["destination_service"] == ""


def test_tunable_must_be_a_number() -> None:
    params = {"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T10:00:00Z", "source_cidr": "10.0.0.0/8",
              "min_records": "three"}  # fmt: skip
    with pytest.raises(InputError) as caught:
        queries.bind(queries.load_query("stalled_flows"), params)
    assert caught.value.field == "min_records"


@pytest.mark.parametrize(
    ("cidr", "pattern", "exact"),
    [
        ("192.168.50.0/24", "192.168.50.%", True),
        ("192.168.50.10/32", "192.168.50.10", True),
        ("10.0.0.0/8", "10.%", True),
        ("10.20.0.0/16", "10.20.%", True),
        ("172.16.0.0/12", "172.%", False),
        ("10.20.128.0/17", "10.20.%", False),
        ("192.168.50.64/26", "192.168.50.%", False),
        ("0.0.0.0/0", "%", True),
    ],
)
def test_source_like_is_a_pattern_every_address_of_the_cidr_matches(
    cidr: str, pattern: str, exact: bool
) -> None:
    first, last = queries.ipv4_range(cidr, field_name="source_cidr")
    assert queries.octet_prefix_pattern(first, last) == (pattern, exact)
    network = ipaddress.ip_network(cidr)
    outside = ipaddress.ip_address(int(network.broadcast_address) + 1) if last < 2**32 - 1 else None
    for address in (network.network_address, network.broadcast_address):
        assert fnmatch.fnmatchcase(str(address), pattern.replace("%", "*"))
    if outside is not None and exact:
        assert not fnmatch.fnmatchcase(str(outside), pattern.replace("%", "*"))
