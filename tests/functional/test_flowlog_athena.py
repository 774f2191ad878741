"""The Athena engine through pyathena against moto (seeded results), and Athena's failure states through
botocore's Stubber with real response shapes (moto runs no SQL and never fails a query)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from dropsleuth import queries
from dropsleuth.aws import clients
from dropsleuth.aws.permissions import record_api_calls
from dropsleuth.config import load_settings
from dropsleuth.handlers import query_rejects
from tests.support import seed_athena_results as seed_results

ROOT = Path(__file__).resolve().parents[2]
WINDOW = {"start": datetime(2026, 11, 20, 9, 0, tzinfo=UTC), "end": datetime(2026, 11, 20, 10, 0, tzinfo=UTC)}
PARAMS = WINDOW | {"source_cidr": "192.168.50.0/24"}


@pytest.fixture
def athena(aws: None) -> Any:
    client = boto3.client("athena", region_name="eu-west-1")
    client.create_work_group(
        Name="dropsleuth", Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/"}}
    )
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="results", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return client


def test_rows_parameters_and_table_reach_athena(athena) -> None:
    seed_results(
        [["2026-11-20 09:10:00.000 UTC", "2", "8", "1"]],
        [
            ("minute", "timestamp with time zone"),
            ("rejects", "bigint"),
            ("packets", "bigint"),
            ("senders", "bigint"),
        ],
    )
    engine = queries.AthenaEngine(
        "dropsleuth", "flowlogs_db", "vpc_flow_logs_v5", "s3://results/", poll_interval_s=0.01
    )
    result = engine.run("icmp_rejects", PARAMS)
    assert result.engine == "athena"
    assert result.rows == [
        {"minute": datetime(2026, 11, 20, 9, 10, tzinfo=UTC), "rejects": 2, "packets": 8, "senders": 1}
    ]
    execution = athena.get_query_execution(QueryExecutionId=result.query_id)["QueryExecution"]
    assert execution["ExecutionParameters"] == queries.athena_parameters(
        queries.load_query("icmp_rejects"), PARAMS
    )
    assert execution["WorkGroup"] == "dropsleuth"
    assert "flowlogs_db.vpc_flow_logs_v5" in execution["Query"]
    assert result.bytes_scanned == 0


class _SessionWith:
    """A boto3 session whose Athena client is the given (stubbed) one."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.region_name = "eu-west-1"

    def client(self, service: str, **_: Any) -> Any:
        assert service == "athena"
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(boto3.session.Session(region_name="eu-west-1"), name)


def _execution(state: str, reason: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"State": state, "SubmissionDateTime": datetime(2026, 11, 20, tzinfo=UTC)}
    if reason:
        status["StateChangeReason"] = reason
    return {"QueryExecution": {"QueryExecutionId": "q-1", "Query": "SELECT 1", "Status": status,
                               "StatementType": "DML", "WorkGroup": "dropsleuth"}}  # fmt: skip


EXPECTED_PARAMETERS = queries.athena_parameters(queries.load_query("rejects_timeline"), WINDOW)
ICMP_COLUMNS = [
    ("minute", "timestamp with time zone"),
    ("rejects", "bigint"),
    ("packets", "bigint"),
    ("senders", "bigint"),
]


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_failed_or_cancelled_query_raises_with_athenas_reason(monkeypatch, state: str) -> None:
    client = boto3.client("athena", region_name="eu-west-1")
    reason = "COLUMN_NOT_FOUND: line 3:5: Column 'tcp_flags' cannot be resolved"
    with Stubber(client) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": "q-1"},
            {"QueryString": ANY, "WorkGroup": "dropsleuth", "QueryExecutionContext": ANY,
             "ResultConfiguration": ANY, "ExecutionParameters": EXPECTED_PARAMETERS},
        )  # fmt: skip
        stub.add_response("get_query_execution", _execution(state, reason), {"QueryExecutionId": "q-1"})
        monkeypatch.setattr(clients, "session", lambda: _SessionWith(client))
        engine = queries.AthenaEngine(
            "dropsleuth", "db", "vpc_flow_logs", "s3://results/", poll_interval_s=0.01
        )
        with pytest.raises(queries.QueryFailedError) as caught:
            engine.run("rejects_timeline", WINDOW)
    assert reason in str(caught.value)
    assert caught.value.kind == "query_failed"


def test_a_query_running_past_the_timeout_is_stopped(monkeypatch) -> None:
    client = boto3.client("athena", region_name="eu-west-1")
    ticks = iter([0.0, 5.0, 31.0])
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", _execution("QUEUED"), {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", _execution("RUNNING"), {"QueryExecutionId": "q-1"})
        stub.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-1"})
        monkeypatch.setattr(clients, "session", lambda: _SessionWith(client))
        monkeypatch.setattr(clients, "athena", lambda: client)
        engine = queries.AthenaEngine("dropsleuth", "db", "vpc_flow_logs", None, 30, poll_interval_s=0.0,
                                      clock=lambda: next(ticks))  # fmt: skip
        with pytest.raises(queries.QueryTimeoutError):
            engine.run("rejects_timeline", WINDOW)
        stub.assert_no_pending_responses()


class Context:
    function_name = "query_rejects"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:query_rejects"
    aws_request_id = "6f2c7a8e-0000-4000-8000-000000000005"


def event(**changes: Any) -> dict[str, Any]:
    return json.loads((ROOT / "events" / "query_rejects.json").read_text()) | changes


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"query": "drop_everything"}, "query"),
        ({"query": "create_flow_logs_table"}, "query"),
        ({"start": "2026-11-20T09:00:00"}, "$"),
        ({"end": "2026-12-20T09:00:00Z"}, "$"),
        ({"params": {"start": "x"}}, "params"),
        ({"params": {"source_cidr": "not-a-cidr"}}, "source_cidr"),
        ({"params": {"source_cidr": "10.0.0.0/8", "limit": "5"}}, "limit"),
    ],
)
def test_handler_validation_names_the_field(athena, monkeypatch, changes: dict[str, Any], field: str) -> None:
    monkeypatch.setattr(query_rejects, "settings", lambda: load_settings(
        {"DROPSLEUTH_ATHENA_WORKGROUP": "dropsleuth", "DROPSLEUTH_ATHENA_DATABASE": "db"}))  # fmt: skip
    answer = query_rejects.handler(event(**changes), Context())
    assert answer["ok"] is False
    assert answer["error"]["type"] == "ValidationError"
    assert answer["error"]["field"] == field


def test_handler_runs_the_test_event_on_athena(athena, monkeypatch) -> None:
    seed_results([["2026-11-20 09:10:00.000 UTC", "3", "12", "1"]],
                 ICMP_COLUMNS)  # fmt: skip
    monkeypatch.setattr(query_rejects, "settings", lambda: load_settings(
        {"DROPSLEUTH_ATHENA_WORKGROUP": "dropsleuth", "DROPSLEUTH_ATHENA_DATABASE": "db",
         "DROPSLEUTH_ATHENA_OUTPUT": "s3://results/"}))  # fmt: skip
    answer = query_rejects.handler(event(), Context())
    assert answer["ok"] is True
    assert answer["engine"] == "athena"
    assert answer["rows"] == [{"minute": "2026-11-20T09:10:00Z", "rejects": 3, "packets": 12, "senders": 1}]


def test_bytes_scanned_are_athenas_data_scanned_in_bytes(monkeypatch) -> None:
    # moto always answers 0 bytes scanned; AWS reports Statistics.DataScannedInBytes per query.
    client = boto3.client("athena", region_name="eu-west-1")
    succeeded = _execution("SUCCEEDED")
    succeeded["QueryExecution"] |= {
        "ResultConfiguration": {"OutputLocation": "s3://results/q-1.csv"},
        "Statistics": {"EngineExecutionTimeInMillis": 812, "DataScannedInBytes": 73_400_320,
                       "TotalExecutionTimeInMillis": 1034},
    }  # fmt: skip
    column_info = [
        {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name, "Type": kind,
         "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": False}
        for name, kind in ICMP_COLUMNS
    ]  # fmt: skip
    results = {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": [
                {"Data": [{"VarCharValue": name} for name, _ in ICMP_COLUMNS]},
                {"Data": [{"VarCharValue": v} for v in ("2026-11-20 09:10:00.000 UTC", "2", "8", "1")]},
            ],
            "ResultSetMetadata": {"ColumnInfo": column_info},
        },
    }
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", succeeded, {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_results", results, {"QueryExecutionId": "q-1", "MaxResults": ANY})
        monkeypatch.setattr(clients, "session", lambda: _SessionWith(client))
        engine = queries.AthenaEngine("dropsleuth", "db", "vpc_flow_logs", "s3://results/", poll_interval_s=0)
        result = engine.run("icmp_rejects", PARAMS)
        stub.assert_no_pending_responses()
    assert result.bytes_scanned == 73_400_320
    assert result.to_json()["bytes_scanned"] == 73_400_320
    assert result.query_id == "q-1"
    assert result.rows == [
        {"minute": datetime(2026, 11, 20, 9, 10, tzinfo=UTC), "rejects": 2, "packets": 8, "senders": 1}
    ]


def test_handler_calls_only_declared_actions(athena, monkeypatch) -> None:
    seed_results([["2026-11-20 09:10:00.000 UTC", "3", "12", "1"]], ICMP_COLUMNS)
    monkeypatch.setattr(query_rejects, "settings", lambda: load_settings(
        {"DROPSLEUTH_ATHENA_WORKGROUP": "dropsleuth", "DROPSLEUTH_ATHENA_DATABASE": "db",
         "DROPSLEUTH_ATHENA_OUTPUT": "s3://results/"}))  # fmt: skip
    clients.reset()
    with record_api_calls() as recorder:
        answer = query_rejects.handler(event(), Context())
    assert answer["ok"] is True, answer
    assert "athena:StartQueryExecution" in recorder.actions
    assert recorder.actions <= query_rejects.FUNCTION.actions, (
        recorder.actions - query_rejects.FUNCTION.actions
    )
