"""The functions: one per catalog spec, their settings, and policies built from the declared actions."""

from __future__ import annotations

import pytest

from cdk.investigator import ENV_PREFIX, PLATFORM_ACTIONS
from dropsleuth.aws.permissions import TOOLKIT_TAG_KEY, TOOLKIT_TAG_VALUE
from dropsleuth.config import Settings
from dropsleuth.functions import catalog
from tests.infra.conftest import Synthesized, as_list, flatten, statements

SPECS = catalog()


def _function(synthesized: Synthesized, name: str) -> dict:
    return synthesized.resource(synthesized.stack.investigator.functions[name])


def _role_policies(synthesized: Synthesized, name: str) -> dict[str, list[dict]]:
    """Every IAM policy attached to the function's role, by the policy's construct id."""
    function = synthesized.stack.investigator.functions[name]
    role_id = synthesized.logical_id(function.role)
    found: dict[str, list[dict]] = {}
    for policy_id, policy in synthesized.resources("AWS::IAM::Policy").items():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found[policy_id] = statements(policy)
    return found


def test_one_function_per_catalog_spec(synthesized: Synthesized) -> None:
    assert SPECS, "the catalog is empty: no handler declares FUNCTION"
    assert set(synthesized.stack.investigator.functions) == set(SPECS)
    assert len(synthesized.resources("AWS::Lambda::Function")) == len(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_function_runs_arm64_python313_with_its_dependencies_bundled_not_layered(
    synthesized: Synthesized, name: str
) -> None:
    spec = SPECS[name]
    props = _function(synthesized, name)["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == spec.handler
    assert props["Timeout"] == spec.timeout_s
    assert props["MemorySize"] == spec.memory_mb
    assert props["TracingConfig"] == {"Mode": "Active"}
    # Powertools and boto3 come from the asset, at the locked versions the tests ran: no layer.
    assert "Layers" not in props


@pytest.mark.parametrize("name", sorted(SPECS))
def test_function_settings_are_settings_fields_and_cover_what_it_requires(
    synthesized: Synthesized, name: str
) -> None:
    variables = _function(synthesized, name)["Properties"]["Environment"]["Variables"]
    ours = {k[len(ENV_PREFIX) :].lower() for k in variables if k.startswith(ENV_PREFIX)}
    assert ours <= set(Settings.model_fields)
    assert set(SPECS[name].required_settings) <= ours
    assert variables["POWERTOOLS_SERVICE_NAME"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "DropSleuth"
    assert flatten(variables["DROPSLEUTH_SITES_PARAMETER"]) == flatten(
        synthesized.stack.resolve(synthesized.stack.sites.parameter.parameter_name)
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_failed_async_invocations_go_to_the_failure_queue_and_logs_expire(
    synthesized: Synthesized, name: str
) -> None:
    function_id = synthesized.logical_id(synthesized.stack.investigator.functions[name])
    queue_id = synthesized.logical_id(synthesized.stack.investigator.failures)
    configs = [
        c["Properties"]
        for c in synthesized.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert len(configs) == 1
    on_failure = configs[0]["DestinationConfig"]["OnFailure"]["Destination"]
    assert on_failure == {"Fn::GetAtt": [queue_id, "Arn"]}

    log_group_ref = _function(synthesized, name)["Properties"]["LoggingConfig"]["LogGroup"]
    log_group = synthesized.template["Resources"][log_group_ref["Ref"]]
    assert log_group["Properties"]["RetentionInDays"] >= 1


@pytest.mark.parametrize("name", sorted(SPECS))
def test_declared_policy_grants_exactly_the_declared_actions(synthesized: Synthesized, name: str) -> None:
    declared_policy = synthesized.stack.investigator.declared_policies.get(name)
    policies = _role_policies(synthesized, name)
    granted_declared: set[str] = set()
    if declared_policy is not None:
        for statement in policies.pop(synthesized.logical_id(declared_policy)):
            granted_declared |= set(as_list(statement["Action"]))
    assert granted_declared == set(SPECS[name].grants_for(synthesized.stack.investigator.settings))

    # What else the role holds is the platform's own (logs, failure queue, X-Ray), never a service API.
    platform = {a for stmts in policies.values() for s in stmts for a in as_list(s["Action"])}
    assert platform <= PLATFORM_ACTIONS
    assert not platform & set(SPECS[name].actions) - PLATFORM_ACTIONS


def test_no_action_wildcards_and_no_managed_policies(synthesized: Synthesized) -> None:
    for policy_id, policy in synthesized.resources("AWS::IAM::Policy").items():
        for statement in statements(policy):
            for action in as_list(statement["Action"]):
                assert "*" not in action, (policy_id, action)
    for role in synthesized.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_toolkit_resources_are_scoped_and_wildcards_only_where_unscopable(synthesized: Synthesized) -> None:
    scoped_services = ("s3:", "ssm:", "sns:", "dynamodb:", "glue:")
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        for statement in statements(policy):
            resources = [flatten(r) for r in as_list(statement["Resource"])]
            for action in as_list(statement["Action"]):
                if action.startswith(scoped_services):
                    assert "*" not in resources, (action, resources)
                if action == "cloudwatch:PutMetricData":
                    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "DropSleuth"}}


# What each mutating EC2 action may touch: resources of the types it acts on, never "*".
DELETES = {
    "ec2:DeleteNetworkInsightsPath": "network-insights-path",
    "ec2:DeleteNetworkInsightsAnalysis": "network-insights-analysis",
}
TAGGED_ON_CREATE = {
    "CreateNetworkInsightsPath": {"network-insights-path"},
    "StartNetworkInsightsAnalysis": {"network-insights-analysis"},
    "CreateFlowLogs": {"vpc-flow-log"},
}
EC2_ARN = "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:{}/*"


def _granting(synthesized: Synthesized, action: str) -> list[dict]:
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        for statement in statements(policy)
        if action in as_list(statement["Action"])
    ]


@pytest.mark.parametrize("action", sorted(DELETES))
def test_deletes_reach_only_what_the_toolkit_tagged(synthesized: Synthesized, action: str) -> None:
    granted = _granting(synthesized, action)
    assert granted, f"no function is granted {action}"
    for statement in granted:
        assert as_list(statement["Action"]) == [action]  # alone: no other action shares the condition
        assert [flatten(r) for r in as_list(statement["Resource"])] == [EC2_ARN.format(DELETES[action])]
        assert statement["Condition"] == {
            "StringEquals": {f"aws:ResourceTag/{TOOLKIT_TAG_KEY}": TOOLKIT_TAG_VALUE}
        }


def test_create_tags_only_inside_the_create_calls_that_tag(synthesized: Synthesized) -> None:
    granted = _granting(synthesized, "ec2:CreateTags")
    assert granted
    creators: set[str] = set()
    for statement in granted:
        assert as_list(statement["Action"]) == ["ec2:CreateTags"]
        (operator,) = statement["Condition"]
        (key,) = statement["Condition"][operator]
        assert (operator, key) == ("StringEquals", "ec2:CreateAction")
        actions = set(as_list(statement["Condition"][operator][key]))
        assert actions <= set(TAGGED_ON_CREATE), actions
        creators |= actions
        kinds = set().union(*(TAGGED_ON_CREATE[a] for a in actions))
        resources = {flatten(r) for r in as_list(statement["Resource"])}
        assert resources == {EC2_ARN.format(kind) for kind in kinds}
    # cdk.json leaves allow_enable_flow_logs off: no role may create (or tag) a flow log.
    assert creators == set(TAGGED_ON_CREATE) - {"CreateFlowLogs"}
