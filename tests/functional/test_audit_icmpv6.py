"""The audit's ICMPv6 half and the ICMP type/code round trip, against moto accounts built here.

The accounts are made with plain EC2 calls so that each test shows the configuration its verdict rests on.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import pytest

from dropsleuth.audit import AuditResult, audit_icmp
from dropsleuth.aws import clients
from dropsleuth.model import Finding, FindingCode

ALL_V4 = "0.0.0.0/0"
ALL_V6 = "::/0"


@dataclass(frozen=True)
class DualStack:
    vpc_id: str
    subnet_id: str
    acl_id: str
    group_id: str
    eni_id: str


def allow_all(acl_id: str, number: int, *, egress: bool, ipv6: bool) -> None:
    cidr: dict[str, Any] = {"Ipv6CidrBlock": ALL_V6} if ipv6 else {"CidrBlock": ALL_V4}
    clients.ec2().create_network_acl_entry(
        NetworkAclId=acl_id,
        RuleNumber=number,
        Protocol="-1",
        RuleAction="allow",
        Egress=egress,
        **cidr,
    )


def dual_stack(inbound_entries: list[dict[str, Any]], sg_ingress: list[dict[str, Any]]) -> DualStack:
    """A VPC with an Amazon-provided IPv6 block, one dual-stack subnet under its own NACL, one ENI."""
    ec2 = clients.ec2()
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    vpc_block = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0][
        "Ipv6CidrBlock"
    ]
    first_64 = str(next(ipaddress.ip_network(vpc_block).subnets(new_prefix=64)))
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", Ipv6CidrBlock=first_64)["Subnet"][
        "SubnetId"
    ]
    acl_id = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    for entry in inbound_entries:
        ec2.create_network_acl_entry(NetworkAclId=acl_id, Egress=False, **entry)
    allow_all(acl_id, 100, egress=True, ipv6=False)
    allow_all(acl_id, 101, egress=True, ipv6=True)
    current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    association = next(
        a["NetworkAclAssociationId"]
        for acl in current["NetworkAcls"]
        for a in acl["Associations"]
        if a["SubnetId"] == subnet_id
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl_id)
    group_id = ec2.create_security_group(GroupName="ingest", Description="ingest", VpcId=vpc_id)["GroupId"]
    if sg_ingress:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=sg_ingress)  # type: ignore[arg-type]
    eni_id = ec2.create_network_interface(SubnetId=subnet_id, Groups=[group_id], Ipv6AddressCount=1)[
        "NetworkInterface"
    ]["NetworkInterfaceId"]
    return DualStack(vpc_id, subnet_id, acl_id, group_id, eni_id)


def of(result: AuditResult, code: FindingCode) -> list[Finding]:
    return [f for f in result.findings if f.code is code]


def deny_icmpv6_packet_too_big(number: int) -> dict[str, Any]:
    return {
        "RuleNumber": number,
        "Protocol": "58",
        "RuleAction": "deny",
        "Ipv6CidrBlock": ALL_V6,
        "IcmpTypeCode": {"Type": 2, "Code": 0},
    }


ALLOW_ALL_IN = [
    {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": ALL_V4},
    {"RuleNumber": 101, "Protocol": "-1", "RuleAction": "allow", "Ipv6CidrBlock": ALL_V6},
]
IPV4_FRAG_NEEDED_ONLY = [
    {"IpProtocol": "icmp", "FromPort": 3, "ToPort": 4, "IpRanges": [{"CidrIp": ALL_V4}]},
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": ALL_V6}]},
]


def test_nacl_denying_icmpv6_packet_too_big_is_found_and_its_fix_works(aws: None) -> None:
    # Given a dual-stack subnet whose NACL denies ICMPv6 type 2 at rule 90 and allows everything after it
    site = dual_stack([deny_icmpv6_packet_too_big(90), *ALLOW_ALL_IN], IPV4_FRAG_NEEDED_ONLY)

    # When its subnet is audited
    result = audit_icmp(site.vpc_id, subnet_ids=[site.subnet_id])

    # Then one NACL finding: IPv6, inbound, rule 90 (IPv4 frag-needed is admitted by rule 100)
    [finding] = of(result, FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED)
    evidence = finding.evidence[0].data
    assert (evidence["network_acl_id"], evidence["direction"], evidence["rule_number"]) == (
        site.acl_id,
        "inbound",
        90,
    )
    assert evidence["ip_version"] == 6
    assert evidence["entry"]["IcmpTypeCode"] == {"Type": 2, "Code": 0}
    assert "ICMPv6 Packet Too Big" in finding.title
    # And the fix is the exact command: ICMPv6 type 2 code 0 from ::/0 at 89, the free number before 90
    assert finding.remediation is not None
    assert finding.remediation.commands == (
        (
            f"aws ec2 create-network-acl-entry --network-acl-id {site.acl_id} --ingress --rule-number 89 "
            "--protocol 58 --icmp-type-code Type=2,Code=0 --ipv6-cidr-block ::/0 --rule-action allow"
        ),
    )
    assert any(
        "(type 3 code 4) inbound" in line and "admitted by rule 100" in line for line in result.checked
    )

    # When the command is applied as written
    words = finding.remediation.commands[0].split()
    type_code = dict(part.split("=") for part in words[words.index("--icmp-type-code") + 1].split(","))
    clients.ec2().create_network_acl_entry(
        NetworkAclId=words[words.index("--network-acl-id") + 1],
        RuleNumber=int(words[words.index("--rule-number") + 1]),
        Protocol=words[words.index("--protocol") + 1],
        RuleAction=words[words.index("--rule-action") + 1],  # type: ignore[arg-type]  # a str from the command
        Egress="--egress" in words,
        Ipv6CidrBlock=words[words.index("--ipv6-cidr-block") + 1],
        IcmpTypeCode={"Type": int(type_code["Type"]), "Code": int(type_code["Code"])},
    )

    # Then the NACL no longer blocks Packet Too Big
    again = audit_icmp(site.vpc_id, subnet_ids=[site.subnet_id])
    assert of(again, FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED) == []


def test_security_group_without_icmpv6_packet_too_big_is_a_warning_with_the_ipv6_rule(aws: None) -> None:
    # Given a group that admits IPv4 frag-needed but no ICMPv6 at all
    site = dual_stack(ALLOW_ALL_IN, IPV4_FRAG_NEEDED_ONLY)

    result = audit_icmp(site.vpc_id, subnet_ids=[site.subnet_id])

    # Then the only finding is the group's IPv6 gap, for the dual-stack ENI
    assert of(result, FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED) == []
    [finding] = of(result, FindingCode.SG_MISSING_ICMP_FRAG_NEEDED)
    data = finding.evidence[0].data
    assert data["gaps"] == [[6, ALL_V6]]
    assert data["enis"] == [site.eni_id]
    assert finding.remediation is not None
    [command] = finding.remediation.commands
    assert command == (
        f"aws ec2 authorize-security-group-ingress --group-id {site.group_id} --ip-permissions "
        "'IpProtocol=icmpv6,FromPort=2,ToPort=0,Ipv6Ranges=[{CidrIpv6=::/0,Description=PMTUD}]'"
    )
    assert [step for step in finding.remediation.steps if "Custom ICMP" in step] == [
        "EC2 console → Security Groups → Inbound rules → Add rule: Custom ICMP - IPv6, Packet Too Big."
    ]

    # When the narrow rule of the command is added
    fields = dict(re.findall(r"(IpProtocol|FromPort|ToPort|CidrIpv6)=([^,\]}]+)", command))
    clients.ec2().authorize_security_group_ingress(
        GroupId=site.group_id,
        IpPermissions=[
            {
                "IpProtocol": fields["IpProtocol"],
                "FromPort": int(fields["FromPort"]),
                "ToPort": int(fields["ToPort"]),
                "Ipv6Ranges": [{"CidrIpv6": fields["CidrIpv6"]}],
            }
        ],
    )
    # Then the group admits Packet Too Big too
    assert (
        of(audit_icmp(site.vpc_id, subnet_ids=[site.subnet_id]), FindingCode.SG_MISSING_ICMP_FRAG_NEEDED)
        == []
    )


def test_an_ipv4_only_subnet_is_not_asked_about_icmpv6(aws: None) -> None:
    ec2 = clients.ec2()
    vpc_id = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.5.1.0/24")["Subnet"]["SubnetId"]
    result = audit_icmp(vpc_id, subnet_ids=[subnet_id])
    assert result.checked
    assert not [line for line in result.checked if "ICMPv6" in line]


# --- the moto IcmpTypeCode fix (lambdas/dropsleuth/demo/moto_fixes.py) ---------------------------------


def single_stack_acl(entries: list[dict[str, Any]]) -> tuple[str, str, str]:
    ec2 = clients.ec2()
    vpc_id = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    acl_id = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    for entry in entries:
        ec2.create_network_acl_entry(NetworkAclId=acl_id, CidrBlock=ALL_V4, **entry)
    current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    association = next(
        a["NetworkAclAssociationId"]
        for acl in current["NetworkAcls"]
        for a in acl["Associations"]
        if a["SubnetId"] == subnet_id
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl_id)
    return vpc_id, subnet_id, acl_id


def icmp_rule(
    number: int, action: str, icmp_type: int, icmp_code: int, *, egress: bool = False
) -> dict[str, Any]:
    return {
        "RuleNumber": number,
        "Protocol": "1",
        "RuleAction": action,
        "Egress": egress,
        "IcmpTypeCode": {"Type": icmp_type, "Code": icmp_code},
    }


ALLOW_ICMP_BOTH_WAYS = [icmp_rule(100, "allow", -1, -1), icmp_rule(100, "allow", -1, -1, egress=True)]


def test_describe_network_acls_returns_the_icmp_type_and_code(aws: None) -> None:
    _, _, acl_id = single_stack_acl([icmp_rule(90, "deny", 3, 4), *ALLOW_ICMP_BOTH_WAYS])
    entries = clients.ec2().describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Entries"]
    by_number = {(e["RuleNumber"], e["Egress"]): e for e in entries}
    assert by_number[90, False]["IcmpTypeCode"] == {"Type": 3, "Code": 4}
    assert by_number[100, True]["IcmpTypeCode"] == {"Type": -1, "Code": -1}


@pytest.mark.parametrize(
    ("denied", "blocked"),
    [
        # "Block ping": rule 90 denies echo requests only, so frag-needed falls through to rule 100's allow.
        # Were the type and code lost, rule 90 would read as "deny all ICMP" and block frag-needed.
        ((8, 0), False),
        # Rule 90 denies exactly frag-needed: blocked by 90, and the evidence shows type 3 code 4.
        ((3, 4), True),
        # Rule 90 denies another Destination Unreachable code: frag-needed (code 4) passes.
        ((3, 3), False),
    ],
    ids=["echo-denied", "frag-needed-denied", "port-unreachable-denied"],
)
def test_the_verdict_rests_on_the_entries_type_and_code(
    aws: None, denied: tuple[int, int], blocked: bool
) -> None:
    vpc_id, subnet_id, acl_id = single_stack_acl([icmp_rule(90, "deny", *denied), *ALLOW_ICMP_BOTH_WAYS])
    result = audit_icmp(vpc_id, subnet_ids=[subnet_id])
    findings = of(result, FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED)
    if not blocked:
        assert findings == []
        assert any(acl_id in line and "admitted by rule 100" in line for line in result.checked)
        return
    [finding] = findings
    assert (finding.evidence[0].data["rule_number"], finding.evidence[0].data["direction"]) == (90, "inbound")
    assert finding.evidence[0].data["entry"]["IcmpTypeCode"] == {"Type": 3, "Code": 4}
    assert "type 3 code 4" in finding.evidence[0].summary
