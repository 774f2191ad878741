"""One guard per silent difference between Athena (Trino) and DuckDB listed in docs/reference/aws-facts.md.

Each test first shows that the difference is real on this DuckDB (where DuckDB can show it), then that
the guard catches it: the linter refuses the construct, or the engine sets what Athena assumes.
"""

from __future__ import annotations

import gzip
import ipaddress
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from dropsleuth import queries, sqlfiles
from dropsleuth.aws.errors import InputError
from dropsleuth.flowlogs.synth import BlackHole, TrafficTimeline, synthesize, write_parquet, write_text
from tests.queries import flowlog_oracle as oracle

WINDOW = " FROM vpc_flow_logs WHERE year = ? AND month = ? AND day = ? AND hour = ? AND start >= ?"


def test_count_if_is_null_over_no_rows_in_duckdb_and_must_be_coalesced() -> None:
    assert duckdb.execute("SELECT count_if(x > 0) FROM (SELECT 1 AS x) WHERE false").fetchone() == (None,)
    assert queries.lint_sql(f"SELECT count_if(packets > 1) AS n{WINDOW}")
    assert not queries.lint_sql(f"SELECT coalesce(count_if(packets > 1), 0) AS n{WINDOW}")
    transpiled = sqlglot.transpile(
        "SELECT coalesce(count_if(x > 0), 0) FROM t", read="athena", write="duckdb"
    )[0]
    assert duckdb.execute(transpiled.replace("FROM t", "FROM (SELECT 1 AS x) WHERE false")).fetchone() == (0,)


def test_integer_division_is_refused_because_duckdb_cannot_show_trinos_truncation() -> None:
    # Trino: 3 / 2 = 1. sqlglot's DuckDB text divides as floats, so a test on DuckDB would pass anyway.
    transpiled = sqlglot.transpile("SELECT 3 / 2", read="athena", write="duckdb")[0]
    assert duckdb.execute(transpiled).fetchone() == (1.5,)
    assert queries.lint_sql(f"SELECT sum(bytes) * 8 / 60 AS bps{WINDOW}")
    assert not queries.lint_sql(f"SELECT CAST(sum(bytes) AS double) * 8 / 60 AS bps{WINDOW}")
    assert not queries.lint_sql(f"SELECT sum(bytes) * 8 / 60.0 AS bps{WINDOW}")


def test_engine_truncates_time_in_utc_whatever_the_process_time_zone(tmp_path: Path, monkeypatch) -> None:
    instant = 1_763_629_260  # 2025-11-20 09:01 UTC
    local = duckdb.connect()
    local.execute("SET TimeZone = 'Asia/Kathmandu'")  # UTC+05:45
    truncated = local.execute("SELECT epoch(date_trunc('hour', to_timestamp(?)))", [instant]).fetchone()[0]
    assert truncated != datetime(2025, 11, 20, 9, 0, tzinfo=UTC).timestamp()

    monkeypatch.setenv("TZ", "Asia/Kathmandu")
    time.tzset()
    try:
        connection = queries.LocalEngine(tmp_path).connect(tmp_path)
        assert connection.execute("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]
        hour = connection.sql("SELECT date_trunc('hour', to_timestamp(?)) AS h", params=[instant])
        assert hour.to_arrow_table().to_pylist()[0]["h"] == datetime(2025, 11, 20, 9, 0, tzinfo=UTC)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def _one_hour_of_data(root: Path, day: int) -> list[dict]:
    timeline = TrafficTimeline(
        start=datetime(2026, 11, day, 9, 0, tzinfo=UTC),
        duration_minutes=30,
        black_holes=(BlackHole(onset_minute=10),),
    )
    records = synthesize(timeline)
    write_parquet(records, root)
    return records


def test_partition_columns_are_strings_as_in_athena(tmp_path: Path) -> None:
    records = _one_hour_of_data(tmp_path, 9)
    inferred = duckdb.execute(
        f"DESCRIBE SELECT * FROM read_parquet('{tmp_path}/**/*.parquet', hive_partitioning = true)"
    )
    assert {r[0]: r[1] for r in inferred.fetchall()}["year"] != "VARCHAR"

    connection = queries.LocalEngine(tmp_path).connect(tmp_path)
    types = {r[0]: r[1] for r in connection.execute("DESCRIBE vpc_flow_logs").fetchall()}
    assert [types[k] for k in ("year", "month", "day", "hour")] == ["VARCHAR"] * 4
    start, end = datetime(2026, 11, 9, 9, 0, tzinfo=UTC), datetime(2026, 11, 9, 9, 30, tzinfo=UTC)
    rows = queries.LocalEngine(tmp_path).run("rejects_timeline", {"start": start, "end": end}).rows
    assert rows == oracle.rejects_timeline(records, start, end)
    assert rows


def test_partitions_are_bound_as_padded_strings_and_numbers_against_them_are_refused() -> None:
    query = queries.load_query("rejects_timeline")
    values = queries.derive_values(query, {"start": "2026-01-09T03:00:00Z", "end": "2026-01-09T04:00:00Z"})
    assert (values["month_first"], values["day_first"], values["hour_first"]) == ("01", "09", "03")
    literals = queries.athena_parameters(
        query, {"start": "2026-01-09T03:00:00Z", "end": "2026-01-09T04:00:00Z"}
    )
    assert literals[:2] == ["'2026'", "'2026'"]
    # DuckDB casts silently; Athena fails on a number against a string partition.
    assert duckdb.execute("SELECT '14' = 14").fetchone() == (True,)
    numeric_hour = "year = '2026' AND month = '01' AND day = '09' AND hour = 14 AND start > 0"
    assert queries.lint_sql(f"SELECT packets FROM vpc_flow_logs WHERE {numeric_hour}")


def _placeholder_problems(sql: str) -> list[str]:
    return [p for p in queries.lint_sql(sql) if p.startswith("placeholder")]


# Athena User Guide, "Use parameterized queries", Considerations and limitations: "Currently, ? parameters
# can be placed only in the WHERE clause." DuckDB binds them anywhere, so each place is refused by the lint.
REFUSED_PLACES = {
    "HAVING": f"SELECT srcaddr, count(*) AS n{WINDOW} GROUP BY srcaddr HAVING count(*) >= ?",
    "the SELECT list": f"SELECT ? AS label, packets{WINDOW}",
    "the SELECT list ": f"SELECT CASE WHEN packets > ? THEN 1 ELSE 0 END AS big{WINDOW}",
    "LIMIT": f"SELECT packets{WINDOW} LIMIT ?",
    "a JOIN": "SELECT a.packets FROM vpc_flow_logs AS a JOIN vpc_flow_logs AS b"
    " ON a.srcaddr = b.dstaddr AND b.packets > ?"
    " WHERE a.year = '2026' AND a.month = '01' AND a.day = '09' AND a.hour = '03' AND a.start >= 0",
    "ORDER BY": f"SELECT packets{WINDOW} ORDER BY packets * ?",
}


def test_duckdb_binds_placeholders_where_athena_refuses_them() -> None:
    assert duckdb.execute("SELECT ? AS anything", [1]).fetchone() == (1,)
    assert duckdb.execute("SELECT x FROM (SELECT 1 AS x) GROUP BY x HAVING count(*) >= ?", [1]).fetchall()
    assert duckdb.execute("SELECT 1 LIMIT ?", [1]).fetchall() == [(1,)]


@pytest.mark.parametrize("place", sorted(REFUSED_PLACES))
def test_a_placeholder_outside_a_where_clause_is_refused(place: str) -> None:
    (problem,) = _placeholder_problems(REFUSED_PLACES[place])
    assert f"placeholder in {place.strip()} " in problem
    with pytest.raises(InputError):
        queries.to_duckdb(REFUSED_PLACES[place])


def test_the_innermost_query_decides_where_a_placeholder_sits() -> None:
    # Inside a WHERE, but in the SELECT list of a subquery: still refused.
    assert _placeholder_problems(f"SELECT packets{WINDOW} AND srcaddr IN (SELECT ? AS x)")
    # In the WHERE of a subquery or of a CTE: a WHERE clause, accepted.
    assert not _placeholder_problems(
        f"SELECT packets{WINDOW} AND srcaddr IN (SELECT srcaddr FROM t WHERE packets > ?)"
    )
    assert not _placeholder_problems(
        f"WITH w AS (SELECT srcaddr, packets{WINDOW}) SELECT srcaddr FROM w WHERE packets >= ?"
    )


def test_approx_percentile_is_refused() -> None:
    assert queries.lint_sql(f"SELECT approx_percentile(bytes, 0.5) AS p{WINDOW}")


def test_contains_cidr_does_not_transpile_and_is_refused() -> None:
    sql = "SELECT contains('10.0.0.0/8', CAST(srcaddr AS IPADDRESS)) AS inside FROM t"
    transpiled = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
    with pytest.raises(duckdb.Error):
        duckdb.execute(transpiled.replace("FROM t", "FROM (SELECT '10.1.2.3' AS srcaddr)")).fetchall()
    assert queries.lint_sql(f"SELECT packets{WINDOW} AND contains('10.0.0.0/8', CAST(srcaddr AS IPADDRESS))")


ADDRESS_SQL = queries.to_duckdb(
    'SELECT packets FROM vpc_flow_logs WHERE year = ? AND month = ? AND day = ? AND hour = ? AND "start" > ?'
    " AND try_cast(split_part(srcaddr, '.', 1) AS bigint) * 16777216"
    " + try_cast(split_part(srcaddr, '.', 2) AS bigint) * 65536"
    " + try_cast(split_part(srcaddr, '.', 3) AS bigint) * 256"
    " + try_cast(split_part(srcaddr, '.', 4) AS bigint) BETWEEN ? AND ?"
)


@settings(max_examples=60, deadline=None)
@given(
    address=st.one_of(
        st.ip_addresses(v=4).map(str),
        st.sampled_from(["-", "", "2001:db8::1", "::ffff:10.0.0.1", "10.0.0"]),
    ),
    network=st.ip_addresses(v=4),
    prefix=st.integers(min_value=0, max_value=32),
)
def test_cidr_arithmetic_on_duckdb_matches_python(address: str, network, prefix: int) -> None:
    cidr = f"{network}/{prefix}"
    first, last = queries.ipv4_range(cidr, field_name="source_cidr")
    view = duckdb.connect()
    view.execute(
        "CREATE TABLE vpc_flow_logs (srcaddr VARCHAR, packets BIGINT, year VARCHAR, month VARCHAR,"
        " day VARCHAR, hour VARCHAR, start BIGINT)"
    )
    view.execute("INSERT INTO vpc_flow_logs VALUES (?, 1, '2026', '01', '01', '00', 1)", [address])
    matched = bool(view.execute(ADDRESS_SQL, ["2026", "01", "01", "00", 0, first, last]).fetchall())
    try:
        expected = ipaddress.ip_address(address) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        expected = False
    assert matched == expected


def test_ipv6_cidrs_are_refused_naming_the_field() -> None:
    with pytest.raises(InputError) as caught:
        queries.ipv4_range("2001:db8::/32", field_name="source_cidr")
    assert caught.value.field == "source_cidr"


def test_text_files_are_read_without_auto_detection_and_other_files_are_ignored(tmp_path: Path) -> None:
    timeline = TrafficTimeline(start=datetime(2026, 11, 20, 9, 0, tzinfo=UTC), duration_minutes=20,
                               black_holes=(BlackHole(onset_minute=5),))  # fmt: skip
    records = synthesize(timeline)
    write_text(records, tmp_path)
    folder = next(tmp_path.rglob("hour=09"))
    (folder / "notes.csv").write_text("a,b,c\n1,2,3\n")
    (folder / "README.md").write_text("# not flow logs\n")
    (folder / "other.txt.gz").write_bytes(gzip.compress(b"x y z\n"))
    start, end = timeline.start_utc, timeline.end_utc
    rows = queries.LocalEngine(tmp_path).run("rejects_timeline", {"start": start, "end": end}).rows
    assert rows == oracle.rejects_timeline(records, start, end)
    assert rows


def test_injection_looking_parameters_stay_data(tmp_path: Path) -> None:
    timeline = TrafficTimeline(start=datetime(2026, 11, 20, 9, 0, tzinfo=UTC), duration_minutes=10)
    write_parquet(synthesize(timeline), tmp_path)
    engine = queries.LocalEngine(tmp_path)
    params = {"start": timeline.start_utc, "end": timeline.end_utc, "source_cidr": "192.168.50.0/24"}
    honest = engine.run("upload_throughput", params | {"destination_service": "S3"}).rows
    assert honest
    hostile = "S3' OR '1'='1"
    assert engine.run("upload_throughput", params | {"destination_service": hostile}).rows == []
    literal = queries.athena_literal(hostile)
    parsed = sqlglot.parse_one(f"SELECT {literal}", read="athena").expressions[0]
    assert isinstance(parsed, sqlglot.exp.Literal)
    assert parsed.is_string
    assert parsed.this == hostile
    with pytest.raises(InputError) as caught:
        engine.run(
            "upload_throughput", params | {"destination_service": "S3", "source_cidr": "1; DROP TABLE x"}
        )
    assert caught.value.field == "source_cidr"


def test_every_query_file_is_lint_clean() -> None:
    for name in sqlfiles.query_names():
        assert queries.lint_sql(queries.load_query(name).text) == [], name
