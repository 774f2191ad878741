"""The ICMP audit, its Lambda and its CLI, against moto accounts built from scenario data."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from dropsleuth.audit import audit_icmp
from dropsleuth.aws import clients, inventory
from dropsleuth.aws.errors import InputError
from dropsleuth.aws.permissions import record_api_calls
from dropsleuth.cli.main import run as cli_run
from dropsleuth.demo.account import BuiltAccount, build_account
from dropsleuth.demo.scenario import SCENARIO_DIR, parse_scenario
from dropsleuth.handlers import audit_icmp as audit_handler
from dropsleuth.model import FindingCode, Severity
from tests.support import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
DENIED = "You are not authorized to perform this operation."
UNKNOWN_ENI = "eni-0123456789abcdef0"
INCIDENT = yaml.safe_load((SCENARIO_DIR / "wan-mtu-9000.yaml").read_text())


def variant(**network_changes: Any) -> dict[str, Any]:
    """The incident's account with some network sections replaced."""
    document = copy.deepcopy(INCIDENT)
    document["network"].update(network_changes)
    return document


def build(document: dict[str, Any]) -> BuiltAccount:
    return build_account(parse_scenario(document))


class LambdaContextStub:
    """The attributes Powertools reads from a Lambda context."""

    function_name = "audit_icmp"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:audit_icmp"
    aws_request_id = "6f2c7a8e-0000-4000-8000-000000000001"


def test_incident_nacl_is_found_with_its_rule_and_the_fix_works(aws: None) -> None:
    # Given the incident's account
    built = build(INCIDENT)
    nacl_id = built.id("nacl", "ingest-hardened")

    # When the path's ENIs are audited
    result = audit_icmp(built.id("vpc"), eni_ids=built.site.eni_ids if built.site else ())

    # Then the NACL finding names the NACL, the rule and the direction
    nacl_findings = [f for f in result.findings if f.code is FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED]
    assert len(nacl_findings) == 1
    finding = nacl_findings[0]
    # Configuration alone is a risk (docs/severity.md); an investigation with drops raises it.
    assert finding.severity is Severity.WARNING
    evidence = finding.evidence[0].data
    assert evidence["network_acl_id"] == nacl_id
    assert evidence["rule_number"] == 90
    assert evidence["direction"] == "inbound"
    assert set(evidence["subnets"]) == {built.id("subnet", "ingest-a"), built.id("subnet", "ingest-b")}
    # And the SG gap is only a warning
    sg_findings = [f for f in result.findings if f.code is FindingCode.SG_MISSING_ICMP_FRAG_NEEDED]
    assert [f.severity for f in sg_findings] == [Severity.WARNING]

    # When the remediation command is applied (parsed from the finding, not restated here)
    assert finding.remediation is not None
    command = finding.remediation.commands[0].split()
    args = dict(zip(command[3::2], command[4::2], strict=False))
    assert "--ingress" in command
    rule_number = int(command[command.index("--rule-number") + 1])
    assert rule_number < 90
    clients.ec2().create_network_acl_entry(
        NetworkAclId=command[command.index("--network-acl-id") + 1],
        RuleNumber=rule_number,
        Protocol=command[command.index("--protocol") + 1],
        RuleAction="allow",
        Egress=False,
        CidrBlock=command[command.index("--cidr-block") + 1],
        IcmpTypeCode={"Type": 3, "Code": 4},
    )
    assert args  # the command is a flag/value sequence

    # Then the audit no longer finds a NACL problem
    again = audit_icmp(built.id("vpc"), eni_ids=built.site.eni_ids if built.site else ())
    assert FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED not in [f.code for f in again.findings]


def test_cli_exits_1_for_a_blocking_nacl_and_0_once_only_sg_warnings_remain(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the incident's account, whose NACL denies frag-needed inbound at rule 90
    built = build(INCIDENT)
    assert cli_run(["audit", "--vpc", built.id("vpc"), "--output", "json"]) == 1
    before = json.loads(capsys.readouterr().out)
    assert "NACL_BLOCKS_ICMP_FRAG_NEEDED" in [f["code"] for f in before["findings"]]
    # When every NACL gap is closed as the findings say (the SG gap stays)
    for finding in before["findings"]:
        if finding["code"] != "NACL_BLOCKS_ICMP_FRAG_NEEDED":
            continue
        for command in finding["remediation"]["commands"]:
            words = command.split()
            clients.ec2().create_network_acl_entry(
                NetworkAclId=words[words.index("--network-acl-id") + 1],
                RuleNumber=int(words[words.index("--rule-number") + 1]),
                Protocol="1",
                RuleAction="allow",
                Egress="--egress" in words,
                CidrBlock=words[words.index("--cidr-block") + 1],
                IcmpTypeCode={"Type": 3, "Code": 4},
            )
    # Then the audit exits 0: a missing SG rule is context, not a blocker
    assert cli_run(["audit", "--vpc", built.id("vpc"), "--output", "json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in after["findings"]] == ["SG_MISSING_ICMP_FRAG_NEEDED"]


def test_default_nacl_and_narrow_sg_rule_give_no_findings(aws: None) -> None:
    healthy = variant(
        network_acls=[],
        security_groups=[
            {
                "name": "ingest",
                "ingress": [
                    {"protocol": "tcp", "ports": [443, 443], "cidr": "192.168.50.0/24"},
                    {"protocol": "icmp", "ports": [3, 4], "cidr": "0.0.0.0/0"},
                ],
            }
        ],
    )
    built = build(healthy)
    result = audit_icmp(built.id("vpc"))
    assert result.findings == ()
    assert any("admitted" in line for line in result.checked)


def test_tcp_only_nacl_blocks_by_its_default_deny(aws: None) -> None:
    tcp_only = variant(
        network_acls=[
            {
                "name": "tcp-only",
                "subnets": ["ingest-a"],
                "entries": [
                    {
                        "rule": 100,
                        "direction": "inbound",
                        "protocol": "tcp",
                        "cidr": "0.0.0.0/0",
                        "action": "allow",
                    },
                    {
                        "rule": 100,
                        "direction": "outbound",
                        "protocol": "tcp",
                        "cidr": "0.0.0.0/0",
                        "action": "allow",
                    },
                ],
            }
        ]
    )
    built = build(tcp_only)
    result = audit_icmp(built.id("vpc"), subnet_ids=[built.id("subnet", "ingest-a")])
    nacl = [f for f in result.findings if f.code is FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED]
    # Both directions are blocked, each by the final * rule
    assert sorted(f.evidence[0].data["direction"] for f in nacl) == ["inbound", "outbound"]
    assert {f.evidence[0].data["rule_number"] for f in nacl} == {"*"}
    outbound = next(f for f in nacl if f.evidence[0].data["direction"] == "outbound")
    assert outbound.remediation is not None
    assert "--egress" in outbound.remediation.commands[0]


def test_peer_cidrs_scope_the_verdict(aws: None) -> None:
    # The deny covers only the site's /24: other peers are admitted by rule 100
    only_site = variant(
        network_acls=[
            {
                "name": "site-deny",
                "subnets": ["ingest-a"],
                "entries": [
                    {
                        "rule": 50,
                        "direction": "inbound",
                        "protocol": "icmp",
                        "icmp_type": 3,
                        "icmp_code": 4,
                        "cidr": "192.168.50.0/24",
                        "action": "deny",
                    },
                    {
                        "rule": 100,
                        "direction": "inbound",
                        "protocol": "all",
                        "cidr": "0.0.0.0/0",
                        "action": "allow",
                    },
                    {
                        "rule": 100,
                        "direction": "outbound",
                        "protocol": "all",
                        "cidr": "0.0.0.0/0",
                        "action": "allow",
                    },
                ],
            }
        ]
    )
    built = build(only_site)
    subnet = [built.id("subnet", "ingest-a")]
    elsewhere = audit_icmp(built.id("vpc"), subnet_ids=subnet, peer_cidrs=["172.16.0.0/12"])
    assert FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED not in [f.code for f in elsewhere.findings]
    site = audit_icmp(built.id("vpc"), subnet_ids=subnet, peer_cidrs=["192.168.0.0/16"])
    nacl = [f for f in site.findings if f.code is FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED]
    assert [f.evidence[0].data["rule_number"] for f in nacl] == [50]


def test_prefix_list_rule_admits_frag_needed(aws: None) -> None:
    ec2 = clients.ec2()
    built = build(variant(network_acls=[]))
    prefix_list = ec2.create_managed_prefix_list(
        PrefixListName="routers",
        MaxEntries=5,
        AddressFamily="IPv4",
        Entries=[{"Cidr": "0.0.0.0/0"}],
    )["PrefixList"]["PrefixListId"]
    ec2.authorize_security_group_ingress(
        GroupId=built.id("sg", "ingest"),
        IpPermissions=[
            {
                "IpProtocol": "icmp",
                "FromPort": 3,
                "ToPort": 4,
                "PrefixListIds": [{"PrefixListId": prefix_list}],
            }
        ],
    )
    result = audit_icmp(built.id("vpc"))
    assert FindingCode.SG_MISSING_ICMP_FRAG_NEEDED not in [f.code for f in result.findings]


def test_unknown_ids_are_input_errors_naming_the_field(aws: None) -> None:
    built = build(INCIDENT)
    other_vpc = clients.ec2().create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    with pytest.raises(InputError) as unknown_vpc:
        audit_icmp("vpc-0123456789abcdef0")
    assert unknown_vpc.value.field == "vpc_id"
    with pytest.raises(InputError) as foreign_subnet:
        audit_icmp(other_vpc, subnet_ids=[built.id("subnet", "ingest-a")])
    assert foreign_subnet.value.field == "subnet_ids"
    with pytest.raises(InputError) as bad_cidr:
        audit_icmp(built.id("vpc"), peer_cidrs=["10.0.0.0/33"])
    assert bad_cidr.value.field == "peer_cidrs"


def test_audit_calls_only_declared_actions(aws: None) -> None:
    built = build(INCIDENT)
    clients.reset()
    with record_api_calls() as recorder:
        audit_icmp(built.id("vpc"))
        audit_icmp(built.id("vpc"), eni_ids=built.site.eni_ids if built.site else ())
    assert recorder.actions
    assert recorder.actions <= inventory.PERMISSIONS.actions, recorder.actions - inventory.PERMISSIONS.actions


def console_event(**overrides: Any) -> dict[str, Any]:
    event = json.loads((ROOT / "events" / "audit_icmp.json").read_text())
    event.update(overrides)
    return event


def test_handler_with_the_console_event(aws: None) -> None:
    built = build(INCIDENT)
    assert built.site is not None
    event = console_event(vpc_id=built.id("vpc"), eni_ids=list(built.site.eni_ids))
    answer = audit_handler.handler(event, LambdaContextStub())
    assert answer["ok"] is True
    codes = [f["code"] for f in answer["report"]["findings"]]
    assert codes[0] == "NACL_BLOCKS_ICMP_FRAG_NEEDED"
    assert answer["report"]["schema_version"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"vpc_id": "not-a-vpc"}, "vpc_id"),
        ({"vpc_id": "vpc-0a1b2c3d", "peer_cidrs": ["300.1.1.1/8"]}, "peer_cidrs"),
        ({"vpc_id": "vpc-0a1b2c3d", "eni_ids": ["i-123"]}, "eni_ids"),
        ({"vpcid": "vpc-0a1b2c3d"}, "vpc_id"),
        ({"vpc_id": "vpc-0a1b2c3d", "unexpected": 1}, "unexpected"),
    ],
)
def test_handler_rejects_bad_events_naming_the_field(aws: None, event: dict[str, Any], field: str) -> None:
    answer = audit_handler.handler(event, LambdaContextStub())
    assert answer["ok"] is False
    assert answer["error"]["type"] == "ValidationError"
    assert answer["error"]["field"].startswith(field)


def test_handler_turns_access_denied_into_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    stubber = Stubber(ec2)
    stubber.add_client_error(
        "describe_vpcs",
        service_error_code="UnauthorizedOperation",
        service_message="You are not authorized to perform this operation.",
    )
    stubber.activate()
    monkeypatch.setattr(clients, "ec2", lambda: ec2)
    answer = audit_handler.handler({"vpc_id": "vpc-0a1b2c3d"}, LambdaContextStub())
    assert answer == {
        "ok": False,
        "error": {
            "type": "AwsError",
            "kind": "access_denied",
            "code": "UnauthorizedOperation",
            "message": f"DescribeVpcs: UnauthorizedOperation: {DENIED}",
        },
    }


def run_cli(*args: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dropsleuth.cli", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(endpoint),
        timeout=120,
        check=False,
    )


def test_cli_against_moto_server(moto_endpoint: str) -> None:
    # Given the incident's account in a moto server on 127.0.0.1
    built = build(INCIDENT)
    # When the CLI runs in another process with AWS_ENDPOINT_URL
    done = run_cli("audit", "--vpc", built.id("vpc"), "--output", "json", endpoint=moto_endpoint)
    # Then it finds the NACL (a warning: configuration alone), prints the JSON report and exits 1 (a
    # problem to fix)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    top = report["findings"][0]
    assert top["code"] == "NACL_BLOCKS_ICMP_FRAG_NEEDED"
    assert {f["severity"] for f in report["findings"]} == {"warning"}
    assert top["evidence"][0]["data"]["network_acl_id"] == built.id("nacl", "ingest-hardened")

    # And bad input gives one line and exit 2
    for bad in (
        ["audit", "--vpc", "vpc-0123456789abcdef0"],
        ["audit", "--vpc", built.id("vpc"), "--peer-cidr", "x"],
        ["audit"],
    ):
        refused = run_cli(*bad, endpoint=moto_endpoint)
        assert refused.returncode == 2, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert refused.stderr.startswith("dropsleuth: error:")
        assert "Traceback" not in refused.stderr


def test_unknown_and_foreign_enis_are_input_errors_naming_the_field(aws: None) -> None:
    # Given the incident's account and an ENI in another VPC
    built = build(INCIDENT)
    ec2 = clients.ec2()
    other_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.99.1.0/24")["Subnet"]["SubnetId"]
    foreign = ec2.create_network_interface(SubnetId=other_subnet)["NetworkInterface"]["NetworkInterfaceId"]
    for eni_id, says in ((UNKNOWN_ENI, "unknown eni ids"), (foreign, f"not in {built.id('vpc')}")):
        # When the audit of the incident's VPC is narrowed to it
        with pytest.raises(InputError) as error:
            audit_icmp(built.id("vpc"), eni_ids=[eni_id])
        # Then the error names the field and the id
        assert error.value.field == "eni_ids"
        assert eni_id in str(error.value)
        assert says in str(error.value)
        # And the Lambda answers a validation error naming the field
        answer = audit_handler.handler({"vpc_id": built.id("vpc"), "eni_ids": [eni_id]}, LambdaContextStub())
        assert answer["ok"] is False
        assert answer["error"]["type"] == "ValidationError"
        assert answer["error"]["field"] == "eni_ids"
        assert eni_id in answer["error"]["message"]


def test_cli_refuses_unknown_and_foreign_enis_in_one_line(moto_endpoint: str) -> None:
    built = build(INCIDENT)
    ec2 = clients.ec2()
    other_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.99.1.0/24")["Subnet"]["SubnetId"]
    foreign = ec2.create_network_interface(SubnetId=other_subnet)["NetworkInterface"]["NetworkInterfaceId"]
    for eni_id in (UNKNOWN_ENI, foreign):
        refused = run_cli("audit", "--vpc", built.id("vpc"), "--eni", eni_id, endpoint=moto_endpoint)
        assert refused.returncode == 2, refused.stderr
        [line] = refused.stderr.strip().splitlines()
        assert line.startswith("dropsleuth: error:")
        assert eni_id in line
        assert refused.stdout == ""


def stubbed_ec2(monkeypatch: pytest.MonkeyPatch, failing_operation: str, code: str, message: str) -> Stubber:
    """An EC2 client that answers DescribeVpcs, then fails ``failing_operation`` with ``code``."""
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    stubber = Stubber(ec2)
    if failing_operation != "describe_vpcs":
        stubber.add_response(
            "describe_vpcs",
            {"Vpcs": [{"VpcId": "vpc-0a1b2c3d", "CidrBlock": "10.0.0.0/16"}]},
            {"VpcIds": ["vpc-0a1b2c3d"]},
        )
    stubber.add_client_error(
        failing_operation, service_error_code=code, service_message=message, http_status_code=400
    )
    stubber.activate()
    monkeypatch.setattr(clients, "ec2", lambda: ec2)
    return stubber


REFUSALS = {
    "access-denied": ("describe_vpcs", "UnauthorizedOperation", DENIED, "access_denied"),
    "throttled": (
        "describe_network_interfaces",
        "RequestLimitExceeded",
        "Request limit exceeded.",
        "throttled",
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
def test_cli_turns_aws_refusals_into_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], refusal: tuple[str, str, str, str]
) -> None:
    operation, code, message, kind = refusal
    # Given EC2 refuses one of the audit's calls
    stubber = stubbed_ec2(monkeypatch, operation, code, message)
    # When the CLI audits
    exit_code = cli_run(["audit", "--vpc", "vpc-0a1b2c3d", "--output", "json"])
    out, err = capsys.readouterr()
    # Then it exits 3 with one line that names the kind, the call and AWS's code, and no traceback
    stubber.assert_no_pending_responses()
    assert exit_code == 3
    assert out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(f"dropsleuth: AWS error ({kind}): ")
    assert code in line
    assert message in line
    assert "Traceback" not in err
