"""The inventory pages through EC2 with server-side filters (botocore Stubber: moto ignores MaxResults)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from dropsleuth.audit import audit_icmp
from dropsleuth.model import FindingCode

VPC = "vpc-0a1b2c3d4e5f60718"
SUBNET = "subnet-0a1b2c3d4e5f60718"
GROUP = "sg-0a1b2c3d4e5f60718"
ACL = "acl-0a1b2c3d4e5f60718"


def eni(number: int) -> dict[str, Any]:
    return {
        "NetworkInterfaceId": f"eni-0a1b2c3d4e5f6{number:04d}",
        "SubnetId": SUBNET,
        "VpcId": VPC,
        "PrivateIpAddress": f"10.0.1.{number}",
        "Groups": [{"GroupId": GROUP, "GroupName": "ingest"}],
        "Status": "in-use",
    }


def nacl_entry(number: int, egress: bool, **fields: Any) -> dict[str, Any]:
    return {"RuleNumber": number, "Egress": egress, "CidrBlock": "0.0.0.0/0", **fields}


def test_enis_of_a_subnet_come_from_every_page_of_a_filtered_call() -> None:
    # Given an EC2 API that answers the ENIs of the subnet in two pages (and the NACLs in two)
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    stubber = Stubber(ec2)
    vpc_filter = {"Name": "vpc-id", "Values": [VPC]}
    eni_filters = [vpc_filter, {"Name": "subnet-id", "Values": [SUBNET]}]
    stubber.add_response(
        "describe_vpcs", {"Vpcs": [{"VpcId": VPC, "CidrBlock": "10.0.0.0/16"}]}, {"VpcIds": [VPC]}
    )
    stubber.add_response(
        "describe_network_interfaces",
        {"NetworkInterfaces": [eni(10), eni(11)], "NextToken": "page-2"},
        {"Filters": eni_filters},
    )
    stubber.add_response(
        "describe_network_interfaces",
        {"NetworkInterfaces": [eni(12)]},
        {"Filters": eni_filters, "NextToken": "page-2"},
    )
    stubber.add_response(
        "describe_subnets",
        {"Subnets": [{"SubnetId": SUBNET, "VpcId": VPC, "CidrBlock": "10.0.1.0/24"}]},
        {"Filters": [vpc_filter], "SubnetIds": [SUBNET]},
    )
    deny_frag_needed = nacl_entry(
        90, False, Protocol="1", RuleAction="deny", IcmpTypeCode={"Type": 3, "Code": 4}
    )
    allow_all_in = nacl_entry(100, False, Protocol="-1", RuleAction="allow")
    allow_all_out = nacl_entry(100, True, Protocol="-1", RuleAction="allow")
    stubber.add_response(
        "describe_network_acls",
        {
            "NetworkAcls": [{"NetworkAclId": "acl-0default0000000", "VpcId": VPC, "IsDefault": True}],
            "NextToken": "n2",
        },
        {"Filters": [vpc_filter]},
    )
    stubber.add_response(
        "describe_network_acls",
        {
            "NetworkAcls": [
                {
                    "NetworkAclId": ACL,
                    "VpcId": VPC,
                    "IsDefault": False,
                    "Associations": [{"SubnetId": SUBNET, "NetworkAclId": ACL}],
                    "Entries": [deny_frag_needed, allow_all_in, allow_all_out],
                }
            ]
        },
        {"Filters": [vpc_filter], "NextToken": "n2"},
    )
    stubber.add_response(
        "describe_security_groups",
        {
            "SecurityGroups": [
                {"GroupId": GROUP, "VpcId": VPC, "IpPermissions": [], "IpPermissionsEgress": []}
            ]
        },
        {"GroupIds": [GROUP]},
    )

    # When the audit is narrowed to the subnet
    with stubber:
        result = audit_icmp(VPC, subnet_ids=[SUBNET], ec2=ec2)
        # Then every stubbed page was asked for, with the filters above (Stubber checks the parameters)
        stubber.assert_no_pending_responses()

    # And what was on the second pages counts: the NACL of the second page decides, the ENI of the
    # second page is among those whose groups lack the rule
    nacl = [f for f in result.findings if f.code is FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED]
    assert [(f.evidence[0].data["network_acl_id"], f.evidence[0].data["rule_number"]) for f in nacl] == [
        (ACL, 90)
    ]
    [sg] = [f for f in result.findings if f.code is FindingCode.SG_MISSING_ICMP_FRAG_NEEDED]
    assert sg.evidence[0].data["enis"] == [eni(n)["NetworkInterfaceId"] for n in (10, 11, 12)]
