"""Flow-log status and enabling against moto: coverage, findings, idempotency, never touching what exists."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from dropsleuth.aws import flowlogs
from dropsleuth.aws.errors import InputError
from dropsleuth.aws.permissions import TOOLKIT_TAG_KEY, TOOLKIT_TAG_VALUE, record_api_calls
from dropsleuth.config import load_settings
from dropsleuth.flowlogs.schema import REQUIRED_FIELDS, log_format
from dropsleuth.handlers import enable_flow_logs as enable_handler
from dropsleuth.model import FindingCode, Severity
from tests.support import run_dropsleuth

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "dropsleuth-flow-logs"


def make_network(ec2: Any, s3: Any) -> dict[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return {"vpc": vpc, "subnet": subnet, "eni": eni}


def describe(ec2: Any) -> list[dict[str, Any]]:
    return ec2.describe_flow_logs()["FlowLogs"]


@pytest.fixture
def network(aws: None) -> tuple[Any, dict[str, str]]:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    return ec2, make_network(ec2, boto3.client("s3", region_name="eu-west-1"))


def test_nothing_enabled_gives_a_warning_for_every_resource(network) -> None:
    _, ids = network
    status = flowlogs.flow_logs_status(ids["vpc"], subnet_ids=[ids["subnet"]], eni_ids=[ids["eni"]])
    assert set(status.uncovered) == {ids["vpc"], ids["subnet"], ids["eni"]}
    (finding,) = status.findings()
    assert finding.code is FindingCode.FLOW_LOGS_DISABLED
    assert finding.severity is Severity.WARNING  # a blind spot, not a drop
    assert ids["eni"] in finding.resource_ids


def test_enable_covers_vpc_subnets_and_enis_and_a_second_run_creates_nothing(network) -> None:
    ec2, ids = network
    first = flowlogs.enable_flow_logs(ids["vpc"], BUCKET)
    assert [a.action for a in first.actions] == ["created"]
    (created,) = describe(ec2)
    assert created["ResourceId"] == ids["vpc"]
    assert created["TrafficType"] == "ALL"
    assert created["LogDestination"] == f"arn:aws:s3:::{BUCKET}"
    assert created["MaxAggregationInterval"] == 60
    assert flowlogs.parse_fields(created["LogFormat"]) == REQUIRED_FIELDS

    status = flowlogs.flow_logs_status(ids["vpc"], subnet_ids=[ids["subnet"]], eni_ids=[ids["eni"]])
    assert status.ok
    assert set(status.covered) == {ids["vpc"], ids["subnet"], ids["eni"]}
    assert status.findings() == []

    second = flowlogs.enable_flow_logs(ids["vpc"], BUCKET)
    assert [a.action for a in second.actions] == ["already_enabled"]
    assert len(describe(ec2)) == 1


def test_an_incomplete_flow_log_is_reported_kept_and_complemented_only_when_asked(network) -> None:
    ec2, ids = network
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="their-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    existing = ec2.create_flow_logs(
        ResourceIds=[ids["vpc"]], ResourceType="VPC", TrafficType="REJECT", LogDestinationType="s3",
        LogDestination="arn:aws:s3:::their-logs", LogFormat="${version} ${srcaddr} ${dstaddr} ${action}",
    )["FlowLogIds"][0]  # fmt: skip
    before = describe(ec2)

    status = flowlogs.flow_logs_status(ids["vpc"])
    (log,) = status.flow_logs
    assert "tcp-flags" in log.missing_fields
    assert "pkt-dst-aws-service" in log.missing_fields
    assert "srcaddr" not in log.missing_fields
    (finding,) = status.findings()
    assert finding.severity is Severity.WARNING
    assert "tcp-flags" in finding.detail
    assert "traffic type REJECT" in finding.detail

    skipped = flowlogs.enable_flow_logs(ids["vpc"], BUCKET)
    assert [a.action for a in skipped.actions] == ["skipped_incomplete"]
    assert describe(ec2) == before

    added = flowlogs.enable_flow_logs(ids["vpc"], BUCKET, add_if_incomplete=True)
    assert [a.action for a in added.actions] == ["created"]
    after = {f["FlowLogId"]: f for f in describe(ec2)}
    assert len(after) == 2
    assert after[existing] == before[0]


def test_a_second_flow_log_to_the_same_destination_is_a_failed_action_not_a_crash(network) -> None:
    ec2, ids = network
    ec2.create_flow_logs(
        ResourceIds=[ids["vpc"]], ResourceType="VPC", TrafficType="REJECT", LogDestinationType="s3",
        LogDestination=f"arn:aws:s3:::{BUCKET}", LogFormat="${version} ${srcaddr}",
    )  # fmt: skip
    before = describe(ec2)
    (action,) = flowlogs.enable_flow_logs(ids["vpc"], BUCKET, add_if_incomplete=True).actions
    assert action.action == "failed"
    assert "--prefix" in action.detail
    assert describe(ec2) == before


def test_subnet_and_eni_targets_and_dry_run(network) -> None:
    ec2, ids = network
    planned = flowlogs.enable_flow_logs(ids["vpc"], BUCKET, eni_ids=[ids["eni"]], dry_run=True)
    assert [(a.resource_id, a.action) for a in planned.actions] == [(ids["eni"], "would_create")]
    assert describe(ec2) == []
    done = flowlogs.enable_flow_logs(ids["vpc"], BUCKET, subnet_ids=[ids["subnet"]])
    assert [(a.resource_type, a.action) for a in done.actions] == [("Subnet", "created")]
    eni = flowlogs.enable_flow_logs(ids["vpc"], BUCKET, eni_ids=[ids["eni"]])
    assert [a.action for a in eni.actions] == ["already_enabled"]  # its subnet's flow log covers it


def test_a_prefixed_destination_is_sent_as_aws_documents_it_and_moto_refusal_is_a_failed_action(
    network,
) -> None:
    # AWS takes arn:aws:s3:::bucket/folder/ (VPC User Guide, "Create a flow log that publishes to Amazon S3");
    # moto 5.2 wrongly answers "does not exist" in Unsuccessful (docs/reference/aws-facts.md). That must
    # surface, not vanish.
    _, ids = network
    assert flowlogs.destination_arn(BUCKET, "/vpc-logs/") == f"arn:aws:s3:::{BUCKET}/vpc-logs/"
    result = flowlogs.enable_flow_logs(ids["vpc"], BUCKET, prefix="vpc-logs")
    (action,) = result.actions
    assert action.action == "failed"
    assert "does not exist" in action.detail


@pytest.mark.parametrize(
    ("bucket", "prefix", "field"),
    [("Bad_Bucket", "", "bucket"), (BUCKET, "a b", "prefix"), (BUCKET, "AWSLogs", "prefix")],
)
def test_bad_destinations_name_the_field(bucket: str, prefix: str, field: str) -> None:
    with pytest.raises(InputError) as caught:
        flowlogs.destination_arn(bucket, prefix)
    assert caught.value.field == field


def test_the_adapter_calls_only_declared_actions(network) -> None:
    from dropsleuth.aws import clients

    _, ids = network
    clients.reset()
    with record_api_calls() as recorder:
        flowlogs.enable_flow_logs(ids["vpc"], BUCKET, eni_ids=[ids["eni"]])
        flowlogs.flow_logs_status(ids["vpc"], eni_ids=[ids["eni"]])
    assert recorder.actions
    assert recorder.actions <= flowlogs.PERMISSIONS.actions
    assert enable_handler.FUNCTION.actions >= recorder.actions


class Context:
    function_name = "enable_flow_logs"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:enable_flow_logs"
    aws_request_id = "6f2c7a8e-0000-4000-8000-000000000004"


def test_handler_only_plans_unless_allowed(network, monkeypatch) -> None:
    ec2, ids = network
    event = json.loads((ROOT / "events" / "enable_flow_logs.json").read_text()) | {"vpc_id": ids["vpc"]}
    stack = {"DROPSLEUTH_FLOW_LOGS_BUCKET": BUCKET}
    monkeypatch.setattr(enable_handler, "settings", lambda: load_settings(stack))
    planned = enable_handler.handler(event, Context())
    assert planned["ok"] is True
    assert planned["dry_run"] is True
    assert [a["action"] for a in planned["result"]["actions"]] == ["would_create"]
    assert planned["findings"][0]["code"] == "FLOW_LOGS_DISABLED"
    assert describe(ec2) == []

    monkeypatch.setattr(
        enable_handler,
        "settings",
        lambda: load_settings({**stack, "DROPSLEUTH_ALLOW_ENABLE_FLOW_LOGS": "true"}),
    )
    done = enable_handler.handler(event, Context())
    assert [a["action"] for a in done["result"]["actions"]] == ["created"]
    assert done["findings"] == []
    assert len(describe(ec2)) == 1


@pytest.mark.parametrize(
    ("destination", "field"),
    [({"bucket": "someone-elses-bucket"}, "bucket"), ({"prefix": "elsewhere"}, "prefix")],
)
def test_handler_refuses_a_destination_other_than_the_stacks(
    network, monkeypatch, destination: dict[str, str], field: str
) -> None:
    ec2, ids = network
    event = json.loads((ROOT / "events" / "enable_flow_logs.json").read_text()) | {"vpc_id": ids["vpc"]}
    monkeypatch.setattr(
        enable_handler,
        "settings",
        lambda: load_settings(
            {"DROPSLEUTH_FLOW_LOGS_BUCKET": BUCKET, "DROPSLEUTH_ALLOW_ENABLE_FLOW_LOGS": "true"}
        ),
    )
    answer = enable_handler.handler(event | destination, Context())
    assert answer["ok"] is False
    assert answer["error"] == answer["error"] | {"type": "ValidationError", "field": field}
    assert describe(ec2) == []
    # The stack's own bucket, named explicitly, is accepted.
    same = enable_handler.handler(event | {"bucket": BUCKET, "prefix": ""}, Context())
    assert [a["action"] for a in same["result"]["actions"]] == ["created"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vpc_id": "vpc-nothex!"}, "vpc_id"),
        ({"eni_ids": ["subnet-123"]}, "eni_ids"),
        ({"extra": 1}, "extra"),
    ],
)
def test_handler_validation_names_the_field(change: dict[str, Any], field: str) -> None:
    event = json.loads((ROOT / "events" / "enable_flow_logs.json").read_text()) | change
    answer = enable_handler.handler(event, Context())
    assert answer["ok"] is False
    assert answer["error"]["field"] == field


def run_cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_dropsleuth(endpoint, *args)


def test_cli_enable_against_moto_server_is_idempotent_and_leaves_existing_logs_alone(
    moto_endpoint: str,
) -> None:
    ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url=moto_endpoint)
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=moto_endpoint)
    ids = make_network(ec2, s3)
    other_vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    theirs = ec2.create_flow_logs(
        ResourceIds=[other_vpc], ResourceType="VPC", TrafficType="ALL", LogDestinationType="s3",
        LogDestination=f"arn:aws:s3:::{BUCKET}", LogFormat=log_format(),
    )["FlowLogIds"][0]  # fmt: skip
    before = {f["FlowLogId"]: f for f in describe(ec2)}

    status = run_cli(
        moto_endpoint, "flowlogs", "status", "--vpc", ids["vpc"], "--eni", ids["eni"], "-o", "json"
    )
    assert status.returncode == 1, status.stderr
    assert set(json.loads(status.stdout)["uncovered"]) == {ids["vpc"], ids["eni"]}

    first = run_cli(
        moto_endpoint, "flowlogs", "enable", "--vpc", ids["vpc"], "--bucket", BUCKET, "-o", "json"
    )
    assert first.returncode == 0, first.stderr
    assert [a["action"] for a in json.loads(first.stdout)["actions"]] == ["created"]
    second = run_cli(
        moto_endpoint, "flowlogs", "enable", "--vpc", ids["vpc"], "--bucket", BUCKET, "-o", "json"
    )
    assert second.returncode == 0, second.stderr
    assert [a["action"] for a in json.loads(second.stdout)["actions"]] == ["already_enabled"]

    after = {f["FlowLogId"]: f for f in describe(ec2)}
    assert len(after) == len(before) + 1
    assert after[theirs] == before[theirs]
    status = run_cli(moto_endpoint, "flowlogs", "status", "--vpc", ids["vpc"], "--eni", ids["eni"])
    assert status.returncode == 0, status.stdout

    bad = run_cli(moto_endpoint, "flowlogs", "enable", "--vpc", ids["vpc"], "--bucket", "No_Such")
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1


def test_a_ten_minute_flow_log_is_incomplete_kept_and_complemented_only_when_asked(network) -> None:
    # Every field, ALL, S3, but AWS's default 600 s aggregation: no throughput per minute.
    ec2, ids = network
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="their-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    existing = ec2.create_flow_logs(
        ResourceIds=[ids["vpc"]], ResourceType="VPC", TrafficType="ALL", LogDestinationType="s3",
        LogDestination="arn:aws:s3:::their-logs", LogFormat=log_format(),
    )["FlowLogIds"][0]  # fmt: skip
    before = describe(ec2)
    assert before[0]["MaxAggregationInterval"] == 600

    status = flowlogs.flow_logs_status(ids["vpc"])
    assert status.incomplete == {ids["vpc"]: (existing,)}
    (log,) = status.flow_logs
    assert log.missing_fields == ()
    assert log.shortcomings() == ["aggregation interval 600 s (60 s needed for throughput per minute)"]
    (finding,) = status.findings()
    assert finding.severity is Severity.WARNING
    assert finding.detail == "aggregation interval 600 s (60 s needed for throughput per minute)"

    (skipped,) = flowlogs.enable_flow_logs(ids["vpc"], BUCKET).actions
    assert skipped.action == "skipped_incomplete"
    assert "aggregation interval 600 s" in skipped.detail
    assert describe(ec2) == before
    (added,) = flowlogs.enable_flow_logs(ids["vpc"], BUCKET, add_if_incomplete=True).actions
    assert added.action == "created"
    assert {f["FlowLogId"]: f for f in describe(ec2)}[existing] == before[0]
    assert flowlogs.flow_logs_status(ids["vpc"]).ok


def test_moto_drops_destination_options_so_the_format_is_unknown_not_incomplete(network, capsys) -> None:
    ec2, ids = network
    flowlogs.enable_flow_logs(ids["vpc"], BUCKET)
    # moto 5.2 (docs/reference/aws-facts.md); AWS returns them
    assert "DestinationOptions" not in describe(ec2)[0]
    status = flowlogs.flow_logs_status(ids["vpc"])
    assert status.ok
    (log,) = status.flow_logs
    assert log.file_format == "unknown"
    assert log.unknowns() == ["file format and partitioning unknown (no DestinationOptions returned)"]
    assert status.findings() == []
    from dropsleuth.cli.main import run

    assert run(["flowlogs", "status", "--vpc", ids["vpc"]]) == 0
    table = " ".join(capsys.readouterr().out.split())
    assert "covered" in table
    assert "unknown" in table


# --- botocore Stubber: the request enable sends, and DescribeFlowLogs as AWS answers it ------------------

VPC = "vpc-0a1b2c3d4e5f60718"


def _described(**changes: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    flow_log = {
        "CreationTime": datetime(2026, 11, 1, tzinfo=UTC),
        "DeliverLogsStatus": "SUCCESS",
        "FlowLogId": "fl-0123456789abcdef0",
        "FlowLogStatus": "ACTIVE",
        "ResourceId": VPC,
        "TrafficType": "ALL",
        "LogDestinationType": "s3",
        "LogDestination": "arn:aws:s3:::their-logs",
        "LogFormat": log_format(),
        "Tags": [],
        "MaxAggregationInterval": 60,
        "DestinationOptions": {"FileFormat": "parquet", "HiveCompatiblePartitions": True,
                               "PerHourPartition": True},
    } | changes  # fmt: skip
    return {"FlowLogs": [flow_log]}


DESCRIBE_VPC = {"Filters": [{"Name": "resource-id", "Values": [VPC]}]}


def test_enable_sends_s3_parquet_hive_per_hour_one_minute_all_and_the_full_format() -> None:
    from botocore.stub import ANY, Stubber

    ec2 = boto3.client("ec2", region_name="eu-west-1")
    with Stubber(ec2) as stub:
        stub.add_response("describe_flow_logs", {"FlowLogs": []}, DESCRIBE_VPC)
        stub.add_response(
            "create_flow_logs",
            {"ClientToken": "t", "FlowLogIds": ["fl-0fedcba9876543210"], "Unsuccessful": []},
            {
                "ResourceIds": [VPC],
                "ResourceType": "VPC",
                "TrafficType": "ALL",
                "LogDestinationType": "s3",
                "LogDestination": f"arn:aws:s3:::{BUCKET}/vpc/",
                "LogFormat": log_format(),
                "MaxAggregationInterval": 60,
                "DestinationOptions": {
                    "FileFormat": "parquet",
                    "HiveCompatiblePartitions": True,
                    "PerHourPartition": True,
                },
                "ClientToken": ANY,
                "TagSpecifications": [
                    {
                        "ResourceType": "vpc-flow-log",
                        "Tags": [{"Key": TOOLKIT_TAG_KEY, "Value": TOOLKIT_TAG_VALUE}],
                    }
                ],
            },
        )
        result = flowlogs.enable_flow_logs(VPC, BUCKET, prefix="vpc", ec2=ec2)
        stub.assert_no_pending_responses()
    assert [(a.action, a.flow_log_id) for a in result.actions] == [("created", "fl-0fedcba9876543210")]
    assert flowlogs.parse_fields(log_format()) == REQUIRED_FIELDS


@pytest.mark.parametrize(
    ("changes", "lacking"),
    [
        (
            {"DestinationOptions": {"FileFormat": "plain-text", "HiveCompatiblePartitions": True,
                                    "PerHourPartition": True}},
            "file format plain-text (the Athena table reads Parquet)",
        ),
        ({"MaxAggregationInterval": 600},
         "aggregation interval 600 s (60 s needed for throughput per minute)"),
    ],
)  # fmt: skip
def test_described_text_format_or_ten_minutes_is_incomplete_and_enable_skips(
    changes: dict[str, Any], lacking: str
) -> None:
    from botocore.stub import Stubber

    ec2 = boto3.client("ec2", region_name="eu-west-1")
    with Stubber(ec2) as stub:
        stub.add_response("describe_flow_logs", _described(**changes), DESCRIBE_VPC)
        stub.add_response("describe_flow_logs", _described(**changes), DESCRIBE_VPC)
        status = flowlogs.flow_logs_status(VPC, ec2=ec2)
        (action,) = flowlogs.enable_flow_logs(VPC, BUCKET, ec2=ec2).actions
        stub.assert_no_pending_responses()  # nothing was created
    assert status.incomplete == {VPC: ("fl-0123456789abcdef0",)}
    assert status.findings()[0].detail == lacking
    assert action.action == "skipped_incomplete"
    assert lacking in action.detail


def test_described_parquet_hive_per_hour_one_minute_is_complete_and_known() -> None:
    from botocore.stub import Stubber

    ec2 = boto3.client("ec2", region_name="eu-west-1")
    with Stubber(ec2) as stub:
        stub.add_response("describe_flow_logs", _described(), DESCRIBE_VPC)
        status = flowlogs.flow_logs_status(VPC, ec2=ec2)
    assert status.ok
    assert status.flow_logs[0].file_format == "parquet"
    assert status.flow_logs[0].unknowns() == []
