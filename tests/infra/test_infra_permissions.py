"""What AWS checks, granted: Reachability Analyzer's own checks; flow-log creation only when allowed."""

from __future__ import annotations

import pytest

from cdk.policy import ToolkitResources, grouped_statements
from dropsleuth.aws.permissions import TOOLKIT_TAG_KEY, TOOLKIT_TAG_VALUE
from dropsleuth.aws.reachability import (
    ANALYSIS_CHECKS_TIROS,
    ANALYSIS_READS_EC2,
    ANALYSIS_READS_OTHER_SERVICES,
)
from dropsleuth.functions import catalog
from tests.infra.conftest import Synthesized, as_list, flatten, statements

SPECS = catalog()
FLOW_LOG_CREATE = {"ec2:CreateFlowLogs", "logs:CreateLogDelivery", "logs:DeleteLogDelivery"}


def _granted(synthesized: Synthesized, name: str) -> set[str]:
    policy = synthesized.stack.investigator.declared_policies[name]
    document = synthesized.resource(policy)
    return {a for statement in statements(document) for a in as_list(statement["Action"])}


@pytest.mark.parametrize("name", ["investigate", "reachability"])
def test_reachability_analyzer_callers_hold_what_aws_checks_inside_an_analysis(
    synthesized: Synthesized, name: str
) -> None:
    granted = _granted(synthesized, name)
    assert set(ANALYSIS_CHECKS_TIROS) <= granted
    assert set(ANALYSIS_READS_EC2) <= granted
    assert set(ANALYSIS_READS_OTHER_SERVICES) <= granted
    services = {a.split(":")[0] for a in granted}
    assert {
        "tiros",
        "elasticloadbalancing",
        "network-firewall",
        "directconnect",
        "globalaccelerator",
    } <= services


def test_no_function_may_create_flow_logs_with_the_default_context(synthesized: Synthesized) -> None:
    assert synthesized.stack.investigator.settings["allow_enable_flow_logs"] is False
    for name in SPECS:
        assert not _granted(synthesized, name) & FLOW_LOG_CREATE, name
    # The investigation reads flow-log coverage, nothing more.
    assert {"ec2:DescribeFlowLogs"} <= _granted(synthesized, "investigate")
    assert {"ec2:DescribeFlowLogs"} <= _granted(synthesized, "enable_flow_logs")


TOOLKIT = ToolkitResources(
    readable_bucket_arns=("arn:aws:s3:::flow",),
    writable_bucket_arns=("arn:aws:s3:::reports",),
    sites_parameter_arn="arn:aws:ssm:eu-west-1:123456789012:parameter/sites",
    report_topic_arn="arn:aws:sns:eu-west-1:123456789012:reports",
    report_topic_key_arn="arn:aws:kms:eu-west-1:123456789012:key/k",
    idempotency_table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/idem",
    workgroup_arn="arn:aws:athena:eu-west-1:123456789012:workgroup/wg",
    glue_arns=("arn:aws:glue:eu-west-1:123456789012:catalog",),
    partition="aws",
    region="eu-west-1",
    account="123456789012",
    registry_vpc_ids=("vpc-0a1b2c3d4e5f67890",),
)
VPC_ARN = "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0a1b2c3d4e5f67890"


def test_when_allowed_flow_log_creation_is_tagged_and_held_to_the_registrys_vpcs() -> None:
    spec = SPECS["enable_flow_logs"]
    assert not set(spec.grants_for({"allow_enable_flow_logs": False})) & FLOW_LOG_CREATE
    granted = spec.grants_for({"allow_enable_flow_logs": True})
    assert set(granted) >= FLOW_LOG_CREATE
    creating = [
        s
        for s in grouped_statements(granted, TOOLKIT, namespace="DropSleuth", scopes=granted)
        if "ec2:CreateFlowLogs" in s.actions
    ]
    by_resources = {s.resources: s.condition_document() for s in creating}
    assert by_resources == {
        ("arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*",): {
            "StringEquals": {f"aws:RequestTag/{TOOLKIT_TAG_KEY}": TOOLKIT_TAG_VALUE}
        },
        (VPC_ARN,): None,
        (
            "arn:aws:ec2:eu-west-1:123456789012:subnet/*",
            "arn:aws:ec2:eu-west-1:123456789012:network-interface/*",
        ): {"ArnEquals": {"ec2:Vpc": VPC_ARN}},
    }
    for statement in creating:
        assert statement.actions == ("ec2:CreateFlowLogs",)


def test_the_registry_vpcs_appear_in_the_synthesized_template_only_as_placeholders_filled(
    synthesized: Synthesized,
) -> None:
    # No statement of the deployed template keeps an unfilled ${...} placeholder of a declaration.
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        for statement in statements(policy):
            text = flatten(statement.get("Resource", "")) + flatten(statement.get("Condition", {}))
            assert "${" not in text, text
