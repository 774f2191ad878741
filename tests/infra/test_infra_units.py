"""Pure pieces of the CDK app: resource scoping, the sites context, context parsing (no synth)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdk.app import deploy_config
from cdk.lake import named_query_text
from cdk.policy import ToolkitResources, grouped_statements, resources_for, wildcard_reason
from cdk.sites import registry_document, registry_from_context
from dropsleuth.aws import flowlogs, reachability
from dropsleuth.aws.errors import InputError
from dropsleuth.aws.permissions import grants
from dropsleuth.sites import parse_registry

TOOLKIT = ToolkitResources(
    readable_bucket_arns=("arn:flow", "arn:results", "arn:reports"),
    writable_bucket_arns=("arn:results", "arn:reports"),
    sites_parameter_arn="arn:param",
    report_topic_arn="arn:topic",
    report_topic_key_arn="arn:key",
    idempotency_table_arn="arn:table",
    workgroup_arn="arn:wg",
    glue_arns=("arn:catalog", "arn:db", "arn:tbl"),
    partition="aws",
    region="eu-west-1",
    account="123456789012",
)


def test_s3_reads_reach_every_toolkit_bucket_but_writes_never_the_flow_logs() -> None:
    assert resources_for("s3:GetObject", TOOLKIT) == ("arn:flow/*", "arn:results/*", "arn:reports/*")
    assert resources_for("s3:PutObject", TOOLKIT) == ("arn:results/*", "arn:reports/*")
    assert resources_for("s3:ListBucket", TOOLKIT) == ("arn:flow", "arn:results", "arn:reports")


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("ssm:GetParameter", ("arn:param",)),
        ("sns:Publish", ("arn:topic",)),
        ("dynamodb:PutItem", ("arn:table",)),
        ("athena:StartQueryExecution", ("arn:wg",)),
        ("glue:GetTable", ("arn:catalog", "arn:db", "arn:tbl")),
        ("ec2:DescribeNetworkAcls", ("*",)),
        ("cloudtrail:LookupEvents", ("*",)),
    ],
)
def test_actions_are_scoped_where_they_can_be(action: str, expected: tuple[str, ...]) -> None:
    assert resources_for(action, TOOLKIT) == expected


def test_statements_group_actions_by_resources_and_keep_every_action() -> None:
    actions = ["ec2:DescribeVpcs", "ec2:DescribeSubnets", "s3:GetObject", "cloudwatch:PutMetricData"]
    result = grouped_statements(actions, TOOLKIT, namespace="DropSleuth")
    assert sorted(a for s in result for a in s.actions) == sorted(actions)
    (metrics,) = [s for s in result if "cloudwatch:PutMetricData" in s.actions]
    assert metrics.actions == ("cloudwatch:PutMetricData",)  # alone: its condition must not spread
    assert metrics.condition_document() == {"StringEquals": {"cloudwatch:namespace": "DropSleuth"}}
    (ec2,) = [s for s in result if "ec2:DescribeVpcs" in s.actions]
    assert set(ec2.actions) == {"ec2:DescribeVpcs", "ec2:DescribeSubnets"}
    assert ec2.condition_document() is None


CREATES_PATH_AND_ANALYSIS = ("CreateNetworkInsightsPath", "StartNetworkInsightsAnalysis")


def test_declared_scopes_become_statements_with_their_arns_and_conditions() -> None:
    parts = (reachability.PERMISSIONS, flowlogs.PERMISSIONS)
    actions = {a for p in parts for a in p.actions}
    result = grouped_statements(actions, TOOLKIT, namespace="DropSleuth", scopes=grants(parts))
    assert sorted({a for s in result for a in s.actions}) == sorted(actions)
    (delete_path,) = [s for s in result if "ec2:DeleteNetworkInsightsPath" in s.actions]
    assert delete_path.actions == ("ec2:DeleteNetworkInsightsPath",)
    assert delete_path.resources == ("arn:aws:ec2:eu-west-1:123456789012:network-insights-path/*",)
    assert delete_path.condition_document() == {
        "StringEquals": {"aws:ResourceTag/dropsleuth:created-by": "dropsleuth"}
    }
    tagging = {tuple(s.resources): s.condition_document() for s in result if "ec2:CreateTags" in s.actions}
    assert tagging == {
        (
            "arn:aws:ec2:eu-west-1:123456789012:network-insights-path/*",
            "arn:aws:ec2:eu-west-1:123456789012:network-insights-analysis/*",
        ): {
            "StringEquals": {
                "ec2:CreateAction": ["CreateNetworkInsightsPath", "StartNetworkInsightsAnalysis"]
            }
        },
        ("arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*",): {
            "StringEquals": {"ec2:CreateAction": "CreateFlowLogs"}
        },
    }
    for statement in result:
        for action, reason in zip(statement.actions, statement.reasons, strict=True):
            if any("*" in r for r in statement.resources) and not action.startswith("s3:"):
                assert reason, action


def test_an_unscoped_action_needs_a_stated_reason_for_its_wildcard() -> None:
    assert "no resource-level" in wildcard_reason("ec2:DescribeVpcs")
    assert "user's network resources" in wildcard_reason("ec2:CreateFlowLogs")
    with pytest.raises(KeyError, match="no stated reason"):
        wildcard_reason("ec2:DeleteVpc")
    with pytest.raises(KeyError):
        grouped_statements(["ec2:CreateTags"], TOOLKIT, namespace="DropSleuth")  # unscoped: refused


def test_named_query_text_fills_the_location_outside_comments() -> None:
    sql = "-- @location@ is filled in\nLOCATION '@location@'\n'x' = '@location@year=${year}'\n"
    assert named_query_text(sql, "s3://b/p/") == (
        "-- @location@ is filled in\nLOCATION 's3://b/p/'\n'x' = 's3://b/p/year=${year}'\n"
    )
    assert named_query_text("SELECT 1\n", "s3://b/") == "SELECT 1\n"


def test_sites_context_accepts_json_text_a_list_or_a_file(tmp_path: Path) -> None:
    sites = [{"name": "lyon", "cidrs": ["10.0.0.0/16"], "min_upload_mbps": 20}]
    from_text = registry_from_context(json.dumps(sites), tmp_path)
    from_list = registry_from_context(sites, tmp_path)
    (tmp_path / "sites.json").write_text(json.dumps({"sites": sites}))
    from_file = registry_from_context("sites.json", tmp_path)
    assert from_text == from_list == from_file
    assert from_text.names() == ["lyon"]


def test_sites_context_with_a_bad_field_names_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cidrs"):
        registry_from_context('[{"name": "x", "cidrs": ["not-a-cidr"]}]', tmp_path)


def test_parameter_document_reads_back_as_the_same_registry(tmp_path: Path) -> None:
    registry = registry_from_context(
        [{"name": "a", "expected_mtus": {"eno1": 1500}, "vpn_connection_id": "vpn-1"}], tmp_path
    )
    assert parse_registry(json.loads(registry_document(registry))) == registry


def test_cli_context_strings_are_converted(tmp_path: Path) -> None:
    config = deploy_config(
        {
            "alarm_prefixes": "prod-vpn-,edge-",
            "allow_enable_flow_logs": "true",
            "max_reachability_analyses": "5",
            "sites": "[]",
        },
        tmp_path,
    )
    assert config.alarm_prefixes == ("prod-vpn-", "edge-")
    assert config.allow_enable_flow_logs is True
    assert config.max_reachability_analyses == 5
    with pytest.raises(ValueError, match="true or false"):
        deploy_config({"allow_enable_flow_logs": "maybe"}, tmp_path)


def test_docs_url_reaches_every_function_as_the_runbook_links_root(tmp_path: Path) -> None:
    from cdk.investigator import settings_environment
    from dropsleuth.config import load_settings

    config = deploy_config({"docs_url": "https://docs.example.com/dropsleuth/", "sites": "[]"}, tmp_path)
    assert config.docs_url == "https://docs.example.com/dropsleuth/"
    environment = settings_environment({"docs_url": config.docs_url})
    assert environment == {"DROPSLEUTH_DOCS_URL": "https://docs.example.com/dropsleuth/"}
    assert load_settings(environment).docs_url == config.docs_url
    assert deploy_config({"sites": "[]"}, tmp_path).docs_url is None
    with pytest.raises(ValueError, match="docs_url"):
        deploy_config({"docs_url": "docs.example.com", "sites": "[]"}, tmp_path)
