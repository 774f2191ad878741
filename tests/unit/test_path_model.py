"""The path model over literal ``describe_*`` records: one test per hop kind and per verdict."""

from __future__ import annotations

from typing import Any

import pytest

from dropsleuth.model import FindingCode, Severity
from dropsleuth.rules import mtu_rulebook as book
from dropsleuth.rules.mtu_rulebook import HopKind
from dropsleuth.rules.path import End, Topology, Verdict, analyse_path

VPC = "vpc-0a"
APP_SUBNET, EDGE_SUBNET = "subnet-app", "subnet-edge"
APP_ENI, OTHER_ENI, APPLIANCE_ENI = "eni-0app", "eni-0other", "eni-0fw"


def _allow_all_nacl(acl_id: str, subnet: str, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    entries = [
        {
            "RuleNumber": 100,
            "Protocol": "-1",
            "RuleAction": "allow",
            "Egress": egress,
            "CidrBlock": "0.0.0.0/0",
        }
        for egress in (False, True)
    ]
    entries += [
        {
            "RuleNumber": 32767,
            "Protocol": "-1",
            "RuleAction": "deny",
            "Egress": egress,
            "CidrBlock": "0.0.0.0/0",
        }
        for egress in (False, True)
    ]
    return {
        "NetworkAclId": acl_id,
        "VpcId": VPC,
        "Entries": [*(extra or []), *entries],
        "Associations": [{"SubnetId": subnet}],
    }


def _eni(eni_id: str, subnet: str, ip: str, instance: str) -> dict[str, Any]:
    return {
        "NetworkInterfaceId": eni_id,
        "SubnetId": subnet,
        "PrivateIpAddress": ip,
        "Attachment": {"InstanceId": instance},
    }


def topology(
    app_routes: list[dict[str, Any]],
    *,
    edge_routes: list[dict[str, Any]] | None = None,
    app_nacl_extra: list[dict[str, Any]] | None = None,
    edge_nacl_extra: list[dict[str, Any]] | None = None,
    instance_type: str = "m5.large",
    **records: Any,
) -> Topology:
    local = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}
    return Topology(
        vpc_id=VPC,
        vpcs=({"VpcId": VPC, "CidrBlock": "10.0.0.0/16"},),
        subnets=(
            {"SubnetId": APP_SUBNET, "VpcId": VPC, "CidrBlock": "10.0.1.0/24"},
            {"SubnetId": EDGE_SUBNET, "VpcId": VPC, "CidrBlock": "10.0.9.0/24"},
        ),
        route_tables=(
            {
                "RouteTableId": "rtb-app",
                "VpcId": VPC,
                "Routes": [local, *app_routes],
                "Associations": [{"SubnetId": APP_SUBNET}],
            },
            {
                "RouteTableId": "rtb-edge",
                "VpcId": VPC,
                "Routes": [local, *(edge_routes or [])],
                "Associations": [{"SubnetId": EDGE_SUBNET}],
            },
            {"RouteTableId": "rtb-main", "VpcId": VPC, "Routes": [local], "Associations": [{"Main": True}]},
        ),
        network_acls=(
            _allow_all_nacl("acl-app", APP_SUBNET, app_nacl_extra),
            _allow_all_nacl("acl-edge", EDGE_SUBNET, edge_nacl_extra),
        ),
        network_interfaces=(
            _eni(APP_ENI, APP_SUBNET, "10.0.1.10", "i-app"),
            _eni(OTHER_ENI, APP_SUBNET, "10.0.1.20", "i-other"),
            _eni(APPLIANCE_ENI, EDGE_SUBNET, "10.0.9.5", "i-fw"),
        ),
        instances=(
            {"InstanceId": "i-app", "InstanceType": instance_type},
            {"InstanceId": "i-other", "InstanceType": "c5.large"},
            {"InstanceId": "i-fw", "InstanceType": "c5n.large"},
        ),
        **records,
    )


INTERNET = End(ip="198.51.100.20")
DENY_FRAG_NEEDED_IN = {
    "RuleNumber": 10,
    "Protocol": "1",
    "RuleAction": "deny",
    "Egress": False,
    "CidrBlock": "0.0.0.0/0",
    "IcmpTypeCode": {"Type": 3, "Code": 4},
}
VPN_ON_VGW = {"VpnConnectionId": "vpn-1", "VpnGatewayId": "vgw-1", "State": "available"}


def kinds(analysis: Any) -> list[HopKind]:
    return [h.kind for h in analysis.hops]


# --- the rule book ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance_type", "mtu"), [("m5.large", 9001), ("t3.micro", 9001), ("m1.small", 1500), ("t1.micro", 1500)]
)
def test_eni_mtu_by_instance_type(instance_type: str, mtu: int) -> None:
    assert book.eni_rule(instance_type).mtu == mtu


def test_vpn_mtu_follows_the_tunnel_ciphers() -> None:
    gcm_only = {
        "Options": {"TunnelOptions": [{"Phase2EncryptionAlgorithms": [{"Value": "AES256-GCM-16"}]}] * 2}
    }
    with_cbc = {
        "Options": {
            "TunnelOptions": [
                {"Phase2EncryptionAlgorithms": [{"Value": "AES256-GCM-16"}]},
                {"Phase2EncryptionAlgorithms": [{"Value": "AES256"}, {"Value": "AES256-GCM-16"}]},
            ]
        }
    }
    assert book.vpn_rule(gcm_only).mtu == 1446
    assert book.vpn_rule(with_cbc).mtu == 1406
    assert book.vpn_rule(None).mtu == 1406
    assert all(book.vpn_rule(v).sends_frag_needed is False for v in (gcm_only, with_cbc, None))


def test_direct_connect_and_peering_entries() -> None:
    assert book.direct_connect_rule(9001).mtu == 9001
    assert book.direct_connect_rule(None).mtu == 1500
    assert book.direct_connect_rule(8500, transit=True).sends_frag_needed is True
    assert book.peering_rule(inter_region=False).mtu == 9001
    assert book.peering_rule(inter_region=True).mtu == 8500


def test_every_entry_cites_a_document() -> None:
    for rule in (
        book.INTERNET_GATEWAY, book.NAT_GATEWAY, book.TRANSIT_GATEWAY, book.TRANSIT_GATEWAY_FROM_VPC,
        book.INTERFACE_ENDPOINT, book.GWLB_ENDPOINT, book.GATEWAY_ENDPOINT, book.LOCAL, book.vpn_rule(None),
        book.eni_rule("m5.large"), book.peering_rule(inter_region=True), book.direct_connect_rule(1500),
    ):  # fmt: skip
        assert "docs.aws.amazon.com" in rule.citation


# --- hop kinds and verdicts ------------------------------------------------------------------------------


def test_inside_one_vpc_is_ok() -> None:
    analysis = analyse_path(topology([]), End(eni_id=APP_ENI), End(eni_id=OTHER_ENI))
    assert kinds(analysis) == [HopKind.ENI, HopKind.ENI]
    assert analysis.verdict is Verdict.OK
    assert analysis.findings() == []


def test_internet_gateway_with_icmp_admitted_is_a_mismatch_pmtud_works() -> None:
    routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]
    analysis = analyse_path(topology(routes), End(eni_id=APP_ENI), INTERNET)
    assert kinds(analysis) == [HopKind.ENI, HopKind.INTERNET_GATEWAY, HopKind.INTERNET]
    assert analysis.verdict is Verdict.MTU_MISMATCH
    assert (analysis.packet_size, analysis.path_mtu, analysis.recommended_mss) == (9001, 1500, 1460)
    (finding,) = analysis.findings()
    assert finding.code is FindingCode.MTU_MISMATCH
    assert finding.severity is Severity.WARNING


def test_nacl_denying_frag_needed_makes_the_igw_a_black_hole() -> None:
    routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]
    analysis = analyse_path(
        topology(routes, app_nacl_extra=[DENY_FRAG_NEEDED_IN]), End(eni_id=APP_ENI), INTERNET
    )
    assert analysis.verdict is Verdict.PMTUD_BLACKHOLE
    (blocking,) = analysis.blocking
    assert (blocking.network_acl_id, blocking.rule_label, blocking.suggested_rule_number) == (
        "acl-app",
        "10",
        9,
    )
    codes = [f.code for f in analysis.findings()]
    assert codes == [FindingCode.PMTUD_BLACKHOLE, FindingCode.MTU_MISMATCH]


def test_a_smaller_sender_has_no_mismatch() -> None:
    routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]
    analysis = analyse_path(topology(routes, instance_type="m1.large"), End(eni_id=APP_ENI), INTERNET)
    assert analysis.verdict is Verdict.OK


def test_an_mss_clamp_covers_the_mismatch() -> None:
    routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]
    analysis = analyse_path(topology(routes), End(eni_id=APP_ENI), INTERNET, mss_clamp=1460)
    assert analysis.verdict is Verdict.OK
    assert analysis.packet_size == 1500


def test_nat_gateway_then_igw_checks_the_nacls_of_both_subnets() -> None:
    # The ICMP enters the NAT's subnet, leaves it toward the sender, then enters the sender's subnet.
    nat = {
        "NatGatewayId": "nat-1",
        "SubnetId": EDGE_SUBNET,
        "NatGatewayAddresses": [{"PrivateIp": "10.0.9.9"}],
    }
    app_routes = [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"}]
    edge_routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]
    open_path = analyse_path(
        topology(app_routes, edge_routes=edge_routes, nat_gateways=(nat,)), End(eni_id=APP_ENI), INTERNET
    )
    assert kinds(open_path) == [HopKind.ENI, HopKind.NAT_GATEWAY, HopKind.INTERNET_GATEWAY, HopKind.INTERNET]
    assert open_path.verdict is Verdict.MTU_MISMATCH
    closed = analyse_path(
        topology(
            app_routes, edge_routes=edge_routes, nat_gateways=(nat,), edge_nacl_extra=[DENY_FRAG_NEEDED_IN]
        ),
        End(eni_id=APP_ENI),
        INTERNET,
    )
    assert closed.verdict is Verdict.PMTUD_BLACKHOLE
    assert [c.network_acl_id for c in closed.blocking] == ["acl-edge"]


def test_vpn_from_the_vpc_toward_a_site_never_sends_frag_needed() -> None:
    routes = [{"DestinationCidrBlock": "192.168.0.0/16", "GatewayId": "vgw-1", "State": "active"}]
    analysis = analyse_path(
        topology(routes, vpn_connections=(VPN_ON_VGW,)), End(eni_id=APP_ENI), End(ip="192.168.1.5")
    )
    assert kinds(analysis) == [HopKind.ENI, HopKind.VPN, HopKind.SITE]
    assert analysis.verdict is Verdict.PMTUD_BLACKHOLE
    assert analysis.limiting_hop is not None
    assert analysis.limiting_hop.resource_id == "vpn-1"
    assert analysis.blocking == ()


def test_site_over_a_vpn_on_a_transit_gateway() -> None:
    vpn = {"VpnConnectionId": "vpn-2", "TransitGatewayId": "tgw-1", "State": "available"}
    attachment = {"TransitGatewayAttachmentId": "tgw-attach-1", "TransitGatewayId": "tgw-1",
                  "ResourceType": "vpc", "ResourceId": VPC}  # fmt: skip
    routes = [{"DestinationCidrBlock": "192.168.0.0/16", "TransitGatewayId": "tgw-1", "State": "active"}]
    records = {"vpn_connections": (vpn,), "transit_gateway_attachments": (attachment,)}
    inbound = analyse_path(
        topology(routes, **records), End(cidr="192.168.1.0/24"), End(eni_id=APP_ENI), source_mtu=9000
    )
    assert kinds(inbound) == [HopKind.SITE, HopKind.VPN, HopKind.TRANSIT_GATEWAY, HopKind.ENI]
    assert inbound.verdict is Verdict.PMTUD_BLACKHOLE
    assert inbound.limiting_hop is not None
    assert inbound.limiting_hop.kind is HopKind.VPN
    outbound = analyse_path(topology(routes, **records), End(eni_id=APP_ENI), End(ip="192.168.1.5"))
    assert kinds(outbound) == [HopKind.ENI, HopKind.TRANSIT_GATEWAY, HopKind.VPN, HopKind.SITE]
    # The TGW (8500) is met first and sends frag-needed from a VPC attachment; the VPN then does not.
    assert outbound.verdict is Verdict.PMTUD_BLACKHOLE
    assert outbound.limiting_hop is not None
    assert outbound.limiting_hop.kind is HopKind.VPN


def test_transit_gateway_to_another_vpc_is_a_mismatch_for_jumbo_senders() -> None:
    routes = [{"DestinationCidrBlock": "10.50.0.0/16", "TransitGatewayId": "tgw-1", "State": "active"}]
    analysis = analyse_path(topology(routes), End(eni_id=APP_ENI), End(ip="10.50.0.7"))
    assert kinds(analysis) == [HopKind.ENI, HopKind.TRANSIT_GATEWAY]
    # 8500 < 9001, and a TGW sends frag-needed for traffic entering on a VPC attachment: PMTUD works.
    assert analysis.verdict is Verdict.MTU_MISMATCH
    assert analysis.path_mtu == 8500


@pytest.mark.parametrize(
    ("regions", "mtu"), [(("eu-west-1", "eu-west-1"), 9001), (("eu-west-1", "us-east-1"), 8500)]
)
def test_peering_hop_mtu_depends_on_regions(regions: tuple[str, str], mtu: int) -> None:
    peering = {"VpcPeeringConnectionId": "pcx-1", "RequesterVpcInfo": {"Region": regions[0]},
               "AccepterVpcInfo": {"Region": regions[1]}}  # fmt: skip
    routes = [{"DestinationCidrBlock": "10.60.0.0/16", "VpcPeeringConnectionId": "pcx-1", "State": "active"}]
    analysis = analyse_path(
        topology(routes, vpc_peering_connections=(peering,)), End(eni_id=APP_ENI), End(ip="10.60.0.1")
    )
    assert analysis.hops[1].kind is HopKind.PEERING
    assert analysis.hops[1].mtu == mtu


def test_gateway_endpoint_route_to_s3_through_its_prefix_list() -> None:
    routes = [
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"},
        {"DestinationPrefixListId": "pl-s3", "GatewayId": "vpce-s3", "State": "active"},
    ]
    analysis = analyse_path(
        topology(
            routes,
            vpc_endpoints=(
                {
                    "VpcEndpointId": "vpce-s3",
                    "VpcEndpointType": "Gateway",
                    "ServiceName": "com.amazonaws.eu-west-1.s3",
                },
            ),
            prefix_lists={"pl-s3": ("52.218.0.0/17",)},
            prefix_list_names={"pl-s3": "com.amazonaws.eu-west-1.s3"},
        ),
        End(eni_id=APP_ENI),
        End(service="s3"),
    )
    assert kinds(analysis) == [HopKind.ENI, HopKind.GATEWAY_ENDPOINT, HopKind.SERVICE]
    assert analysis.verdict is Verdict.OK


def test_s3_without_an_endpoint_goes_through_the_igw() -> None:
    routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]
    analysis = analyse_path(topology(routes), End(eni_id=APP_ENI), End(service="s3"))
    assert kinds(analysis) == [HopKind.ENI, HopKind.INTERNET_GATEWAY, HopKind.SERVICE]
    assert analysis.verdict is Verdict.MTU_MISMATCH


def test_interface_endpoint_is_8500_without_pmtud() -> None:
    endpoint = {"VpcEndpointId": "vpce-if", "VpcEndpointType": "Interface",
                "ServiceName": "com.amazonaws.eu-west-1.sqs"}  # fmt: skip
    analysis = analyse_path(topology([], vpc_endpoints=(endpoint,)), End(eni_id=APP_ENI), End(service="sqs"))
    assert kinds(analysis) == [HopKind.ENI, HopKind.INTERFACE_ENDPOINT, HopKind.SERVICE]
    assert analysis.verdict is Verdict.PMTUD_BLACKHOLE
    assert analysis.path_mtu == 8500


def test_gwlb_endpoint_never_sends_frag_needed() -> None:
    endpoint = {"VpcEndpointId": "vpce-gwlb", "VpcEndpointType": "GatewayLoadBalancer"}
    routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "vpce-gwlb", "State": "active"}]
    analysis = analyse_path(topology(routes, vpc_endpoints=(endpoint,)), End(eni_id=APP_ENI), INTERNET)
    assert kinds(analysis) == [HopKind.ENI, HopKind.GWLB_ENDPOINT]
    assert analysis.verdict is Verdict.PMTUD_BLACKHOLE
    assert analysis.path_mtu == 8500


def test_appliance_eni_is_followed_through_its_subnet() -> None:
    app_routes = [
        {"DestinationCidrBlock": "0.0.0.0/0", "NetworkInterfaceId": APPLIANCE_ENI, "State": "active"}
    ]
    edge_routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]
    analysis = analyse_path(topology(app_routes, edge_routes=edge_routes), End(eni_id=APP_ENI), INTERNET)
    assert kinds(analysis) == [HopKind.ENI, HopKind.APPLIANCE, HopKind.INTERNET_GATEWAY, HopKind.INTERNET]
    assert analysis.verdict is Verdict.MTU_MISMATCH


def test_longest_prefix_wins() -> None:
    routes = [
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"},
        {"DestinationCidrBlock": "198.51.100.0/24", "GatewayId": "vgw-1", "State": "active"},
    ]
    analysis = analyse_path(topology(routes, vpn_connections=(VPN_ON_VGW,)), End(eni_id=APP_ENI), INTERNET)
    assert analysis.hops[1].kind is HopKind.VPN


def test_no_matching_route_is_no_route() -> None:
    analysis = analyse_path(topology([]), End(eni_id=APP_ENI), INTERNET)
    assert analysis.verdict is Verdict.NO_ROUTE
    (finding,) = analysis.findings()
    assert finding.code is FindingCode.NO_ROUTE
    assert finding.resource_ids == ("rtb-app",)


def test_black_hole_route_is_no_route() -> None:
    routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-gone", "State": "blackhole"}]
    analysis = analyse_path(topology(routes), End(eni_id=APP_ENI), INTERNET)
    assert analysis.verdict is Verdict.NO_ROUTE
    assert "black-hole route" in analysis.no_route_reason


def test_routing_loop_through_appliances_is_no_route() -> None:
    app_routes = [
        {"DestinationCidrBlock": "0.0.0.0/0", "NetworkInterfaceId": APPLIANCE_ENI, "State": "active"}
    ]
    edge_routes = [
        {"DestinationCidrBlock": "0.0.0.0/0", "NetworkInterfaceId": APPLIANCE_ENI, "State": "active"}
    ]
    analysis = analyse_path(topology(app_routes, edge_routes=edge_routes), End(eni_id=APP_ENI), INTERNET)
    assert analysis.verdict is Verdict.NO_ROUTE
    assert "loop" in analysis.no_route_reason


def test_site_with_no_return_route_is_no_route() -> None:
    analysis = analyse_path(
        topology(
            [],
            vpn_gateways=({"VpnGatewayId": "vgw-1", "VpcAttachments": [{"VpcId": VPC}]},),
            vpn_connections=(VPN_ON_VGW,),
        ),
        End(cidr="192.168.1.0/24"),
        End(eni_id=APP_ENI),
        source_mtu=1500,
    )
    assert analysis.verdict is Verdict.NO_ROUTE
    assert "return route" in analysis.no_route_reason


def test_unknown_eni_is_no_route_not_a_crash() -> None:
    analysis = analyse_path(topology([]), End(eni_id="eni-0missing"), INTERNET)
    assert analysis.verdict is Verdict.NO_ROUTE
    assert analysis.no_route_resource == "eni-0missing"
