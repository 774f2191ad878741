"""The static TCP verdict: NACLs are stateless, so the reply is checked too, at every subnet boundary crossed.

Literal ``describe_*`` records; the path model walks them and ``rules/icmp.py`` decides each NACL.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from dropsleuth.aws.reachability import EPHEMERAL_PORTS, nacl_admits_ports, static_verdict
from dropsleuth.rules.icmp import PROTO_TCP, Direction, Packet
from dropsleuth.rules.mtu_rulebook import HopKind
from dropsleuth.rules.path import End, Topology, analyse_path, subnet_crossings

VPC = "vpc-1"
APP, DATA, NAT_SUBNET = "subnet-app", "subnet-data", "subnet-nat"
APP_ENI, PEER_ENI, DATA_ENI = "eni-0app", "eni-0peer", "eni-0data"
INTERNET_HOST = "198.51.100.20"


def _entry(
    number: int,
    action: str,
    *,
    egress: bool,
    protocol: str = "-1",
    ports: tuple[int, int] | None = None,
    cidr: str = "0.0.0.0/0",
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "RuleNumber": number,
        "Protocol": protocol,
        "RuleAction": action,
        "Egress": egress,
        "CidrBlock": cidr,
    }
    if ports:
        entry["PortRange"] = {"From": ports[0], "To": ports[1]}
    return entry


ALLOW_ALL = [_entry(100, "allow", egress=e) for e in (False, True)]
DENY_REST = [_entry(32767, "deny", egress=e) for e in (False, True)]


def _acl(acl_id: str, subnet: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"NetworkAclId": acl_id, "Entries": [*entries, *DENY_REST], "Associations": [{"SubnetId": subnet}]}


def _topology(acls: dict[str, list[dict[str, Any]]]) -> Topology:
    local = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}
    return Topology(
        vpc_id=VPC,
        vpcs=({"VpcId": VPC, "CidrBlock": "10.0.0.0/16"},),
        subnets=(
            {"SubnetId": APP, "VpcId": VPC, "CidrBlock": "10.0.1.0/24"},
            {"SubnetId": DATA, "VpcId": VPC, "CidrBlock": "10.0.2.0/24"},
            {"SubnetId": NAT_SUBNET, "VpcId": VPC, "CidrBlock": "10.0.9.0/24"},
        ),
        route_tables=(
            {
                "RouteTableId": "rtb-app",
                "VpcId": VPC,
                "Associations": [{"SubnetId": APP}],
                "Routes": [
                    local,
                    {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"},
                ],
            },
            {
                "RouteTableId": "rtb-nat",
                "VpcId": VPC,
                "Associations": [{"SubnetId": NAT_SUBNET}],
                "Routes": [
                    local,
                    {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"},
                ],
            },
            {"RouteTableId": "rtb-main", "VpcId": VPC, "Associations": [{"Main": True}], "Routes": [local]},
        ),
        network_acls=tuple(
            _acl(f"acl-{subnet}", subnet, acls.get(subnet, ALLOW_ALL)) for subnet in (APP, DATA, NAT_SUBNET)
        ),
        network_interfaces=(
            {"NetworkInterfaceId": APP_ENI, "SubnetId": APP, "PrivateIpAddress": "10.0.1.10", "Groups": []},
            {"NetworkInterfaceId": PEER_ENI, "SubnetId": APP, "PrivateIpAddress": "10.0.1.20", "Groups": []},
            {"NetworkInterfaceId": DATA_ENI, "SubnetId": DATA, "PrivateIpAddress": "10.0.2.10", "Groups": []},
        ),
        nat_gateways=(
            {
                "NatGatewayId": "nat-1",
                "SubnetId": NAT_SUBNET,
                "NatGatewayAddresses": [{"PrivateIp": "10.0.9.5", "PublicIp": "203.0.113.5"}],
            },
        ),
    )


def _verdict(topology: Topology, source: End, destination: End, port: int = 443) -> Any:
    return static_verdict(topology, analyse_path(topology, source, destination, port=port))


def _denials(result: Any) -> list[tuple[str, str, str]]:
    return [(e["Subnet"]["Id"], e["Direction"], e["Leg"]) for e in result.explanations]


def test_requests_and_replies_admitted_both_ways_is_reachable() -> None:
    result = _verdict(_topology({}), End(eni_id=APP_ENI), End(eni_id=DATA_ENI))
    assert result.reachable is True
    assert result.explanations == ()


def test_destination_nacl_outbound_without_the_ephemeral_range_blocks_the_reply() -> None:
    # Given a data subnet that admits 443 in but lets out only 443 (no ephemeral ports for the replies)
    data_acl = [
        _entry(100, "allow", egress=False, protocol="6", ports=(443, 443)),
        _entry(100, "allow", egress=True, protocol="6", ports=(443, 443)),
    ]
    result = _verdict(_topology({DATA: data_acl}), End(eni_id=APP_ENI), End(eni_id=DATA_ENI))
    assert result.reachable is False
    assert _denials(result) == [(DATA, "outbound", "reply")]
    (explanation,) = result.explanations
    assert explanation["Port"] == EPHEMERAL_PORTS[0]
    assert "acl-subnet-data" in result.findings[0].resource_ids


def test_source_nacl_inbound_must_admit_the_whole_ephemeral_range() -> None:
    # Given the app subnet admitting replies only to Linux's default ephemeral range
    app_acl = [
        _entry(100, "allow", egress=True),
        _entry(110, "allow", egress=False, protocol="6", ports=(32768, 60999)),
    ]
    result = _verdict(_topology({APP: app_acl}), End(eni_id=APP_ENI), End(eni_id=DATA_ENI))
    assert _denials(result) == [(APP, "inbound", "reply")]
    assert result.explanations[0]["Port"] == 1024  # the first port of 1024-65535 it denies
    wide = [
        _entry(100, "allow", egress=True),
        _entry(110, "allow", egress=False, protocol="6", ports=EPHEMERAL_PORTS),
    ]
    assert _verdict(_topology({APP: wide}), End(eni_id=APP_ENI), End(eni_id=DATA_ENI)).reachable is True


@pytest.mark.parametrize(
    ("nat_acl", "expected"),
    [
        # the NAT subnet refuses the app subnet's request coming in
        (
            [_entry(90, "deny", egress=False, cidr="10.0.1.0/24"), *ALLOW_ALL],
            [(NAT_SUBNET, "inbound", "request")],
        ),
        # the NAT subnet refuses to pass the reply out to the app subnet
        (
            [_entry(90, "deny", egress=True, cidr="10.0.1.0/24"), *ALLOW_ALL],
            [(NAT_SUBNET, "outbound", "reply")],
        ),
        # the NAT subnet does not let the request out to the internet
        (
            [_entry(90, "deny", egress=True, cidr="198.51.100.0/24"), *ALLOW_ALL],
            [(NAT_SUBNET, "outbound", "request")],
        ),
    ],
)
def test_an_intermediate_nat_gateway_subnet_is_checked_in_and_out(
    nat_acl: list[dict[str, Any]], expected: list[tuple[str, str, str]]
) -> None:
    topology = _topology({NAT_SUBNET: nat_acl})
    path = analyse_path(topology, End(eni_id=APP_ENI), End(ip=INTERNET_HOST))
    assert [h.kind for h in path.hops][:2] == [HopKind.ENI, HopKind.NAT_GATEWAY]
    result = static_verdict(topology, path)
    assert result.reachable is False
    assert _denials(result) == expected


def test_traffic_inside_one_subnet_meets_no_nacl() -> None:
    # Given a subnet whose NACL denies everything: two ENIs in it still talk (NACLs sit at the boundary)
    topology = _topology({APP: []})
    assert _verdict(topology, End(eni_id=APP_ENI), End(eni_id=PEER_ENI)).reachable is True
    leaving = _verdict(topology, End(eni_id=APP_ENI), End(eni_id=DATA_ENI))
    assert _denials(leaving) == [(APP, "outbound", "request"), (APP, "inbound", "reply")]


def test_subnet_crossings_are_boundaries_only() -> None:
    assert subnet_crossings(["a", "a"], starts_inside=True, ends_inside=True) == []
    assert subnet_crossings(["a", "b"], starts_inside=True, ends_inside=True) == [
        ("a", Direction.OUTBOUND),
        ("b", Direction.INBOUND),
    ]
    assert subnet_crossings(["a", "n", None], starts_inside=True, ends_inside=False) == [
        ("a", Direction.OUTBOUND),
        ("n", Direction.INBOUND),
        ("n", Direction.OUTBOUND),
    ]
    assert subnet_crossings([None, "b"], starts_inside=False, ends_inside=True) == [("b", Direction.INBOUND)]


def test_nacl_port_range_decision_is_exact_at_rule_boundaries() -> None:
    entries = [
        _entry(10, "deny", egress=True, protocol="6", ports=(5000, 5000)),
        _entry(20, "allow", egress=True, protocol="6", ports=(1024, 65535)),
        *DENY_REST,
    ]
    reply = Packet(PROTO_TCP, ipaddress.ip_address("10.0.2.10"), ipaddress.ip_address("10.0.1.10"))
    decision, port = nacl_admits_ports(entries, reply, Direction.OUTBOUND, EPHEMERAL_PORTS)
    assert (decision.allowed, port, decision.rule_number) == (False, 5000, 10)
    decision, _ = nacl_admits_ports(entries[1:], reply, Direction.OUTBOUND, EPHEMERAL_PORTS)
    assert decision.allowed is True
