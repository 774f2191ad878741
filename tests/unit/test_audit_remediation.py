"""The audit's remediations over literal inventories: rule numbers that are really free, IPv6 wording."""

from __future__ import annotations

from typing import Any

from dropsleuth.audit import audit_inventory
from dropsleuth.aws.inventory import NetworkInventory
from dropsleuth.model import Finding, FindingCode

ACL_ID = "acl-0123456789abcdef0"


def entry(
    number: int, action: str, *, protocol: str = "6", cidr: str = "0.0.0.0/0", **extra: Any
) -> dict[str, Any]:
    return {
        "RuleNumber": number,
        "RuleAction": action,
        "Protocol": protocol,
        "Egress": False,
        "CidrBlock": cidr,
        **extra,
    }


def deny_frag_needed(number: int, cidr: str = "0.0.0.0/0") -> dict[str, Any]:
    return entry(number, "deny", protocol="1", cidr=cidr, IcmpTypeCode={"Type": 3, "Code": 4})


ALLOW_ALL_OUT = {
    "RuleNumber": 100,
    "RuleAction": "allow",
    "Protocol": "-1",
    "Egress": True,
    "CidrBlock": "0.0.0.0/0",
}


def inventory(
    entries: list[dict[str, Any]], *, groups: list[dict[str, Any]] | None = None, ipv6: bool = False
) -> NetworkInventory:
    groups = groups or []
    subnet: dict[str, Any] = {"SubnetId": "subnet-1", "CidrBlock": "10.0.1.0/24"}
    eni: dict[str, Any] = {
        "NetworkInterfaceId": "eni-1",
        "SubnetId": "subnet-1",
        "PrivateIpAddress": "10.0.1.10",
        "Groups": [{"GroupId": g["GroupId"]} for g in groups],
    }
    if ipv6:
        subnet["Ipv6CidrBlockAssociationSet"] = [
            {"Ipv6CidrBlock": "2600:1f18:1:100::/64", "Ipv6CidrBlockState": {"State": "associated"}}
        ]
        eni["Ipv6Addresses"] = [{"Ipv6Address": "2600:1f18:1:100::10"}]
    return NetworkInventory(
        vpc={"VpcId": "vpc-1"},
        subnets=[subnet],
        network_acls=[
            {
                "NetworkAclId": ACL_ID,
                "IsDefault": False,
                "Associations": [{"SubnetId": "subnet-1"}],
                "Entries": [*entries, ALLOW_ALL_OUT],
            }
        ],
        network_interfaces=[eni],
        security_groups={g["GroupId"]: g for g in groups},
    )


def nacl_findings(findings: tuple[Finding, ...]) -> list[Finding]:
    return [f for f in findings if f.code is FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED]


def rule_numbers(finding: Finding) -> list[int]:
    assert finding.remediation is not None
    numbers = []
    for command in finding.remediation.commands:
        words = command.split()
        numbers.append(int(words[words.index("--rule-number") + 1]))
    return numbers


def test_several_peers_get_distinct_free_numbers_before_the_deny() -> None:
    # Given a deny at 90 whose neighbours 89 and 87 are taken, and three peers
    entries = [
        entry(87, "allow"),
        entry(89, "allow"),
        deny_frag_needed(90),
        entry(100, "allow", protocol="-1"),
    ]
    peers = ["192.168.50.0/24", "10.20.0.0/16", "172.16.0.0/12"]
    # When audited
    [finding] = nacl_findings(audit_inventory(inventory(entries), peers).findings)
    # Then each peer has its own command at a number no entry uses, all before rule 90
    numbers = rule_numbers(finding)
    assert len(numbers) == len(peers) == len(set(numbers))
    assert all(n < 90 for n in numbers)
    assert not set(numbers) & {e["RuleNumber"] for e in entries}
    assert finding.remediation is not None
    assert [c.split("--cidr-block ")[1].split()[0] for c in finding.remediation.commands] == sorted(peers)


def test_two_fixes_in_one_nacl_do_not_share_a_number() -> None:
    # Given two peers denied by two different rules, 50 and 52, with only 51 between them
    entries = [
        entry(48, "allow"),
        entry(49, "allow"),
        deny_frag_needed(50, "10.1.0.0/16"),
        entry(51, "allow"),
        deny_frag_needed(52, "10.2.0.0/16"),
        entry(100, "allow", protocol="-1"),
    ]
    findings = nacl_findings(audit_inventory(inventory(entries), ["10.1.0.0/16", "10.2.0.0/16"]).findings)
    # Then there is one finding per deciding rule, and their commands use different free numbers
    assert sorted(f.evidence[0].data["rule_number"] for f in findings) == [50, 52]
    numbers = [n for f in findings for n in rule_numbers(f)]
    assert len(numbers) == len(set(numbers)) == 2
    assert not set(numbers) & {e["RuleNumber"] for e in entries}
    for finding in findings:
        assert all(n < finding.evidence[0].data["rule_number"] for n in rule_numbers(finding))


def test_no_free_number_before_the_deny_is_said_and_no_command_reuses_one() -> None:
    # Given the deny is rule 1: nothing can be placed before it
    entries = [deny_frag_needed(1), entry(100, "allow", protocol="-1")]
    [finding] = nacl_findings(audit_inventory(inventory(entries)).findings)
    assert finding.evidence[0].data["rule_number"] == 1
    assert finding.remediation is not None
    # Then no command is offered (it would fail, or replace the user's entry) and the steps say why
    assert finding.remediation.commands == ()
    assert any("No free rule number is left below rule 1" in step for step in finding.remediation.steps)
    assert any("0.0.0.0/0" in step and "renumber" in step for step in finding.remediation.steps)


def test_some_peers_placed_and_the_rest_named() -> None:
    entries = [entry(1, "allow"), deny_frag_needed(3), entry(100, "allow", protocol="-1")]
    peers = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"]
    [finding] = nacl_findings(audit_inventory(inventory(entries), peers).findings)
    assert rule_numbers(finding) == [2]
    assert finding.remediation is not None
    unplaced = [s for s in finding.remediation.steps if "No free rule number" in s]
    assert len(unplaced) == 1
    assert "10.2.0.0/16" in unplaced[0]
    assert "10.3.0.0/16" in unplaced[0]
    assert "10.1.0.0/16" not in unplaced[0]


def test_the_sg_console_step_names_the_ip_version_of_the_gap() -> None:
    tcp_only = {
        "GroupId": "sg-1",
        "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
        "IpPermissionsEgress": [],
    }
    v4_only = {
        **tcp_only,
        "IpPermissions": [
            {"IpProtocol": "icmp", "FromPort": 3, "ToPort": 4, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    }
    allow_all = [entry(100, "allow", protocol="-1")]

    def sg_steps(group: dict[str, Any]) -> tuple[str, ...]:
        result = audit_inventory(inventory(allow_all, groups=[group], ipv6=True))
        [finding] = [f for f in result.findings if f.code is FindingCode.SG_MISSING_ICMP_FRAG_NEEDED]
        assert finding.remediation is not None
        return finding.remediation.steps

    # A group admitting neither: one console step per IP version
    both = sg_steps(tcp_only)
    assert [("IPv4" in s, "IPv6" in s) for s in both] == [(True, False), (False, True)]
    assert "Packet Too Big" in both[1]
    # A group admitting IPv4 frag-needed only: the step is about ICMPv6, not "Custom ICMP - IPv4"
    (only,) = sg_steps(v4_only)
    assert "Custom ICMP - IPv6" in only
    assert "IPv4" not in only
