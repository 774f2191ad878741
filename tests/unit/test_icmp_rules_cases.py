"""The NACL/SG rules on literal, boto3-shaped dicts: one case per AWS semantic the audit relies on."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from dropsleuth.rules.icmp import (
    Direction,
    Packet,
    frag_needed,
    free_rule_number_before,
    free_rule_numbers,
    nacl_admits,
    nacl_admits_range,
    security_groups_admit,
    security_groups_admit_range,
)

DENY_FRAG_90 = {
    "RuleNumber": 90,
    "Protocol": "1",
    "RuleAction": "deny",
    "Egress": False,
    "CidrBlock": "0.0.0.0/0",
    "IcmpTypeCode": {"Type": 3, "Code": 4},
}
ALLOW_ALL_100_IN = {
    "RuleNumber": 100,
    "Protocol": "-1",
    "RuleAction": "allow",
    "Egress": False,
    "CidrBlock": "0.0.0.0/0",
}
ALLOW_ALL_100_OUT = {**ALLOW_ALL_100_IN, "Egress": True}
DEFAULT_DENY_IN = {
    "RuleNumber": 32767,
    "Protocol": "-1",
    "RuleAction": "deny",
    "Egress": False,
    "CidrBlock": "0.0.0.0/0",
}


def test_first_match_wins_in_rule_number_order_not_list_order() -> None:
    # Given the allow-all listed before the deny, as describe_network_acls may return them
    entries = [ALLOW_ALL_100_IN, DENY_FRAG_90]
    # When frag-needed arrives from a router on the internet
    decision = nacl_admits(entries, frag_needed("203.0.113.1", "10.0.1.10"), Direction.INBOUND)
    # Then rule 90 decides, because it has the lower number
    assert not decision.allowed
    assert decision.rule_number == 90


def test_other_icmp_passes_the_frag_needed_deny() -> None:
    echo = Packet(
        1, ipaddress.ip_address("203.0.113.1"), ipaddress.ip_address("10.0.1.10"), icmp_type=8, icmp_code=0
    )
    decision = nacl_admits([DENY_FRAG_90, ALLOW_ALL_100_IN], echo, Direction.INBOUND)
    assert decision.allowed
    assert decision.rule_number == 100


def test_nacl_is_stateless_each_direction_has_its_own_entries() -> None:
    out = nacl_admits(
        [DENY_FRAG_90, ALLOW_ALL_100_IN], frag_needed("10.0.1.10", "203.0.113.1"), Direction.OUTBOUND
    )
    assert not out.allowed
    assert out.rule_number is None  # nothing outbound matches: the implicit final deny


def test_explicit_default_rule_is_reported_as_star() -> None:
    decision = nacl_admits([DEFAULT_DENY_IN], frag_needed("203.0.113.1", "10.0.1.10"), Direction.INBOUND)
    assert decision.rule_label == "* (default deny)"


def test_ipv4_entries_never_match_ipv6_packets() -> None:
    ptb = frag_needed("2001:db8::1", "2001:db8:1::10")
    assert ptb.protocol == 58
    assert ptb.icmp_type == 2
    assert not nacl_admits([ALLOW_ALL_100_IN], ptb, Direction.INBOUND).allowed
    v6_allow = {
        "RuleNumber": 100,
        "Protocol": "58",
        "RuleAction": "allow",
        "Egress": False,
        "Ipv6CidrBlock": "::/0",
        "IcmpTypeCode": {"Type": 2, "Code": -1},
    }
    assert nacl_admits([v6_allow], ptb, Direction.INBOUND).allowed


def test_range_partially_denied_names_the_deny_rule() -> None:
    # Given a deny for one /24 of the peers, then allow-all
    entries = [{**DENY_FRAG_90, "CidrBlock": "192.168.50.0/24"}, ALLOW_ALL_100_IN]
    template = frag_needed("192.168.50.1", "10.0.1.10")
    # When the whole site /16 is the peer range
    decision = nacl_admits_range(entries, template, Direction.INBOUND, ipaddress.ip_network("192.168.0.0/16"))
    # Then it is not fully admitted and rule 90 is what to place the fix before
    assert not decision.fully_admitted
    assert decision.deciding is not None
    assert decision.deciding.rule_number == 90
    # And a peer range outside the denied /24 is fully admitted by rule 100
    other = nacl_admits_range(entries, template, Direction.INBOUND, ipaddress.ip_network("172.16.0.0/12"))
    assert other.fully_admitted
    assert [d.rule_number for d in other.allowing] == [100]


@pytest.mark.parametrize(
    ("used", "before", "expected"),
    [
        ([90, 100], 90, 89),
        ([88, 89, 90], 90, 87),
        ([1], 1, None),
        ([], 32767, 32766),
    ],
)
def test_free_rule_number_before(used: list[int], before: int, expected: int | None) -> None:
    entries = [{"RuleNumber": n, "Egress": False} for n in used]
    assert free_rule_number_before(entries, Direction.INBOUND, before) == expected


def inbound(*numbers: int) -> list[dict[str, Any]]:
    return [{"RuleNumber": n, "Egress": False} for n in numbers]


@pytest.mark.parametrize(
    ("used", "count", "before", "taken", "expected"),
    [
        # Three peers before a deny at 90 whose neighbours 89 and 87 are in use: no number is reused
        ([87, 89, 90, 100], 3, 90, (), [88, 86, 85]),
        # Numbers promised to another fix of the same NACL and direction are skipped too
        ([90, 100], 2, 90, (89,), [88, 87]),
        # Only two numbers exist below rule 3: the third peer gets none
        ([3, 100], 3, 3, (), [2, 1]),
        ([1, 100], 2, 1, (), []),
        # Only the final * denies: after the last entry, multiples of ten first
        ([100, 110], 3, None, (), [120, 130, 140]),
        ([], 1, None, (), [10]),
        # The top of the range: 32766 is the last number AWS accepts, then the numbers below the last entry
        ([32760], 3, None, (), [32761, 32762, 32763]),
        ([32766], 2, None, (32765,), [32764, 32763]),
    ],
)
def test_free_rule_numbers_never_collide(
    used: list[int], count: int, before: int | None, taken: tuple[int, ...], expected: list[int]
) -> None:
    numbers = free_rule_numbers(inbound(*used), Direction.INBOUND, count, before=before, taken=taken)
    assert numbers == expected
    assert not set(numbers) & (set(used) | set(taken))
    assert len(set(numbers)) == len(numbers)
    assert all(1 <= n <= 32766 and (before is None or n < before) for n in numbers)


def test_free_rule_numbers_look_only_at_one_direction() -> None:
    egress_90 = [{"RuleNumber": 89, "Egress": True}, {"RuleNumber": 90, "Egress": False}]
    assert free_rule_numbers(egress_90, Direction.INBOUND, 1, before=90) == [89]
    assert free_rule_numbers(egress_90, Direction.OUTBOUND, 1, before=90) == [88]


def sg(*permissions: dict[str, Any], egress: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {"GroupId": "sg-1", "IpPermissions": list(permissions), "IpPermissionsEgress": list(egress)}


def test_sg_icmp_uses_fromport_as_type_and_toport_as_code() -> None:
    narrow = sg({"IpProtocol": "icmp", "FromPort": 3, "ToPort": 4, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    assert security_groups_admit([narrow], frag_needed("203.0.113.1", "10.0.1.10"), Direction.INBOUND).allowed
    wrong_code = sg({"IpProtocol": "icmp", "FromPort": 3, "ToPort": 1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    assert not security_groups_admit(
        [wrong_code], frag_needed("203.0.113.1", "10.0.1.10"), Direction.INBOUND
    ).allowed
    all_codes = sg({"IpProtocol": "icmp", "FromPort": 3, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    assert security_groups_admit(
        [all_codes], frag_needed("203.0.113.1", "10.0.1.10"), Direction.INBOUND
    ).allowed


def test_sg_union_of_allows_and_prefix_lists() -> None:
    tcp_only = sg(
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    )
    by_list = {
        "GroupId": "sg-2",
        "IpPermissions": [{"IpProtocol": "-1", "PrefixListIds": [{"PrefixListId": "pl-1"}]}],
    }
    packet = frag_needed("192.168.50.1", "10.0.1.10")
    assert not security_groups_admit([tcp_only], packet, Direction.INBOUND).allowed
    decision = security_groups_admit(
        [tcp_only, by_list], packet, Direction.INBOUND, prefix_lists={"pl-1": ["192.168.50.0/24"]}
    )
    assert decision.allowed
    assert decision.group_id == "sg-2"


def test_sg_range_needs_the_whole_range_covered() -> None:
    half = sg({"IpProtocol": "icmp", "FromPort": 3, "ToPort": 4, "IpRanges": [{"CidrIp": "192.168.50.0/25"}]})
    template = frag_needed("192.168.50.1", "10.0.1.10")
    site = ipaddress.ip_network("192.168.50.0/24")
    assert not security_groups_admit_range([half], template, Direction.INBOUND, site)
    other_half = sg(
        {"IpProtocol": "1", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "192.168.50.128/25"}]}
    )
    assert security_groups_admit_range([half, other_half], template, Direction.INBOUND, site)
