"""Least privilege that runs: each Lambda handler, on moto with IAM enforcement, under credentials whose only
policy is the one the synthesized template gives that function.

Each case runs the handler twice in a fresh moto account: with the function's own policy it succeeds (and
no step or call is refused), and with one action it needs taken out it is refused (AccessDenied, answered
or raised the way the handler promises). moto enforces identity policies once
``enable_iam_authentication`` is on (moto's ``INITIAL_NO_AUTH_ACTION_COUNT`` set to 0), checking the
request's access key against the user's policies.

What moto cannot enforce, and what this test therefore does to the template's policy before handing it to
moto (``moto_view``), each a widening, never a narrowing, so "succeeds with its own policy" stays honest:

- **Resources other than S3's.** moto authorises every service but S3 (and SQS/IAM/STS) against the
  resource ``*``, so an ARN-scoped statement would never match: those statements get ``Resource: *``. The
  scoping of SSM, SNS, DynamoDB, Athena, Glue, KMS and the EC2 deletes is asserted on the template
  instead (``test_infra_functions``, ``test_infra_permissions``). S3 statements keep their bucket ARNs,
  resolved to this account's buckets: moto checks those.
- **Conditions.** moto evaluates no request context (``cloudwatch:namespace``, ``ec2:CreateAction``,
  ``aws:ResourceTag``, ``aws:RequestTag``, ``ec2:Vpc``): conditions are dropped.
- **CloudWatch's prefix.** moto asks for ``monitoring:PutMetricData`` (the endpoint prefix) where IAM says
  ``cloudwatch:PutMetricData``: each ``cloudwatch:`` action is given under both names.
- **Checks inside a service.** moto has no Reachability Analyzer (the handler falls back to the static
  verdict, as in any account without the API), SNS does not check the topic's KMS key, and flow-log
  creation does not check ``logs:CreateLogDelivery``: those declarations are proved by their AWS page,
  cited beside them, not here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from dropsleuth.handlers.investigate import ReportNotStoredError
from tests.infra.conftest import Synthesized, as_list, statements
from tests.support import seed_athena_results, site_behind_a_vpn

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
SITE_CIDR = "192.168.50.0/24"
# The stack's buckets, as created in the moto account (names for the template's bucket logical ids).
FLOW_LOGS, RESULTS, REPORTS = "lp-flow-logs", "lp-athena-results", "lp-reports"


class LambdaContextStub:
    function_name = "least-privilege"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:least-privilege"
    aws_request_id = "00000000-0000-4000-8000-000000000012"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


# ---------------------------------------------------------------------------------------------------------
# The template's policy, as moto can check it
# ---------------------------------------------------------------------------------------------------------


def _resolver(synthesized: Synthesized) -> Callable[[Any], str]:
    stack = synthesized.stack
    buckets = {
        synthesized.logical_id(stack.lake.bucket): FLOW_LOGS,
        synthesized.logical_id(stack.lake.results_bucket): RESULTS,
        synthesized.logical_id(stack.reports.bucket): REPORTS,
    }
    pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Ref" in value:
            return pseudo.get(value["Ref"]) or buckets[value["Ref"]]
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", value
            return f"arn:aws:s3:::{buckets[logical_id]}"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(resolve(part) for part in parts)
        raise AssertionError(f"unresolvable {value}")

    return resolve


def template_policy(synthesized: Synthesized, function: str) -> list[dict[str, Any]]:
    """The statements the synthesized template gives the function's role (its declared policy)."""
    policy = synthesized.stack.investigator.declared_policies[function]
    return statements(synthesized.resource(policy))


def moto_view(synthesized: Synthesized, template: list[dict[str, Any]]) -> dict[str, Any]:
    """The policy as moto can enforce it (see the module's docstring for each change and why)."""
    resolve = _resolver(synthesized)
    converted = []
    for statement in template:
        assert statement["Effect"] == "Allow"
        actions = as_list(statement["Action"])
        if all(a.startswith("s3:") for a in actions):
            resources = [resolve(r) for r in as_list(statement["Resource"])]
        else:
            resources = ["*"]
        twins = [f"monitoring:{a.split(':', 1)[1]}" for a in actions if a.startswith("cloudwatch:")]
        converted.append({"Effect": "Allow", "Action": actions + twins, "Resource": resources})
    return {"Version": "2012-10-17", "Statement": converted}


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    """The policy with one action taken out of every statement (the CloudWatch twin too)."""
    removed = {action, action.replace("cloudwatch:", "monitoring:")}
    kept = []
    for statement in policy["Statement"]:
        actions = [a for a in statement["Action"] if a not in removed]
        if actions:
            kept.append({**statement, "Action": actions})
    assert kept != policy["Statement"], f"{action} is not in the policy"
    return {**policy, "Statement": kept}


@dataclass
class Account:
    """The moto account a handler runs in, set up without enforcement."""

    settings: dict[str, str]
    event: dict[str, Any]


def _enforced_run(
    monkeypatch: pytest.MonkeyPatch, policy: dict[str, Any], account: Account, run: Callable[[], Any]
) -> Any:
    """Run ``run`` as a user whose only policy is ``policy``, with moto enforcing IAM."""
    from moto.core.authorization import enable_iam_authentication

    from dropsleuth.aws import clients
    from dropsleuth.config import settings

    iam = boto3.client("iam", region_name=REGION)
    name = f"fn-{len(iam.list_users()['Users'])}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="template", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    for variable, value in account.settings.items():
        monkeypatch.setenv(variable, value)
    settings.cache_clear()
    clients.reset()
    try:
        with enable_iam_authentication():
            return run()
    finally:
        settings.cache_clear()
        clients.reset()


# ---------------------------------------------------------------------------------------------------------
# The accounts each handler needs
# ---------------------------------------------------------------------------------------------------------


def _bucket(name: str) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
    )


def _athena() -> dict[str, str]:
    _bucket(RESULTS)
    boto3.client("athena", region_name=REGION).create_work_group(
        Name="dropsleuth", Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/"}}
    )
    return {
        "DROPSLEUTH_ATHENA_WORKGROUP": "dropsleuth",
        "DROPSLEUTH_ATHENA_DATABASE": "dropsleuth",
        "DROPSLEUTH_ATHENA_OUTPUT": f"s3://{RESULTS}/",
    }


def _registry(vpc_id: str) -> dict[str, str]:
    site = {"name": "plant-7", "cidrs": [SITE_CIDR], "vpc_id": vpc_id, "upload_destination": "10.30.1.0/24"}
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/DropSleuth/sites", Value=json.dumps({"sites": [site]}), Type="String"
    )
    return {"DROPSLEUTH_SITES_PARAMETER": "/DropSleuth/sites"}


def _audit_icmp() -> Account:
    site = site_behind_a_vpn(SITE_CIDR)
    event = json.loads((EVENTS / "audit_icmp.json").read_text())
    return Account({}, event | {"vpc_id": site.vpc_id, "eni_ids": [site.eni_id]})


def _reachability() -> Account:
    site = site_behind_a_vpn(SITE_CIDR, admit_site_port=443)
    event = json.loads((EVENTS / "reachability.json").read_text())
    return Account({}, event | {"vpc_id": site.vpc_id, "destination": {"eni_id": site.eni_id}})


def _enable_flow_logs() -> Account:
    site = site_behind_a_vpn(SITE_CIDR)
    _bucket(FLOW_LOGS)
    event = json.loads((EVENTS / "enable_flow_logs.json").read_text())
    return Account({"DROPSLEUTH_FLOW_LOGS_BUCKET": FLOW_LOGS}, event | {"vpc_id": site.vpc_id})


def _query_rejects() -> Account:
    settings = _athena()
    seed_athena_results(
        [["2026-11-20 09:10:00.000 UTC", "2", "8", "1"]],
        [("minute", "timestamp with time zone"), ("rejects", "bigint"), ("packets", "bigint"),
         ("senders", "bigint")],
    )  # fmt: skip
    return Account(settings, json.loads((EVENTS / "query_rejects.json").read_text()))


def _publish_metrics() -> Account:
    site = site_behind_a_vpn(SITE_CIDR)
    settings = _athena() | _registry(site.vpc_id)
    return Account(settings, json.loads((EVENTS / "publish_metrics.json").read_text()))


def _investigate() -> Account:
    site = site_behind_a_vpn(SITE_CIDR, admit_site_port=443)
    settings = _athena() | _registry(site.vpc_id)
    _bucket(REPORTS)
    _bucket(FLOW_LOGS)
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="idem",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="reports")["TopicArn"]
    settings |= {
        "DROPSLEUTH_REPORT_BUCKET": REPORTS,
        "DROPSLEUTH_REPORT_TOPIC_ARN": topic,
        "DROPSLEUTH_IDEMPOTENCY_TABLE": "idem",
        "DROPSLEUTH_FLOW_LOGS_BUCKET": FLOW_LOGS,
    }
    return Account(settings, json.loads((EVENTS / "investigate_manual.json").read_text()))


# ---------------------------------------------------------------------------------------------------------
# The cases: what success looks like, and one needed action whose removal is refused
# ---------------------------------------------------------------------------------------------------------


def _sweep_network_insights() -> Account:
    return Account({}, json.loads((EVENTS / "sweep_network_insights.json").read_text()))


def _past_iam_to_the_missing_api(answer: dict[str, Any]) -> None:
    # moto has no Reachability Analyzer: with its policy the call passes IAM and meets the missing API.
    assert answer["ok"] is False, answer
    assert answer["error"]["kind"] == "unsupported", answer


def _answered_ok(answer: dict[str, Any]) -> None:
    assert answer["ok"] is True, answer


def _answered_access_denied(answer: dict[str, Any]) -> None:
    assert answer["ok"] is False, answer
    assert answer["error"]["kind"] == "access_denied", answer


def _invoke(module: str, account: Account) -> Callable[[], Any]:
    def run() -> Any:
        import importlib

        handler = importlib.import_module(f"dropsleuth.handlers.{module}").handler
        return handler(account.event, LambdaContextStub())

    return run


def _investigated(answer: dict[str, Any]) -> None:
    assert answer["status"] == "investigated", answer
    assert set(answer["delivery"]["stored"]) == {"json", "md", "html"}
    assert answer["delivery"]["message_id"]
    # No step was refused: every call the steps make is in the policy.
    refused = [s for s in answer["report"]["steps"] if "access_denied" in s["reason"]]
    assert refused == []


@dataclass(frozen=True)
class Case:
    function: str
    build: Callable[[], Account]
    succeeded: Callable[[Any], None]
    needed: str
    """An action the run needs; without it the run is refused."""
    refused: Callable[[Any], None]


CASES = [
    Case("audit_icmp", _audit_icmp, _answered_ok, "ec2:DescribeNetworkAcls", _answered_access_denied),
    Case("reachability", _reachability, _answered_ok, "ec2:DescribeRouteTables", _answered_access_denied),
    Case(
        "enable_flow_logs", _enable_flow_logs, _answered_ok, "ec2:DescribeFlowLogs", _answered_access_denied
    ),
    Case(
        "query_rejects",
        _query_rejects,
        _answered_ok,
        "athena:StartQueryExecution",
        _answered_access_denied,
    ),
    Case("publish_metrics", _publish_metrics, _answered_ok, "ssm:GetParameter", _answered_access_denied),
    Case("investigate", _investigate, _investigated, "s3:PutObject", lambda raised: None),
    Case(
        "sweep_network_insights",
        _sweep_network_insights,
        _past_iam_to_the_missing_api,
        "ec2:DescribeNetworkInsightsPaths",
        _answered_access_denied,
    ),
]


@pytest.fixture
def moto_account() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.mark.parametrize("case", CASES, ids=[c.function for c in CASES])
def test_the_handler_succeeds_with_its_template_policy_and_is_refused_without_a_needed_action(
    synthesized: Synthesized, moto_account: None, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    policy = moto_view(synthesized, template_policy(synthesized, case.function))
    account = case.build()
    # Given only the function's own policy, the handler does its job
    case.succeeded(_enforced_run(monkeypatch, policy, account, _invoke(case.function, account)))

    # and with one needed action taken out, it is refused
    reduced = without(policy, case.needed)
    if case.function == "investigate":
        # The report cannot be written: the invocation fails (to be retried), naming AWS's refusal.
        account.event = account.event | {
            "window": {"start": "2026-11-20T07:00:00Z", "end": "2026-11-20T08:00:00Z"}
        }
        with pytest.raises(ReportNotStoredError) as raised:
            _enforced_run(monkeypatch, reduced, account, _invoke(case.function, account))
        assert raised.value.code == "AccessDenied"
    else:
        case.refused(_enforced_run(monkeypatch, reduced, account, _invoke(case.function, account)))


def test_with_the_default_context_enable_flow_logs_cannot_create_even_if_told_to(
    synthesized: Synthesized, moto_account: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template of cdk.json's context (allow_enable_flow_logs off) holds no CreateFlowLogs: a function
    whose setting were flipped by hand is still refused by IAM, and nothing is created."""
    policy = moto_view(synthesized, template_policy(synthesized, "enable_flow_logs"))
    account = _enable_flow_logs()
    account.settings["DROPSLEUTH_ALLOW_ENABLE_FLOW_LOGS"] = "true"
    answer = _enforced_run(monkeypatch, policy, account, _invoke("enable_flow_logs", account))
    _answered_access_denied(answer)
    assert "CreateFlowLogs" in answer["error"]["message"]
    assert boto3.client("ec2", region_name=REGION).describe_flow_logs()["FlowLogs"] == []
