"""What changed: CloudTrail LookupEvents through botocore's Stubber (moto's CloudTrail has no LookupEvents
data for EC2 calls), with the API's real response shape: ``CloudTrailEvent`` is the record as a JSON string.

The Stubber validates every response against CloudTrail's service model and every request against the
expected parameters, so pagination (``NextToken``) and the per-resource lookups are checked as sent.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from dropsleuth.aws.changes import (
    LOOKUP_EVENTS_SOURCE,
    recent_network_changes,
    trail_file_changes,
)
from dropsleuth.aws.errors import AccessDeniedError, InputError, ThrottledError
from dropsleuth.context import Endpoint, InvestigationContext, StepOutcome, Window
from dropsleuth.model import FindingCode
from dropsleuth.rules import ranking

START = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
END = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SG, ACL = "sg-0a1b2c3d4e5f60718", "acl-0123456789abcdef0"
ALICE = "arn:aws:iam::123456789012:user/alice"
OPS_ROLE = "arn:aws:sts::123456789012:assumed-role/NetworkOps/bob"


def record(name: str, when: datetime, actor: str, parameters: dict[str, Any], event_id: str) -> str:
    """A CloudTrail record as LookupEvents returns it in ``CloudTrailEvent`` (a JSON string)."""
    return json.dumps(
        {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser" if ":user/" in actor else "AssumedRole",
                "principalId": "AIDAEXAMPLE",
                "arn": actor,
                "accountId": "123456789012",
            },
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "ec2.amazonaws.com",
            "eventName": name,
            "awsRegion": "eu-west-1",
            "sourceIPAddress": "203.0.113.7",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": parameters,
            "responseElements": {"_return": True},
            "requestID": f"req-{event_id}",
            "eventID": event_id,
            "readOnly": name.startswith("Describe"),
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": "123456789012",
            "eventCategory": "Management",
        }
    )


def event(
    name: str,
    when: datetime,
    actor: str,
    resources: list[tuple[str, str]],
    parameters: dict[str, Any],
    *,
    event_id: str,
) -> dict[str, Any]:
    return {
        "EventId": event_id,
        "EventName": name,
        "ReadOnly": "true" if name.startswith("Describe") else "false",
        "EventTime": when,
        "EventSource": "ec2.amazonaws.com",
        "Username": actor.rsplit("/", 1)[-1],
        "Resources": [{"ResourceType": kind, "ResourceName": rid} for kind, rid in resources],
        "CloudTrailEvent": record(name, when, actor, parameters, event_id),
    }


AUTHORIZE = event(
    "AuthorizeSecurityGroupIngress",
    datetime(2026, 11, 20, 8, 10, tzinfo=UTC),
    ALICE,
    [("AWS::EC2::SecurityGroup", SG)],
    {"groupId": SG, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22}]}},
    event_id="11111111-1111-1111-1111-111111111111",
)
DESCRIBE = event(
    "DescribeSecurityGroups",
    datetime(2026, 11, 20, 8, 20, tzinfo=UTC),
    ALICE,
    [("AWS::EC2::SecurityGroup", SG)],
    {"groupSet": {"items": [{"groupId": SG}]}},
    event_id="22222222-2222-2222-2222-222222222222",
)
DENY_ICMP = event(
    "ReplaceNetworkAclEntry",
    datetime(2026, 11, 20, 8, 57, tzinfo=UTC),
    OPS_ROLE,
    [("AWS::EC2::NetworkAcl", ACL), ("AWS::EC2::SecurityGroup", SG)],
    {"networkAclId": ACL, "ruleNumber": 90, "egress": False, "ruleAction": "deny", "protocol": "1"},
    event_id="33333333-3333-3333-3333-333333333333",
)


@pytest.fixture
def cloudtrail() -> Any:
    return boto3.client("cloudtrail", region_name="eu-west-1")


def lookup(resource: str, token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": resource}],
        "StartTime": START,
        "EndTime": END,
    }
    if token:
        params["NextToken"] = token
    return params


def test_pages_filter_and_who_when_what(cloudtrail: Any) -> None:
    with Stubber(cloudtrail) as stub:
        stub.add_response(
            "lookup_events", {"Events": [DESCRIBE, AUTHORIZE], "NextToken": "page-2"}, lookup(SG)
        )
        stub.add_response("lookup_events", {"Events": [DENY_ICMP]}, lookup(SG, "page-2"))
        # The same ACL change again, found through the ACL: kept once.
        stub.add_response("lookup_events", {"Events": [DENY_ICMP]}, lookup(ACL))
        changes = recent_network_changes([SG, ACL], START, END, cloudtrail=cloudtrail)
        stub.assert_no_pending_responses()

    assert [c.event_name for c in changes] == ["AuthorizeSecurityGroupIngress", "ReplaceNetworkAclEntry"]
    authorize, deny = changes
    assert authorize.at == datetime(2026, 11, 20, 8, 10, tzinfo=UTC)
    assert authorize.actor == ALICE
    assert SG in authorize.resource_ids
    assert deny.actor == OPS_ROLE
    assert set(deny.resource_ids) == {ACL, SG}
    # What: the call, on what, with its scalar parameters.
    assert deny.summary.startswith(f"ReplaceNetworkAclEntry on {ACL}")
    assert "ruleNumber=90" in deny.summary
    assert "ruleAction=deny" in deny.summary
    assert all(c.source == LOOKUP_EVENTS_SOURCE for c in changes)


def test_a_resource_with_only_reads_has_no_changes(cloudtrail: Any) -> None:
    with Stubber(cloudtrail) as stub:
        stub.add_response("lookup_events", {"Events": [DESCRIBE]}, lookup(SG))
        assert recent_network_changes([SG], START, END, cloudtrail=cloudtrail) == []
        stub.assert_no_pending_responses()


def test_minutes_before_onset_in_the_report(cloudtrail: Any) -> None:
    with Stubber(cloudtrail) as stub:
        stub.add_response("lookup_events", {"Events": [AUTHORIZE, DENY_ICMP]}, lookup(SG))
        changes = recent_network_changes([SG], START, END, cloudtrail=cloudtrail)
    onset = datetime(2026, 11, 20, 9, 5, tzinfo=UTC)
    context = InvestigationContext(
        vpc_id="vpc-0a1b2c3d",
        source=Endpoint(cidr="192.168.50.0/24"),
        destination=Endpoint(cidr="10.40.1.0/24"),
        window=Window(start=onset - timedelta(hours=1), end=onset + timedelta(minutes=30)),
    )
    outcomes = {
        "recent_changes": StepOutcome(data={"changes": [c.to_dict() for c in changes]}),
        "metrics": StepOutcome(data={"onset": onset.isoformat()}),
    }

    findings = [f for f in ranking.rank(context, outcomes) if f.code is FindingCode.RECENT_NETWORK_CHANGE]

    by_event = {f.evidence[0].data["event_name"]: f for f in findings}
    deny = by_event["ReplaceNetworkAclEntry"]
    assert deny.evidence[0].data["minutes_before_onset"] == 8.0
    assert deny.evidence[0].data["actor"] == OPS_ROLE
    assert "(8 min before the onset)" in deny.title
    # 55 minutes before the onset is outside the suspect window: reported, not suspected.
    authorize = by_event["AuthorizeSecurityGroupIngress"]
    assert authorize.evidence[0].data["minutes_before_onset"] == 55.0
    assert deny.severity.rank < authorize.severity.rank


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, ThrottledError),
        ("AccessDeniedException", 400, AccessDeniedError),
    ],
)
def test_faults_become_domain_errors(
    cloudtrail: Any, code: str, status: int, expected: type[Exception]
) -> None:
    with Stubber(cloudtrail) as stub:
        stub.add_client_error("lookup_events", service_error_code=code, http_status_code=status)
        with pytest.raises(expected) as raised:
            recent_network_changes([SG], START, END, cloudtrail=cloudtrail)
    assert "LookupEvents" in str(raised.value)


def test_throttling_on_a_later_page_is_not_swallowed(cloudtrail: Any) -> None:
    with Stubber(cloudtrail) as stub:
        stub.add_response("lookup_events", {"Events": [AUTHORIZE], "NextToken": "page-2"}, lookup(SG))
        stub.add_client_error("lookup_events", service_error_code="ThrottlingException")
        with pytest.raises(ThrottledError):
            recent_network_changes([SG], START, END, cloudtrail=cloudtrail)


def test_trail_files_in_a_directory_are_labelled_with_where_they_came_from(tmp_path: Path) -> None:
    records = [json.loads(e["CloudTrailEvent"]) for e in (AUTHORIZE, DESCRIBE, DENY_ICMP)]
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(json.dumps({"Records": records[:2]}).encode()))
    (tmp_path / "b.json").write_text(json.dumps({"Records": records[2:]}))

    changes = trail_file_changes(str(tmp_path))

    assert [c.event_name for c in changes] == ["AuthorizeSecurityGroupIngress", "ReplaceNetworkAclEntry"]
    assert {c.source for c in changes} == {str(tmp_path)}


def test_a_trail_source_that_is_neither_s3_nor_a_directory_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(InputError) as raised:
        trail_file_changes(str(tmp_path / "missing"))
    assert raised.value.field == "changes_source"


def test_many_resources_are_looked_up_by_event_name_with_bounded_calls(cloudtrail: Any) -> None:
    # Given more resources than there are network-changing event names (a VPC with many SGs)
    from dropsleuth.aws.changes import NETWORK_EVENTS

    many = [SG, ACL, *(f"sg-{n:017x}" for n in range(len(NETWORK_EVENTS)))]
    other_acl = "acl-0fffffffffffffff0"
    elsewhere = event(
        "ReplaceNetworkAclEntry",
        datetime(2026, 11, 20, 8, 30, tzinfo=UTC),
        ALICE,
        [("AWS::EC2::NetworkAcl", other_acl)],
        {"networkAclId": other_acl, "ruleNumber": 5},
        event_id="44444444-4444-4444-4444-444444444444",
    )
    with Stubber(cloudtrail) as stub:
        for name in sorted(NETWORK_EVENTS):
            events = [DENY_ICMP, elsewhere] if name == "ReplaceNetworkAclEntry" else []
            stub.add_response(
                "lookup_events",
                {"Events": events},
                {
                    "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
                    "StartTime": START,
                    "EndTime": END,
                },
            )
        # When the changes are looked up
        changes = recent_network_changes(many, START, END, cloudtrail=cloudtrail)
        # Then there is one call per event name, not one per resource
        stub.assert_no_pending_responses()
    # And only the change on one of the resources is kept
    assert [c.event_name for c in changes] == ["ReplaceNetworkAclEntry"]
    assert ACL in changes[0].resource_ids
