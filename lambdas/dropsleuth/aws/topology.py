"""Collect the network records of one VPC for the path model (``rules/path.py``).

Every call filters on the server side (``vpc-id``, ``attachment.vpc-id``, ``resource-id`` …) and pages with
botocore's paginators where the operation has one, so a large account costs a few calls per resource kind,
not a scan. Records are passed through as ``describe_*`` returns them; the path model reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import translate
from dropsleuth.aws.permissions import declare
from dropsleuth.rules.path import PathAnalysis, Topology, addressable, analyse_path

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from dropsleuth.context import InvestigationContext

PERMISSIONS = declare(
    "topology",
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeRouteTables",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeInstances",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeNatGateways",
    "ec2:DescribeVpnGateways",
    "ec2:DescribeVpnConnections",
    "ec2:DescribeTransitGatewayAttachments",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListEntries",
)


def _filter(name: str, *values: str) -> list[dict[str, Any]]:
    return [{"Name": name, "Values": list(values)}]


def _collect(ec2: EC2Client, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """All records of a ``describe_*`` call, through its paginator when botocore has one."""
    try:
        if ec2.can_paginate(operation):
            records: list[dict[str, Any]] = []
            for page in ec2.get_paginator(operation).paginate(**kwargs):  # type: ignore[call-overload]
                records.extend(page.get(key, []))
            return records
        response = getattr(ec2, operation)(**kwargs)
        return list(response.get(key, []))
    except (ClientError, BotoCoreError, NotImplementedError) as error:
        raise translate(error, operation=operation) from error


def _prefix_list_ids(route_tables: Iterable[Mapping[str, Any]]) -> set[str]:
    return {
        route["DestinationPrefixListId"]
        for table in route_tables
        for route in table.get("Routes") or ()
        if route.get("DestinationPrefixListId")
    }


def collect_topology(vpc_id: str, *, ec2: EC2Client | None = None) -> Topology:
    """Read everything the path model needs about ``vpc_id``: routes, gateways, VPNs, endpoints, ENIs."""
    ec2 = ec2 or clients.ec2()
    in_vpc = _filter("vpc-id", vpc_id)
    vpcs = _collect(ec2, "describe_vpcs", "Vpcs", VpcIds=[vpc_id])
    route_tables = _collect(ec2, "describe_route_tables", "RouteTables", Filters=in_vpc)
    vpn_gateways = _collect(
        ec2, "describe_vpn_gateways", "VpnGateways", Filters=_filter("attachment.vpc-id", vpc_id)
    )
    tgw_attachments = _collect(
        ec2,
        "describe_transit_gateway_attachments",
        "TransitGatewayAttachments",
        Filters=_filter("resource-id", vpc_id),
    )
    vpn_connections: list[dict[str, Any]] = []
    vgw_ids = [g["VpnGatewayId"] for g in vpn_gateways]
    tgw_ids = sorted({a["TransitGatewayId"] for a in tgw_attachments if a.get("TransitGatewayId")})
    if vgw_ids:
        vpn_connections += _collect(
            ec2, "describe_vpn_connections", "VpnConnections", Filters=_filter("vpn-gateway-id", *vgw_ids)
        )
    if tgw_ids:
        vpn_connections += _collect(
            ec2, "describe_vpn_connections", "VpnConnections", Filters=_filter("transit-gateway-id", *tgw_ids)
        )
        tgw_attachments += _collect(
            ec2,
            "describe_transit_gateway_attachments",
            "TransitGatewayAttachments",
            # VPN attachments carry sites over Site-to-Site VPN; Direct Connect gateway attachments over a
            # transit VIF (the path model tells them apart: rules/path.py ``site_link``).
            Filters=_filter("transit-gateway-id", *tgw_ids)
            + _filter("resource-type", "vpn", "direct-connect-gateway"),
        )
    peerings = _collect(
        ec2,
        "describe_vpc_peering_connections",
        "VpcPeeringConnections",
        Filters=_filter("requester-vpc-info.vpc-id", vpc_id),
    ) + _collect(
        ec2,
        "describe_vpc_peering_connections",
        "VpcPeeringConnections",
        Filters=_filter("accepter-vpc-info.vpc-id", vpc_id),
    )
    prefix_lists, prefix_list_names = _prefix_lists(ec2, _prefix_list_ids(route_tables))
    instances = [
        instance
        for reservation in _collect(ec2, "describe_instances", "Reservations", Filters=in_vpc)
        for instance in reservation.get("Instances", [])
    ]
    return Topology(
        vpc_id=vpc_id,
        region=ec2.meta.region_name,
        vpcs=tuple(vpcs),
        subnets=tuple(_collect(ec2, "describe_subnets", "Subnets", Filters=in_vpc)),
        route_tables=tuple(route_tables),
        network_acls=tuple(_collect(ec2, "describe_network_acls", "NetworkAcls", Filters=in_vpc)),
        security_groups=tuple(_collect(ec2, "describe_security_groups", "SecurityGroups", Filters=in_vpc)),
        network_interfaces=tuple(
            _collect(ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=in_vpc)
        ),
        instances=tuple(instances),
        internet_gateways=tuple(
            _collect(
                ec2,
                "describe_internet_gateways",
                "InternetGateways",
                Filters=_filter("attachment.vpc-id", vpc_id),
            )
        ),
        nat_gateways=tuple(_collect(ec2, "describe_nat_gateways", "NatGateways", Filter=in_vpc)),
        vpn_gateways=tuple(vpn_gateways),
        vpn_connections=tuple({v["VpnConnectionId"]: v for v in vpn_connections}.values()),
        transit_gateway_attachments=tuple(
            {a["TransitGatewayAttachmentId"]: a for a in tgw_attachments}.values()
        ),
        vpc_peering_connections=tuple({p["VpcPeeringConnectionId"]: p for p in peerings}.values()),
        vpc_endpoints=tuple(_collect(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=in_vpc)),
        prefix_lists=prefix_lists,
        prefix_list_names=prefix_list_names,
    )


def _prefix_lists(ec2: EC2Client, ids: set[str]) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """The CIDRs and names of the prefix lists the route tables refer to (and only those)."""
    if not ids:
        return {}, {}
    described = _collect(
        ec2, "describe_managed_prefix_lists", "PrefixLists", Filters=_filter("prefix-list-id", *sorted(ids))
    )
    names = {p["PrefixListId"]: p.get("PrefixListName", "") for p in described}
    cidrs = {
        pl_id: tuple(
            e["Cidr"] for e in _collect(ec2, "get_managed_prefix_list_entries", "Entries", PrefixListId=pl_id)
        )
        for pl_id in sorted(ids)
    }
    return cidrs, names


def path_arguments(ctx: InvestigationContext, *, source_mtu: int | None = None) -> dict[str, Any]:
    """``analyse_path``'s keyword arguments from a context: the request's values, else the site registry's.

    ``source_mtu``: the request's ``source_mtu``, else this argument (the path step's choice, which may
    use the host agent's measurements), else the registry's ``wan_mtu``. ``mss_clamp``: the request's,
    else the registry's. ``site_link`` / ``dx_mtu``: the registry's (how the site is connected).
    """
    site = ctx.site
    return {
        "port": ctx.port,
        "source_mtu": ctx.source_mtu or source_mtu or (site.wan_mtu if site else None),
        "mss_clamp": ctx.mss_clamp or (site.mss_clamp if site else None),
        "vpn_connection_id": ctx.vpn_connection_id or (site.vpn_connection_id if site else None),
        "site_link": site.link if site else None,
        "dx_mtu": site.dx_mtu if site else None,
        "nat_traversal": site.nat_traversal if site else None,
    }


def path_analysis_for(
    ctx: InvestigationContext, *, ec2: EC2Client | None = None, source_mtu: int | None = None
) -> PathAnalysis:
    """The path analysis of an investigation's source → destination, with the site's MTU, link and clamp."""
    topology = collect_topology(ctx.vpc_id, ec2=ec2)
    return analyse_path(
        topology,
        addressable(ctx.source, topology),
        addressable(ctx.destination, topology),
        **path_arguments(ctx, source_mtu=source_mtu),
    )


def packet_filter_ids(vpc_id: str, *, ec2: EC2Client | None = None) -> tuple[str, ...]:
    """The ids of the VPC's NACLs, security groups and route tables: a change to any can change a path."""
    ec2 = ec2 or clients.ec2()
    in_vpc = _filter("vpc-id", vpc_id)
    nacls = _collect(ec2, "describe_network_acls", "NetworkAcls", Filters=in_vpc)
    groups = _collect(ec2, "describe_security_groups", "SecurityGroups", Filters=in_vpc)
    tables = _collect(ec2, "describe_route_tables", "RouteTables", Filters=in_vpc)
    return (
        *(a["NetworkAclId"] for a in nacls),
        *(g["GroupId"] for g in groups),
        *(t["RouteTableId"] for t in tables),
    )
