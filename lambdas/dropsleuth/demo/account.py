"""Build a scenario's network in an AWS account (the embedded moto account, or any test endpoint).

This writes resources, so it is never pointed at a real account: the demo runs it inside ``mock_aws`` and
tests inside moto. It returns the ids AWS assigned, by logical name, and the site as the registry will
know it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.parsers import ResponseParserError

from dropsleuth.aws import clients
from dropsleuth.demo.scenario import (
    NaclEntrySpec,
    RouteTableSpec,
    Scenario,
    SgRuleSpec,
    TransitGatewayPeerSpec,
)
from dropsleuth.sites import Site

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

_PROTOCOL_NUMBERS = {"all": "-1", "icmp": "1", "tcp": "6", "udp": "17", "icmpv6": "58"}


@dataclass
class BuiltAccount:
    scenario: Scenario
    ids: dict[str, str] = field(default_factory=dict)
    site: Site | None = None

    def id(self, kind: str, name: str = "") -> str:
        """The AWS id of a logical resource: ``id("subnet", "app-a")``, ``id("vpn")``."""
        key = f"{kind}:{name}" if name else kind
        return self.ids[key]


def _tags(kind: str, name: str) -> Any:
    # Any: boto3's TypedDict wants a Literal resource type; the kinds used here are all valid ones.
    return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}]


def build_account(scenario: Scenario, *, ec2: EC2Client | None = None) -> BuiltAccount:
    """Create the scenario's VPC, subnets, gateways, VPN, routes, NACLs, SGs and instances."""
    ec2 = ec2 or clients.ec2()
    net = scenario.network
    built = BuiltAccount(scenario)
    ids = built.ids

    vpc_args: dict[str, Any] = {"CidrBlock": net.vpc.cidr, "TagSpecifications": _tags("vpc", net.vpc.name)}
    if net.vpc.ipv6:
        vpc_args["AmazonProvidedIpv6CidrBlock"] = True
    vpc_id = ec2.create_vpc(**vpc_args)["Vpc"]["VpcId"]
    ids[f"vpc:{net.vpc.name}"] = ids["vpc"] = vpc_id

    for subnet in net.subnets:
        made = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=subnet.cidr,
            AvailabilityZone=f"{scenario.region}{subnet.az}",
            TagSpecifications=_tags("subnet", subnet.name),
        )
        ids[f"subnet:{subnet.name}"] = made["Subnet"]["SubnetId"]

    if net.internet_gateway:
        igw = ec2.create_internet_gateway(TagSpecifications=_tags("internet-gateway", "igw"))
        ids["igw"] = igw["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=ids["igw"], VpcId=vpc_id)

    for index, nat in enumerate(net.nat_gateways):
        # A public NAT gateway with an Elastic IP, at the address the scenario gives it in its subnet.
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        made_nat = ec2.create_nat_gateway(
            SubnetId=ids[f"subnet:{nat.subnet}"],
            AllocationId=allocation,
            PrivateIpAddress=nat.private_ip,
            TagSpecifications=_tags("natgateway", nat.name),
        )["NatGateway"]
        ids[f"nat:{nat.name}"] = made_nat["NatGatewayId"]
        ids[f"nat-eni:{nat.name}"] = made_nat["NatGatewayAddresses"][0]["NetworkInterfaceId"]
        if index == 0:
            ids["nat"] = made_nat["NatGatewayId"]

    if net.load_balancers:
        elbv2 = clients.client("elbv2")
        for balancer in net.load_balancers:
            made_lb = elbv2.create_load_balancer(
                Name=balancer.name,
                Subnets=[ids[f"subnet:{name}"] for name in balancer.subnets],
                Type="network",
                Scheme=balancer.scheme,
            )["LoadBalancers"][0]
            # The CloudWatch dimension ``LoadBalancer`` is the end of the ARN (``net/NAME/ID``).
            ids[f"nlb:{balancer.name}"] = made_lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]

    if net.vpn:
        _build_vpn(ec2, built, vpc_id)

    if net.transit_gateway:
        tgw = ec2.create_transit_gateway(Description=f"{net.vpc.name} transit gateway")["TransitGateway"]
        ids["tgw"] = tgw["TransitGatewayId"]
        ids["tgw-attach:vpc"] = ec2.create_transit_gateway_vpc_attachment(
            TransitGatewayId=ids["tgw"], VpcId=vpc_id, SubnetIds=[ids[f"subnet:{net.subnets[0].name}"]]
        )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
        for peer in net.transit_gateway_peers:
            _attach_peer_vpc(ec2, built, tgw, peer)

    for table in net.route_tables:
        _build_route_table(ec2, built, vpc_id, table)

    for service in net.gateway_endpoints:
        tables = [v for k, v in ids.items() if k.startswith("rtb:")]
        made_endpoint = ec2.create_vpc_endpoint(
            VpcId=vpc_id,
            ServiceName=f"com.amazonaws.{scenario.region}.{service}",
            VpcEndpointType="Gateway",
            RouteTableIds=tables,
        )
        ids[f"vpce:{service}"] = made_endpoint["VpcEndpoint"]["VpcEndpointId"]

    for acl in net.network_acls:
        acl_id = ec2.create_network_acl(VpcId=vpc_id, TagSpecifications=_tags("network-acl", acl.name))[
            "NetworkAcl"
        ]["NetworkAclId"]
        ids[f"nacl:{acl.name}"] = acl_id
        for entry in acl.entries:
            ec2.create_network_acl_entry(NetworkAclId=acl_id, **_nacl_entry_args(entry))
        for subnet_name in acl.subnets:
            _associate_nacl(ec2, acl_id, ids[f"subnet:{subnet_name}"])

    for group in net.security_groups:
        group_id = ec2.create_security_group(
            GroupName=group.name,
            Description=group.description,
            VpcId=vpc_id,
            TagSpecifications=_tags("security-group", group.name),
        )["GroupId"]
        ids[f"sg:{group.name}"] = group_id
    for group in net.security_groups:
        _apply_sg_rules(ec2, built, group.name, group.ingress, group.egress)

    if net.instances:
        image_id = amazon_linux_image(ec2)
        for instance in net.instances:
            made_instance = ec2.run_instances(
                ImageId=image_id,
                InstanceType=instance.instance_type,  # type: ignore[arg-type]
                MinCount=1,
                MaxCount=1,
                SubnetId=ids[f"subnet:{instance.subnet}"],
                PrivateIpAddress=instance.private_ip,
                SecurityGroupIds=[ids[f"sg:{g}"] for g in instance.security_groups],
                TagSpecifications=_tags("instance", instance.name),
            )["Instances"][0]
            ids[f"instance:{instance.name}"] = made_instance["InstanceId"]
            ids[f"eni:{instance.name}"] = made_instance["NetworkInterfaces"][0]["NetworkInterfaceId"]

    built.site = _site(built)
    return built


def amazon_linux_image(ec2: EC2Client) -> str:
    """An Amazon Linux 2 image id. Filtered by name: moto lists some 1,400 Amazon images, and serializing
    them all takes seconds per call."""
    images = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*-x86_64-gp2"]}]
    )["Images"]
    return (images or ec2.describe_images(Owners=["amazon"])["Images"])[0]["ImageId"]


def _attach_peer_vpc(
    ec2: Any, built: BuiltAccount, tgw: Mapping[str, Any], peer: TransitGatewayPeerSpec
) -> None:
    """Another VPC on the transit gateway and the route to it. AWS propagates an attachment's CIDR into the
    default route table by default; moto 5.2 records propagation but creates no route, so the route is
    made static here: the same route table answer either way."""
    network = ipaddress.ip_network(peer.cidr)
    peer_vpc = ec2.create_vpc(CidrBlock=peer.cidr, TagSpecifications=_tags("vpc", peer.name))["Vpc"]["VpcId"]
    subnet = next(network.subnets(new_prefix=max(network.prefixlen, 24)))
    peer_subnet = ec2.create_subnet(VpcId=peer_vpc, CidrBlock=str(subnet))["Subnet"]["SubnetId"]
    attachment = ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw["TransitGatewayId"], VpcId=peer_vpc, SubnetIds=[peer_subnet]
    )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
    table = tgw["Options"]["AssociationDefaultRouteTableId"]
    if peer.route == "blackhole":
        ec2.create_transit_gateway_route(
            DestinationCidrBlock=peer.cidr, TransitGatewayRouteTableId=table, Blackhole=True
        )
    else:
        ec2.create_transit_gateway_route(
            DestinationCidrBlock=peer.cidr,
            TransitGatewayRouteTableId=table,
            TransitGatewayAttachmentId=attachment,
        )
    built.ids[f"vpc:{peer.name}"] = peer_vpc
    built.ids[f"tgw-attach:{peer.name}"] = attachment


def _build_vpn(ec2: EC2Client, built: BuiltAccount, vpc_id: str) -> None:
    vpn = built.scenario.network.vpn
    assert vpn is not None
    ids = built.ids
    cgw = ec2.create_customer_gateway(Type="ipsec.1", PublicIp=vpn.customer_gateway_ip, BgpAsn=vpn.bgp_asn)
    ids["cgw"] = cgw["CustomerGateway"]["CustomerGatewayId"]
    vgw = ec2.create_vpn_gateway(Type="ipsec.1", TagSpecifications=_tags("vpn-gateway", f"{vpn.name}-vgw"))
    ids["vgw"] = vgw["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=vpc_id, VpnGatewayId=ids["vgw"])
    connection = ec2.create_vpn_connection(
        Type="ipsec.1",
        CustomerGatewayId=ids["cgw"],
        VpnGatewayId=ids["vgw"],
        Options={"StaticRoutesOnly": bool(vpn.static_routes)},
        TagSpecifications=_tags("vpn-connection", vpn.name),
    )
    ids["vpn"] = connection["VpnConnection"]["VpnConnectionId"]
    for cidr in vpn.static_routes:
        try:
            ec2.create_vpn_connection_route(VpnConnectionId=ids["vpn"], DestinationCidrBlock=cidr)
        except (NotImplementedError, ResponseParserError):
            # moto 5.2 lacks CreateVpnConnectionRoute (NotImplementedError in-process, HTTP 500 from
            # moto_server); the VPC route table still sends the site's CIDR to the VGW, which is what the
            # path model follows.
            break


def _build_route_table(ec2: EC2Client, built: BuiltAccount, vpc_id: str, table: RouteTableSpec) -> None:
    ids = built.ids
    made = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_tags("route-table", table.name))
    table_id = made["RouteTable"]["RouteTableId"]
    ids[f"rtb:{table.name}"] = table_id
    for subnet_name in table.subnets:
        ec2.associate_route_table(RouteTableId=table_id, SubnetId=ids[f"subnet:{subnet_name}"])
    for route in table.routes:
        # Targets are logical ("igw", "vgw") or literal gateway ids.
        gateway = ids.get(route.target, route.target)
        if gateway.startswith("nat-"):
            ec2.create_route(
                RouteTableId=table_id, DestinationCidrBlock=route.destination, NatGatewayId=gateway
            )
            continue
        if gateway.startswith("tgw-"):
            ec2.create_route(
                RouteTableId=table_id, DestinationCidrBlock=route.destination, TransitGatewayId=gateway
            )
            continue
        ec2.create_route(RouteTableId=table_id, DestinationCidrBlock=route.destination, GatewayId=gateway)


def _nacl_entry_args(entry: NaclEntrySpec) -> dict[str, Any]:
    protocol = _PROTOCOL_NUMBERS.get(str(entry.protocol), str(entry.protocol))
    args: dict[str, Any] = {
        "RuleNumber": entry.rule,
        "Protocol": protocol,
        "RuleAction": entry.action,
        "Egress": entry.direction == "outbound",
    }
    args["Ipv6CidrBlock" if ":" in entry.cidr else "CidrBlock"] = entry.cidr
    if protocol in ("1", "58"):
        args["IcmpTypeCode"] = {
            "Type": -1 if entry.icmp_type is None else entry.icmp_type,
            "Code": -1 if entry.icmp_code is None else entry.icmp_code,
        }
    if protocol in ("6", "17") and entry.ports:
        args["PortRange"] = {"From": entry.ports[0], "To": entry.ports[1]}
    return args


def _associate_nacl(ec2: EC2Client, acl_id: str, subnet_id: str) -> None:
    current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    for acl in current["NetworkAcls"]:
        for association in acl.get("Associations", ()):
            if association.get("SubnetId") == subnet_id:
                ec2.replace_network_acl_association(
                    AssociationId=association["NetworkAclAssociationId"], NetworkAclId=acl_id
                )
                return


def _permission(built: BuiltAccount, rule: SgRuleSpec) -> Any:
    permission: dict[str, Any] = {"IpProtocol": {"all": "-1"}.get(rule.protocol, rule.protocol)}
    if rule.protocol != "all":
        low, high = (
            rule.ports if rule.ports else ((-1, -1) if rule.protocol.startswith("icmp") else (0, 65535))
        )
        permission["FromPort"], permission["ToPort"] = low, high
    if rule.cidr:
        key, item = ("Ipv6Ranges", "CidrIpv6") if ":" in rule.cidr else ("IpRanges", "CidrIp")
        permission[key] = [{item: rule.cidr}]
    if rule.source_group:
        permission["UserIdGroupPairs"] = [{"GroupId": built.ids[f"sg:{rule.source_group}"]}]
    return permission


def _apply_sg_rules(
    ec2: EC2Client,
    built: BuiltAccount,
    name: str,
    ingress: tuple[SgRuleSpec, ...],
    egress: tuple[SgRuleSpec, ...],
) -> None:
    group_id = built.ids[f"sg:{name}"]
    if ingress:
        ec2.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=[_permission(built, r) for r in ingress]
        )
    default_egress = (SgRuleSpec(protocol="all", cidr="0.0.0.0/0"),)
    if egress != default_egress:
        ec2.revoke_security_group_egress(
            GroupId=group_id, IpPermissions=[_permission(built, default_egress[0])]
        )
        if egress:
            ec2.authorize_security_group_egress(
                GroupId=group_id, IpPermissions=[_permission(built, r) for r in egress]
            )


def _site(built: BuiltAccount) -> Site:
    spec = built.scenario.site
    instances = {i.name: i for i in built.scenario.network.instances}
    return Site(
        name=spec.name,
        cidrs=spec.cidrs,
        vpc_id=built.ids["vpc"],
        subnet_ids=tuple(sorted({built.ids[f"subnet:{instances[n].subnet}"] for n in spec.instances})),
        eni_ids=tuple(built.ids[f"eni:{n}"] for n in spec.instances),
        vpn_connection_id=built.ids.get("vpn"),
        expected_mtus=spec.expected_mtus,
        wan_mtu=spec.wan_mtu,
        mss_clamp=spec.mss_clamp,
        link=spec.link,
        dx_mtu=spec.dx_mtu,
        probe_targets=spec.probe_targets,
        upload_destination=spec.upload_destination,
        min_upload_mbps=spec.min_upload_mbps,
    )
