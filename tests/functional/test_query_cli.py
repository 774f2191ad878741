"""``dropsleuth query NAME``: in-process (typer's CliRunner, and the entry point's exit-code mapping), as a
subprocess against moto_server reading s3:// with the local engine, and on Athena through botocore's
Stubber (moto never fails a query nor scans bytes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

from dropsleuth.aws import clients
from dropsleuth.cli.main import build_app, run
from dropsleuth.flowlogs.synth import BlackHole, TrafficTimeline, synthesize, write_parquet
from tests.functional.test_flowlog_athena import ICMP_COLUMNS, _execution, _SessionWith
from tests.queries import flowlog_oracle as oracle
from tests.support import run_dropsleuth

SITE = "192.168.50.0/24"
TIMELINE = TrafficTimeline(
    start=datetime(2026, 11, 20, 8, 50, tzinfo=UTC),
    duration_minutes=40,
    seed=3,
    black_holes=(BlackHole(onset_minute=20, recovery_minute=32),),
)
START, END = "2026-11-20T09:00:00Z", "2026-11-20T09:30:00Z"
WINDOW = ("--start", START, "--end", END)
START_AT, END_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC), datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def as_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v for k, v in row.items()}
        for row in rows
    ]


def assert_rows(actual: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> None:
    assert len(actual) == len(wanted)
    for got, want in zip(actual, wanted, strict=True):
        assert list(got) == list(want)
        for key, value in want.items():
            assert got[key] == (pytest.approx(value, rel=1e-9) if isinstance(value, float) else value), key


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return synthesize(TIMELINE)


@pytest.fixture(scope="module")
def flow_logs_dir(records, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flow-logs")
    write_parquet(records, root)
    return root


def invoke(*args: str) -> Any:
    return CliRunner().invoke(build_app(), ["query", *args])


def test_json_output_with_params_equals_the_oracle(records, flow_logs_dir: Path) -> None:
    result = invoke(
        "upload_throughput", "--start", START, "--end", END, "--flow-logs", str(flow_logs_dir),
        "--param", f"source_cidr={SITE}", "--param", "destination_service=S3", "--output", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["query"] == "upload_throughput"
    assert answer["engine"] == "duckdb"
    assert answer["bytes_scanned"] > 0
    wanted = as_json(oracle.upload_throughput(records, START_AT, END_AT, SITE, destination_service="S3"))
    assert wanted
    assert answer["columns"] == list(wanted[0])
    assert_rows(answer["rows"], wanted)


def test_a_tunable_given_as_param_reaches_the_query(records, flow_logs_dir: Path) -> None:
    base = ("stalled_flows", "--start", START, "--end", END, "--flow-logs", str(flow_logs_dir),
            "--param", f"source_cidr={SITE}", "-o", "json")  # fmt: skip
    default = json.loads(invoke(*base).stdout)["rows"]
    assert_rows(default, as_json(oracle.stalled_flows(records, START_AT, END_AT, SITE)))
    # A threshold between the candidates' bytes per packet keeps only the leaner ones.
    threshold = sorted(r["bytes_per_packet"] for r in default)[len(default) // 2 - 1]
    strict = json.loads(invoke(*base, "--param", f"max_bytes_per_packet={threshold!r}").stdout)["rows"]
    wanted = oracle.stalled_flows(records, START_AT, END_AT, SITE, max_bytes_per_packet=threshold)
    assert_rows(strict, as_json(wanted))
    assert 0 < len(strict) < len(default)


def test_table_output_shows_every_row_and_the_bytes_scanned(records, flow_logs_dir: Path) -> None:
    result = invoke("rejects_timeline", "--start", START, "--end", END, "--flow-logs", str(flow_logs_dir))
    assert result.exit_code == 0, result.output
    wanted = oracle.rejects_timeline(records, START_AT, END_AT)
    assert wanted
    assert "rejects_timeline (duckdb, " in result.stdout
    assert " bytes scanned)" in result.stdout
    for row in as_json(wanted):
        line = next(x for x in result.stdout.splitlines() if row["minute"] in x)
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        assert cells[1:] == [str(row["rejects"]), str(row["packets"]), str(row["bytes"])]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("no_such_query", *WINDOW), "unknown query 'no_such_query'"),
        (("rejects_timeline", *WINDOW, "--param", "source_cidr"), "--param wants key=value"),
        (("rejects_timeline", *WINDOW, "--param", "limit=5"), "takes no parameter 'limit'"),
        (("icmp_rejects", *WINDOW, "--param", "source_cidr=10.0.0.0/33"), "not a CIDR"),
        (("rejects_timeline", "--start", "2026-11-20T09:00:00", "--end", END), "give a time zone"),
        (("rejects_timeline", *WINDOW, "--engine", "spark"), "spark"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    flow_logs_dir: Path, capsys, args: tuple[str, ...], says: str
) -> None:
    code = run(["query", *args, "--flow-logs", str(flow_logs_dir)])
    captured = capsys.readouterr()
    assert code == 2
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("dropsleuth: error: ")
    assert says in line
    assert captured.out == ""


def test_subprocess_against_moto_server_reads_the_window_from_s3(records, moto_endpoint: str) -> None:
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="flow-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    write_parquet(records, "s3://flow-logs/vpc", s3=s3)
    done = run_dropsleuth(
        moto_endpoint, "query", "icmp_rejects", "--start", START, "--end", END, "--engine", "local",
        "--flow-logs", "s3://flow-logs/vpc", "--param", f"source_cidr={SITE}", "--output", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    wanted = as_json(oracle.icmp_rejects(records, START_AT, END_AT, SITE))
    assert wanted
    assert answer["rows"] == wanted
    assert answer["engine"] == "duckdb"

    missing = run_dropsleuth(
        moto_endpoint, "query", "icmp_rejects", "--start", START, "--end", END, "--engine", "local",
        "--flow-logs", "s3://no-such-bucket/vpc", "--param", f"source_cidr={SITE}",
    )  # fmt: skip
    assert missing.returncode == 3, missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "Traceback" not in missing.stderr


ATHENA_ENV = {
    "DROPSLEUTH_ATHENA_WORKGROUP": "dropsleuth",
    "DROPSLEUTH_ATHENA_DATABASE": "db",
    "DROPSLEUTH_ATHENA_OUTPUT": "s3://results/",
}


@pytest.fixture
def stubbed_athena(monkeypatch) -> Any:
    for key, value in ATHENA_ENV.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("athena", region_name="eu-west-1")
    monkeypatch.setattr(clients, "session", lambda: _SessionWith(client))
    monkeypatch.setattr(clients, "athena", lambda: client)
    return client


def test_a_failed_athena_query_is_exit_3_with_athenas_reason(stubbed_athena, capsys) -> None:
    reason = "HIVE_BAD_DATA: Field tcp_flags's type INT64 in parquet is incompatible with type int"
    with Stubber(stubbed_athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"},
                          {"QueryString": ANY, "WorkGroup": "dropsleuth", "QueryExecutionContext": ANY,
                           "ResultConfiguration": ANY, "ExecutionParameters": ANY})  # fmt: skip
        stub.add_response("get_query_execution", _execution("FAILED", reason), {"QueryExecutionId": "q-1"})
        code = run(["query", "rejects_timeline", "--start", START, "--end", END, "--engine", "athena"])
    captured = capsys.readouterr()
    assert code == 3
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("dropsleuth: AWS error (query_failed): ")
    assert reason in line
    assert captured.out == ""


def test_athena_bytes_scanned_are_reported_by_the_command(stubbed_athena, capsys) -> None:
    succeeded = _execution("SUCCEEDED")
    succeeded["QueryExecution"] |= {
        "ResultConfiguration": {"OutputLocation": "s3://results/q-1.csv"},
        "Statistics": {"DataScannedInBytes": 52_428_800, "EngineExecutionTimeInMillis": 640},
    }
    column_info = [
        {"Name": n, "Label": n, "Type": t, "CatalogName": "hive", "SchemaName": "", "TableName": "",
         "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": False}
        for n, t in ICMP_COLUMNS
    ]  # fmt: skip
    results = {
        "ResultSet": {
            "Rows": [
                {"Data": [{"VarCharValue": n} for n, _ in ICMP_COLUMNS]},
                {"Data": [{"VarCharValue": v} for v in ("2026-11-20 09:21:00.000 UTC", "4", "16", "1")]},
            ],
            "ResultSetMetadata": {"ColumnInfo": column_info},
        }
    }
    args = ["query", "icmp_rejects", "--start", START, "--end", END, "--param", f"source_cidr={SITE}"]
    for output in ("json", "table"):
        with Stubber(stubbed_athena) as stub:
            stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
            stub.add_response("get_query_execution", succeeded, {"QueryExecutionId": "q-1"})
            stub.add_response("get_query_results", results, {"QueryExecutionId": "q-1", "MaxResults": ANY})
            assert run([*args, "--output", output]) == 0
        printed = capsys.readouterr().out
        if output == "json":
            answer = json.loads(printed)
            assert (answer["engine"], answer["bytes_scanned"], answer["query_id"]) == (
                "athena",
                52_428_800,
                "q-1",
            )
            assert answer["rows"] == [
                {"minute": "2026-11-20T09:21:00Z", "rejects": 4, "packets": 16, "senders": 1}
            ]
        else:
            assert "icmp_rejects (athena, 52428800 bytes scanned)" in printed
