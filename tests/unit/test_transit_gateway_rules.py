"""Transit gateway routes and their drop counters graded against the onset (pure rules, literal records)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dropsleuth.model import FindingCode, Severity
from dropsleuth.rules.other_drops import assess_other_drops
from dropsleuth.rules.path import Topology
from dropsleuth.rules.path_ends import covering_cidr, end_address, end_instances, inside_vpc
from dropsleuth.rules.transit_gateway import (
    RouteLookup,
    TransitGatewayCheck,
    assess_transit_gateways,
    covering_route,
)

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ONSET = START + timedelta(minutes=40)


def series(before: float, during: float) -> list[tuple[datetime, float]]:
    return [(START + timedelta(minutes=m), before if m < 40 else during) for m in range(90)]


ROUTES = [
    {"DestinationCidrBlock": "0.0.0.0/0", "State": "active", "Type": "static"},
    {"DestinationCidrBlock": "192.168.0.0/16", "State": "active", "Type": "propagated"},
    {"DestinationCidrBlock": "192.168.50.0/24", "State": "blackhole", "Type": "static"},
    {"DestinationCidrBlock": "192.168.50.0/25", "State": "deleted", "Type": "static"},
    {"DestinationCidrBlock": "2001:db8::/32", "State": "active", "Type": "static"},
]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.168.50.7", "192.168.50.0/24"),  # the most specific route that forwards; "deleted" does not
        ("192.168.51.7", "192.168.0.0/16"),
        ("192.168.50.0/24", "192.168.50.0/24"),  # a CIDR end: the route must contain all of it
        ("192.168.0.0/15", "0.0.0.0/0"),
        ("2001:db8::1", "2001:db8::/32"),
        ("2001:db9::1", None),  # no IPv6 default route: the IPv4 one does not cover it
    ],
)
def test_the_covering_route_is_the_longest_prefix_that_forwards(address: str, expected: str | None) -> None:
    route = covering_route(ROUTES, address)
    assert (route or {}).get("DestinationCidrBlock") == expected


def lookup(route: dict[str, str] | None, *, table: str | None = "tgw-rtb-1") -> RouteLookup:
    return RouteLookup(
        transit_gateway_id="tgw-1",
        attachment_id="tgw-attach-vpc",
        attachment_resource="vpc-1",
        route_table_id=table,
        address="192.168.50.7",
        direction="toward the destination",
        route=route,
        target_attachment_id="tgw-attach-vpn",
        fix_cidr="192.168.50.0/24",
    )


BLACKHOLE = {"DestinationCidrBlock": "192.168.50.0/24", "State": "blackhole", "Type": "static"}
ACTIVE = {
    "DestinationCidrBlock": "192.168.0.0/16",
    "State": "active",
    "Type": "propagated",
    "TransitGatewayAttachments": [{"TransitGatewayAttachmentId": "tgw-attach-vpn"}],
}


def grade(
    check: TransitGatewayCheck, onset: datetime | None = ONSET
) -> tuple[list[tuple[Severity, float]], list[str]]:
    result = assess_transit_gateways([check], onset)
    return [(f.severity, f.confidence) for f in result.findings], result.checked


def test_a_blackhole_route_is_graded_by_its_counter() -> None:
    def drops(before: float, during: float) -> TransitGatewayCheck:
        counter = {"PacketDropCountBlackhole": series(before, during)}
        return TransitGatewayCheck("tgw-1", (lookup(BLACKHOLE),), {"tgw-attach-vpc": counter})

    assert grade(drops(0, 50))[0] == [(Severity.HIGH, 0.9)]
    assert grade(drops(40, 50))[0] == [(Severity.WARNING, 0.5)]
    # Counting, but without an onset there is no "before": never high.
    assert grade(drops(0, 50), onset=None)[0] == [(Severity.WARNING, 0.5)]
    # No drops, or no counter at all: the route alone is a risk.
    assert grade(drops(0, 0))[0] == [(Severity.WARNING, 0.35)]
    assert grade(TransitGatewayCheck("tgw-1", (lookup(BLACKHOLE),)))[0] == [(Severity.WARNING, 0.35)]


def test_the_blackhole_counter_does_not_grade_a_missing_route_and_vice_versa() -> None:
    # A missing route drops into PacketDropCountNoRoute; a blackhole count says nothing about it.
    counter = {"PacketDropCountBlackhole": series(0, 50), "PacketDropCountNoRoute": series(0, 0)}
    check = TransitGatewayCheck("tgw-1", (lookup(None),), {"tgw-attach-vpc": counter})
    result = assess_transit_gateways([check], ONSET)
    (finding,) = result.findings
    assert finding.severity is Severity.WARNING
    assert finding.evidence[1].data["metric"] == "PacketDropCountNoRoute"


def test_each_broken_state_gets_its_own_fix_with_the_ids() -> None:
    def fix(route: dict[str, str] | None, table: str | None = "tgw-rtb-1") -> tuple[str, ...]:
        (finding,) = assess_transit_gateways(
            [TransitGatewayCheck("tgw-1", (lookup(route, table=table),))], ONSET
        ).findings
        assert finding.code is FindingCode.TRANSIT_GATEWAY_DROPS
        assert finding.remediation is not None
        return finding.remediation.commands

    assert fix(BLACKHOLE)[0] == (
        "aws ec2 replace-transit-gateway-route --transit-gateway-route-table-id tgw-rtb-1 "
        "--destination-cidr-block 192.168.50.0/24 --transit-gateway-attachment-id tgw-attach-vpn"
    )
    assert fix(None) == (
        (
            "aws ec2 create-transit-gateway-route --transit-gateway-route-table-id tgw-rtb-1 "
            "--destination-cidr-block 192.168.50.0/24 --transit-gateway-attachment-id tgw-attach-vpn"
        ),
        (
            "aws ec2 enable-transit-gateway-route-table-propagation "
            "--transit-gateway-route-table-id tgw-rtb-1 --transit-gateway-attachment-id tgw-attach-vpn"
        ),
    )
    assert fix(None, table=None) == (
        (
            "aws ec2 associate-transit-gateway-route-table --transit-gateway-route-table-id "
            "TGW_ROUTE_TABLE_ID --transit-gateway-attachment-id tgw-attach-vpc"
        ),
    )


def test_an_active_route_is_checked_clean_with_its_numbers_or_its_counters_unknown() -> None:
    quiet = {"PacketDropCountBlackhole": series(0, 0), "PacketDropCountNoRoute": series(0, 0)}
    findings, checked = grade(TransitGatewayCheck("tgw-1", (lookup(ACTIVE),), {"tgw-attach-vpc": quiet}))
    assert findings == []
    assert checked == [
        (
            "transit gateway tgw-1: checked, clean — traffic from tgw-attach-vpc toward the destination "
            "192.168.50.7: tgw-rtb-1: 192.168.0.0/16 → tgw-attach-vpn (active, propagated); "
            "PacketDropCountBlackhole 0, PacketDropCountNoRoute 0 on tgw-attach-vpc"
        )
    ]
    findings, checked = grade(TransitGatewayCheck("tgw-1", (lookup(ACTIVE),)))
    assert findings == []
    assert "drops unknown" in checked[0]
    assert "checked, clean" not in checked[0]


def test_drops_on_an_attachment_whose_route_for_the_path_is_active_are_a_weak_warning() -> None:
    rising = {"PacketDropCountBlackhole": series(0, 30)}
    findings, _ = grade(TransitGatewayCheck("tgw-1", (lookup(ACTIVE),), {"tgw-attach-vpc": rising}))
    assert findings == [(Severity.WARNING, 0.3)]


def test_unread_routes_are_unknown_with_the_reason() -> None:
    findings, checked = grade(TransitGatewayCheck("tgw-1", unread="routes not read (access_denied: no)"))
    assert findings == []
    assert checked == ["transit gateway tgw-1: unknown — routes not read (access_denied: no)"]


def test_the_data_shape_round_trips_through_assess_other_drops() -> None:
    check = TransitGatewayCheck("tgw-1", (lookup(BLACKHOLE),))
    data = {
        "transit_gateways": [
            {
                "transit_gateway_id": "tgw-1",
                "lookups": [lookup(BLACKHOLE).as_data()],
                "drops": {
                    "tgw-attach-vpc": {
                        "PacketDropCountBlackhole": [
                            {"at": t.isoformat(), "value": v} for t, v in series(0, 50)
                        ]
                    }
                },
                "unread": "",
            }
        ]
    }
    (finding,) = [
        f for f in assess_other_drops(data, ONSET).findings if f.code is FindingCode.TRANSIT_GATEWAY_DROPS
    ]
    assert finding.severity is Severity.HIGH
    assert finding.title.startswith(
        f"Transit gateway tgw-1 has a blackhole route for {check.lookups[0].address}"
    )


TOPOLOGY = Topology(
    vpc_id="vpc-1",
    vpcs=(
        {
            "VpcId": "vpc-1",
            "CidrBlock": "10.60.0.0/16",
            "CidrBlockAssociationSet": [{"CidrBlock": "10.61.0.0/16"}],
        },
    ),
    subnets=({"SubnetId": "subnet-1", "CidrBlock": "10.60.1.0/24"},),
    network_interfaces=(
        {
            "NetworkInterfaceId": "eni-1",
            "SubnetId": "subnet-1",
            "PrivateIpAddress": "10.60.1.10",
            "PrivateIpAddresses": [{"PrivateIpAddress": "10.60.1.10"}, {"PrivateIpAddress": "10.60.1.11"}],
            "Attachment": {"InstanceId": "i-1", "DeviceIndex": 0},
        },
        {"NetworkInterfaceId": "eni-2", "SubnetId": "subnet-1", "PrivateIpAddress": "10.60.1.20"},
    ),
)


class End:
    def __init__(self, **given: str) -> None:
        for name in ("cidr", "ip", "eni_id", "instance_id", "subnet_id", "service"):
            setattr(self, name, given.get(name))


def test_the_ends_of_a_path_resolve_to_addresses_and_instances() -> None:
    assert end_address(End(eni_id="eni-1"), TOPOLOGY) == "10.60.1.10"
    assert end_address(End(instance_id="i-1"), TOPOLOGY) == "10.60.1.10"
    assert end_address(End(subnet_id="subnet-1"), TOPOLOGY) in {"10.60.1.10", "10.60.1.0/24"}
    assert end_address(End(service="S3"), TOPOLOGY) is None
    assert end_instances(End(ip="10.60.1.11"), TOPOLOGY) == ("i-1",)
    assert end_instances(End(cidr="10.60.1.0/24"), TOPOLOGY) == ("i-1",)  # eni-2 is attached to nothing
    assert end_instances(End(ip="192.168.50.7"), TOPOLOGY) == ()
    assert inside_vpc("10.61.3.4", TOPOLOGY)
    assert not inside_vpc("192.168.50.7", TOPOLOGY)
    assert covering_cidr("192.168.50.7", ["192.168.0.0/16", "192.168.50.0/24"]) == "192.168.50.0/24"
    assert covering_cidr("172.16.0.1", ["192.168.0.0/16"]) == "172.16.0.1/32"
