"""The path model over literal ``describe_*`` records: one test per hop kind and per verdict."""

from __future__ import annotations

import dataclasses
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


def _tunnels(*tunnels: tuple[list[str], list[str]]) -> dict[str, Any]:
    """A ``describe_vpn_connections`` record whose tunnels allow these (encryption, integrity) lists."""
    return {
        "Options": {
            "TunnelOptions": [
                {
                    "Phase2EncryptionAlgorithms": [{"Value": e} for e in encryption],
                    "Phase2IntegrityAlgorithms": [{"Value": i} for i in integrity],
                }
                for encryption, integrity in tunnels
            ]
        }
    }


# (encryption, integrity) → MTU with NAT-T (counted when unknown) and without, from the customer gateway
# best-practices table: AES-GCM 1438/1446, AES-CBC + SHA1/SHA2-256 1422/1438, + SHA2-384/512 1406/1422.
@pytest.mark.parametrize(
    ("encryption", "integrity", "with_nat_t", "without_nat_t"),
    [
        (["AES256-GCM-16"], [], 1438, 1446),
        (["AES128-GCM-16", "AES256-GCM-16"], ["SHA2-256"], 1438, 1446),
        (["AES256"], ["SHA1"], 1422, 1438),
        (["AES128"], ["SHA2-256"], 1422, 1438),
        (["AES256"], ["SHA2-384"], 1406, 1422),
        (["AES256"], ["SHA2-512"], 1406, 1422),
        (["AES256"], ["SHA1", "SHA2-512"], 1406, 1422),  # the smallest negotiable integrity counts
        (["AES256", "AES256-GCM-16"], ["SHA2-256"], 1422, 1438),  # the CBC row is smaller than GCM's
        (["AES256"], [], 1406, 1422),  # no integrity list: AWS's default allows every one
        ([], [], 1406, 1422),  # no cipher list: AWS's default allows AES-CBC too
    ],
)
def test_vpn_tunnel_mtu_by_cipher_and_nat_t(
    encryption: list[str], integrity: list[str], with_nat_t: int, without_nat_t: int
) -> None:
    (profile,) = book.tunnel_profiles(_tunnels((encryption, integrity)))
    assert profile.nat_traversal is None  # describe_vpn_connections never says
    assert book.tunnel_mtu(profile)[0] == with_nat_t
    assert book.vpn_rule(_tunnels((encryption, integrity))).mtu == with_nat_t
    known_absent = dataclasses.replace(profile, nat_traversal=False)
    assert book.tunnel_mtu(known_absent)[0] == without_nat_t
    assert book.tunnel_mtu(dataclasses.replace(profile, nat_traversal=True))[0] == with_nat_t


def test_vpn_hop_takes_its_smallest_tunnel_and_never_sends_frag_needed() -> None:
    gcm_only = _tunnels((["AES256-GCM-16"], []), (["AES256-GCM-16"], []))
    mixed = _tunnels((["AES256-GCM-16"], []), (["AES256"], ["SHA2-512"]))
    assert book.vpn_rule(gcm_only).mtu == 1438
    assert "NAT-T not known" in book.vpn_rule(gcm_only).note
    assert book.vpn_rule(mixed).mtu == 1406
    assert book.vpn_rule(None).mtu == 1406
    assert all(book.vpn_rule(v).sends_frag_needed is False for v in (gcm_only, mixed, None))


@pytest.mark.parametrize(
    ("vif_mtu", "transit", "mtu"),
    [(None, False, 1500), (1500, False, 1500), (9001, False, 9001), (None, True, 1500), (8500, True, 8500),
     (9001, True, 8500)],  # a transit VIF carries at most 8500
)  # fmt: skip
def test_direct_connect_vif_mtu(vif_mtu: int | None, transit: bool, mtu: int) -> None:
    rule = book.direct_connect_rule(vif_mtu, transit=transit)
    assert rule.mtu == mtu
    assert rule.sends_frag_needed is True


def test_peering_entries() -> None:
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


# --- Direct Connect: decided from the gateway's VPN connections (or the site registry) -------------------

SITE_ROUTE = [{"DestinationCidrBlock": "192.168.0.0/16", "GatewayId": "vgw-1", "State": "active"}]
VGW_ATTACHED = {"VpnGatewayId": "vgw-1", "VpcAttachments": [{"VpcId": VPC, "State": "attached"}]}


def test_site_on_direct_connect_with_a_jumbo_private_vif_is_ok() -> None:
    # Given a VGW with no VPN connection and a registry that says the site's VIF carries jumbo frames
    analysis = analyse_path(
        topology(SITE_ROUTE, vpn_gateways=(VGW_ATTACHED,)),
        End(cidr="192.168.1.0/24"),
        End(eni_id=APP_ENI),
        source_mtu=9000,
        site_link="direct_connect",
        dx_mtu=9001,
    )
    assert kinds(analysis) == [HopKind.SITE, HopKind.DIRECT_CONNECT, HopKind.ENI]
    assert analysis.hops[1].mtu == 9001
    assert analysis.hops[1].sends_frag_needed is True
    assert analysis.verdict is Verdict.OK


def test_site_at_9000_over_direct_connect_at_1500_is_a_mismatch_not_a_black_hole() -> None:
    # Given a VGW without any VPN connection: Direct Connect, VIF MTU unknown (1500 assumed)
    analysis = analyse_path(
        topology(SITE_ROUTE, vpn_gateways=(VGW_ATTACHED,)),
        End(cidr="192.168.1.0/24"),
        End(eni_id=APP_ENI),
        source_mtu=9000,
    )
    assert kinds(analysis) == [HopKind.SITE, HopKind.DIRECT_CONNECT, HopKind.ENI]
    assert analysis.verdict is Verdict.MTU_MISMATCH  # the VIF sends frag-needed: PMTUD works
    assert analysis.limiting_hop is analysis.hops[1]
    assert analysis.path_mtu == 1500
    assert any("Direct Connect" in a for a in analysis.assumptions)
    assert {f.code for f in analysis.findings()} == {FindingCode.MTU_MISMATCH}


def test_toward_a_site_on_direct_connect_the_nacl_decides_between_mismatch_and_black_hole() -> None:
    open_path = analyse_path(topology(SITE_ROUTE), End(eni_id=APP_ENI), End(ip="192.168.1.5"))
    assert kinds(open_path) == [HopKind.ENI, HopKind.DIRECT_CONNECT, HopKind.SITE]
    assert open_path.verdict is Verdict.MTU_MISMATCH
    closed = analyse_path(
        topology(SITE_ROUTE, app_nacl_extra=[DENY_FRAG_NEEDED_IN]), End(eni_id=APP_ENI), End(ip="192.168.1.5")
    )
    assert closed.verdict is Verdict.PMTUD_BLACKHOLE
    assert [c.network_acl_id for c in closed.blocking] == ["acl-app"]


def test_vgw_with_a_vpn_connection_is_a_vpn_hop() -> None:
    analysis = analyse_path(
        topology(SITE_ROUTE, vpn_connections=(VPN_ON_VGW,)),
        End(cidr="192.168.1.0/24"),
        End(eni_id=APP_ENI),
        source_mtu=9000,
    )
    assert kinds(analysis) == [HopKind.SITE, HopKind.VPN, HopKind.ENI]
    assert analysis.verdict is Verdict.PMTUD_BLACKHOLE


@pytest.mark.parametrize(
    ("vpn_routes", "kind"),
    [(["192.168.0.0/16"], HopKind.VPN), (["172.16.0.0/12"], HopKind.DIRECT_CONNECT)],
)
def test_a_vpn_serves_the_site_only_when_its_static_routes_cover_it(
    vpn_routes: list[str], kind: HopKind
) -> None:
    vpn = {**VPN_ON_VGW, "Routes": [{"DestinationCidrBlock": c, "State": "available"} for c in vpn_routes]}
    analysis = analyse_path(
        topology(SITE_ROUTE, vpn_connections=(vpn,)), End(eni_id=APP_ENI), End(ip="192.168.1.5")
    )
    assert analysis.hops[1].kind is kind


def test_the_site_registry_link_overrides_a_vpn_on_the_gateway() -> None:
    analysis = analyse_path(
        topology(SITE_ROUTE, vpn_connections=(VPN_ON_VGW,)),
        End(eni_id=APP_ENI),
        End(ip="192.168.1.5"),
        site_link="direct_connect",
    )
    assert analysis.hops[1].kind is HopKind.DIRECT_CONNECT


def test_transit_gateway_with_a_direct_connect_gateway_attachment_is_a_transit_vif() -> None:
    attachments = (
        {"TransitGatewayAttachmentId": "tgw-attach-1", "TransitGatewayId": "tgw-1", "ResourceType": "vpc",
         "ResourceId": VPC},
        {"TransitGatewayAttachmentId": "tgw-attach-dx", "TransitGatewayId": "tgw-1",
         "ResourceType": "direct-connect-gateway", "ResourceId": "dxgw-1", "State": "available"},
    )  # fmt: skip
    routes = [{"DestinationCidrBlock": "192.168.0.0/16", "TransitGatewayId": "tgw-1", "State": "active"}]
    records = {"transit_gateway_attachments": attachments}
    outbound = analyse_path(
        topology(routes, **records), End(eni_id=APP_ENI), End(ip="192.168.1.5"), dx_mtu=9001
    )
    assert kinds(outbound) == [HopKind.ENI, HopKind.TRANSIT_GATEWAY, HopKind.DIRECT_CONNECT, HopKind.SITE]
    assert outbound.hops[2].resource_id == "dxgw-1"
    assert outbound.hops[2].mtu == 8500  # a transit VIF's jumbo MTU
    inbound = analyse_path(
        topology(routes, **records), End(cidr="192.168.1.0/24"), End(eni_id=APP_ENI), source_mtu=9000
    )
    assert kinds(inbound) == [HopKind.SITE, HopKind.DIRECT_CONNECT, HopKind.TRANSIT_GATEWAY, HopKind.ENI]
    assert inbound.verdict is Verdict.MTU_MISMATCH


# --- the LOCAL hop: an address of a subnet that no ENI holds ---------------------------------------------


def test_a_destination_no_eni_holds_is_a_local_hop_of_its_subnet() -> None:
    analysis = analyse_path(topology([]), End(eni_id=APP_ENI), End(ip="10.0.9.77"))
    assert kinds(analysis) == [HopKind.ENI, HopKind.LOCAL]
    local = analysis.hops[-1]
    assert (local.resource_id, local.subnet_id, local.address) == (EDGE_SUBNET, EDGE_SUBNET, "10.0.9.77")
    assert local.mtu == book.JUMBO_MTU
    assert any("10.0.9.77" in a and "MTU is not known" in a for a in analysis.assumptions)
    assert analysis.verdict is Verdict.OK


def test_a_source_no_eni_holds_is_a_local_hop_and_the_given_mtu_applies() -> None:
    routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]
    analysis = analyse_path(topology(routes), End(ip="10.0.1.99"), INTERNET, source_mtu=9001)
    assert kinds(analysis) == [HopKind.LOCAL, HopKind.INTERNET_GATEWAY, HopKind.INTERNET]
    assert analysis.hops[0].subnet_id == APP_SUBNET
    assert analysis.verdict is Verdict.MTU_MISMATCH
