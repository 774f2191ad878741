"""``dropsleuth path`` against moto accounts: the verdict comes from the account's routes, gateways, NACLs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from dropsleuth.aws.permissions import record_api_calls
from dropsleuth.aws.topology import PERMISSIONS as TOPOLOGY_PERMISSIONS
from dropsleuth.cli.main import run
from dropsleuth.demo.account import amazon_linux_image

REGION = "eu-west-1"
SITE_CIDR = "192.168.10.0/24"
INTERNET_HOST = "203.0.113.10"


@dataclass
class Account:
    ec2: Any
    vpc_id: str
    subnet_id: str
    route_table_id: str
    nacl_id: str
    eni_id: str
    other_eni_id: str


def _account(instance_type: str = "m5.large") -> Account:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    other_subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.2.0/24")["Subnet"]["SubnetId"]
    route_table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=route_table_id, SubnetId=subnet_id)
    nacl_id = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    for egress in (False, True):
        ec2.create_network_acl_entry(
            NetworkAclId=nacl_id,
            RuleNumber=100,
            Protocol="-1",
            RuleAction="allow",
            Egress=egress,
            CidrBlock="0.0.0.0/0",
        )
    association = next(
        a["NetworkAclAssociationId"]
        for acl in ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkAcls"]
        for a in acl["Associations"]
        if a["SubnetId"] == subnet_id
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=nacl_id)
    ami = amazon_linux_image(ec2)
    instance = ec2.run_instances(
        ImageId=ami, InstanceType=instance_type, MinCount=1, MaxCount=1, SubnetId=subnet_id
    )["Instances"][0]
    eni_id = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    other = ec2.run_instances(
        ImageId=ami, InstanceType="c5.large", MinCount=1, MaxCount=1, SubnetId=other_subnet
    )["Instances"][0]
    return Account(
        ec2,
        vpc_id,
        subnet_id,
        route_table_id,
        nacl_id,
        eni_id,
        other["NetworkInterfaces"][0]["NetworkInterfaceId"],
    )


def _internet_route(account: Account) -> str:
    igw = account.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    account.ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=account.vpc_id)
    account.ec2.create_route(
        RouteTableId=account.route_table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
    )
    return str(igw)


def _site_vpn(account: Account) -> str:
    ec2 = account.ec2
    vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=account.vpc_id, VpnGatewayId=vgw)
    cgw = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="198.51.100.7", BgpAsn=65000)[
        "CustomerGateway"
    ]["CustomerGatewayId"]
    vpn = ec2.create_vpn_connection(
        Type="ipsec.1", CustomerGatewayId=cgw, VpnGatewayId=vgw, Options={"StaticRoutesOnly": True}
    )["VpnConnection"]["VpnConnectionId"]
    # moto has no CreateVpnConnectionRoute: the VPN is found through the VPC's attached gateway.
    ec2.create_route(RouteTableId=account.route_table_id, DestinationCidrBlock=SITE_CIDR, GatewayId=vgw)
    return str(vpn)


def _path(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = run(["path", *args, "--output", "json", "--region", REGION])
    out = capsys.readouterr().out
    return code, json.loads(out)


def _codes(document: dict[str, Any]) -> set[str]:
    return {f["code"] for f in document["findings"]}


def test_site_at_9000_across_the_vpn_is_a_black_hole(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a site behind a Site-to-Site VPN whose hosts send 9000-byte packets to a jumbo-capable EC2
    account = _account()
    vpn = _site_vpn(account)
    # When the path from the site to the instance's ENI is analysed
    code, document = _path(
        capsys, "--vpc", account.vpc_id, "--source", SITE_CIDR, "--destination", account.eni_id,
        "--source-mtu", "9000",
    )  # fmt: skip
    # Then the VPN hop, which never sends frag-needed, is the black hole, with the MSS that fits it
    assert code == 1
    assert document["verdict"] == "pmtud_blackhole"
    assert [h["kind"] for h in document["hops"]] == ["site", "vpn", "eni"]
    assert document["limiting_hop"] == vpn
    assert _codes(document) == {"PMTUD_BLACKHOLE", "MTU_MISMATCH"}
    vpn_hop = document["hops"][1]
    assert vpn_hop["sends_frag_needed"] is False
    assert document["recommended_mss"] == vpn_hop["mtu"] - 40
    black_hole = next(f for f in document["findings"] if f["code"] == "PMTUD_BLACKHOLE")
    assert vpn in black_hole["resource_ids"]
    assert any(f"--set-mss {vpn_hop['mtu'] - 40}" in step for step in black_hole["remediation"]["steps"])


def test_site_already_at_1400_is_fine_across_the_vpn(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    account = _account()
    _site_vpn(account)
    code, document = _path(
        capsys, "--vpc", account.vpc_id, "--source", SITE_CIDR, "--destination", account.eni_id,
        "--source-mtu", "1400",
    )  # fmt: skip
    assert code == 0
    assert document["verdict"] == "ok"
    assert document["findings"] == []


def test_site_behind_direct_connect_without_a_vpn_is_a_mismatch_not_a_black_hole(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a VGW attached to the VPC with a route to the site but no VPN connection: Direct Connect
    account = _account()
    vgw = account.ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    account.ec2.attach_vpn_gateway(VpcId=account.vpc_id, VpnGatewayId=vgw)
    account.ec2.create_route(
        RouteTableId=account.route_table_id, DestinationCidrBlock=SITE_CIDR, GatewayId=vgw
    )
    # When a site sending 9000-byte packets talks to the instance
    code, document = _path(
        capsys, "--vpc", account.vpc_id, "--source", SITE_CIDR, "--destination", account.eni_id,
        "--source-mtu", "9000",
    )  # fmt: skip
    # Then the VIF (1500 unless known jumbo) is smaller, but it sends frag-needed: PMTUD works
    assert code == 0
    assert [h["kind"] for h in document["hops"]] == ["site", "direct_connect", "eni"]
    dx_hop = document["hops"][1]
    assert (dx_hop["resource_id"], dx_hop["mtu"], dx_hop["sends_frag_needed"]) == (vgw, 1500, True)
    assert document["verdict"] == "mtu_mismatch"
    assert _codes(document) == {"MTU_MISMATCH"}
    assert any("Direct Connect" in a for a in document["assumptions"])


def test_ec2_at_9001_to_the_internet_with_icmp_admitted(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a jumbo instance whose subnet routes 0.0.0.0/0 to an internet gateway, NACL allowing everything
    account = _account("m5.large")
    igw = _internet_route(account)
    code, document = _path(
        capsys, "--vpc", account.vpc_id, "--source", account.eni_id, "--destination", INTERNET_HOST
    )
    # Then the IGW (1500) is smaller than the 9001-byte packets, but PMTUD works: a mismatch, no black hole
    assert code == 0
    assert document["verdict"] == "mtu_mismatch"
    assert [h["kind"] for h in document["hops"]] == ["eni", "internet_gateway", "internet"]
    assert document["hops"][0]["mtu"] == 9001
    assert document["limiting_hop"] == igw
    assert _codes(document) == {"MTU_MISMATCH"}
    assert document["findings"][0]["severity"] == "warning"


def test_same_path_with_the_nacl_denying_frag_needed(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the same path, and a NACL entry that denies ICMP 3/4 inbound before the allow-all
    account = _account("m5.large")
    _internet_route(account)
    account.ec2.create_network_acl_entry(
        NetworkAclId=account.nacl_id,
        RuleNumber=50,
        Protocol="1",
        RuleAction="deny",
        Egress=False,
        CidrBlock="0.0.0.0/0",
        IcmpTypeCode={"Type": 3, "Code": 4},
    )
    code, document = _path(
        capsys, "--vpc", account.vpc_id, "--source", account.eni_id, "--destination", INTERNET_HOST
    )
    # Then it is a black hole, blamed on that NACL rule, with the narrow rule to add before it
    assert code == 1, document
    assert document["verdict"] == "pmtud_blackhole"
    assert document["blocking_nacls"] == [
        {
            "network_acl_id": account.nacl_id,
            "subnet_id": account.subnet_id,
            "direction": "inbound",
            "allowed": False,
            "deciding_rule": "50",
            "icmp_source": "0.0.0.0/0",
        }
    ]
    black_hole = next(f for f in document["findings"] if f["code"] == "PMTUD_BLACKHOLE")
    (command,) = black_hole["remediation"]["commands"]
    assert f"--network-acl-id {account.nacl_id} --rule-number 49" in command
    assert "--icmp-type-code Type=3,Code=4" in command
    assert command.endswith("--ingress")


def test_a_non_jumbo_instance_has_no_mismatch_at_the_igw(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account = _account("m1.large")
    _internet_route(account)
    code, document = _path(
        capsys, "--vpc", account.vpc_id, "--source", account.eni_id, "--destination", INTERNET_HOST
    )
    assert code == 0
    assert document["hops"][0]["mtu"] == 1500
    assert document["verdict"] == "ok"


def test_everything_inside_one_vpc_has_no_mismatch(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    account = _account()
    code, document = _path(
        capsys, "--vpc", account.vpc_id, "--source", account.eni_id, "--destination", account.other_eni_id
    )
    assert code == 0
    assert document["verdict"] == "ok"
    assert [h["kind"] for h in document["hops"]] == ["eni", "eni"]
    assert document["hops"][1]["resource_id"] == account.other_eni_id
    assert document["findings"] == []


def test_a_route_that_leads_nowhere(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a subnet whose route table has only the local route
    account = _account()
    code, document = _path(
        capsys, "--vpc", account.vpc_id, "--source", account.eni_id, "--destination", INTERNET_HOST
    )
    assert code == 1
    assert document["verdict"] == "no_route"
    (finding,) = document["findings"]
    assert finding["code"] == "NO_ROUTE"
    assert finding["resource_ids"] == [account.route_table_id]


def test_site_without_a_return_route_is_no_route(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a VPN whose site CIDR is not routed back from the instance's subnet
    account = _account()
    _site_vpn(account)
    account.ec2.delete_route(RouteTableId=account.route_table_id, DestinationCidrBlock=SITE_CIDR)
    code, document = _path(
        capsys, "--vpc", account.vpc_id, "--source", SITE_CIDR, "--destination", account.eni_id,
        "--source-mtu", "9000",
    )  # fmt: skip
    assert code == 1
    assert document["verdict"] == "no_route"
    assert "return route" in document["no_route_reason"]


def test_topology_calls_only_declared_actions(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    account = _account()
    _site_vpn(account)
    _internet_route(account)
    from dropsleuth.aws import clients

    clients.reset()
    with record_api_calls() as recorder:
        _path(capsys, "--vpc", account.vpc_id, "--source", account.eni_id, "--destination", "s3")
    assert recorder.actions
    assert recorder.actions <= TOPOLOGY_PERMISSIONS.actions


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--source", "10.0.0.300"), ("--destination", "eni-xyz"), ("--vpc", "vpc_1"), ("--source", "S 3")],
)
def test_bad_input_is_one_line_and_exit_2(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = {"--vpc": "vpc-0123456789abcdef0", "--source": "10.0.0.1", "--destination": "10.0.1.1"}
    args[flag] = value
    code = run(["path", *[x for pair in args.items() for x in pair]])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert flag.lstrip("-") in err
