"""The transit gateway routes a path uses: which route table each attachment is associated with, and the
route in it that covers the far end (``rules/transit_gateway.py`` grades them).

The attachments and their associations come with the topology (``DescribeTransitGatewayAttachments``
returns each attachment's ``Association``: the route table it is associated with). The route is found with
``SearchTransitGatewayRoutes``, filtered on the server to routes that forward (``state`` active or
blackhole) and to the longest prefix matching the address. The most specific covering route is then chosen
here as well (``covering_route``), because local endpoints answer that filter with every route (moto
implements only ``type``, ``state`` and ``route-search.exact-match``): the answer is the same either way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import translate
from dropsleuth.aws.permissions import declare
from dropsleuth.rules.mtu_rulebook import HopKind
from dropsleuth.rules.path import Hop, Topology
from dropsleuth.rules.path_ends import covering_cidr, inside_vpc, vpc_networks
from dropsleuth.rules.transit_gateway import ROUTING_STATES, RouteLookup, covering_route

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

PERMISSIONS = declare("transit_gateway_routes", "ec2:SearchTransitGatewayRoutes")

TOWARD_DESTINATION = "toward the destination"
BACK_TOWARD_SOURCE = "back toward the source"


def search_covering_route(
    table_id: str, address: str, *, ec2: EC2Client | None = None
) -> Mapping[str, Any] | None:
    """The route of transit gateway route table ``table_id`` that forwards ``address``; None: no route."""
    client = ec2 or clients.ec2()
    cidr = str(ipaddress.ip_network(address, strict=False))
    try:
        response = client.search_transit_gateway_routes(
            TransitGatewayRouteTableId=table_id,
            Filters=[
                {"Name": "state", "Values": list(ROUTING_STATES)},
                {"Name": "route-search.longest-prefix-match", "Values": [cidr]},
            ],
        )
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="SearchTransitGatewayRoutes") from error
    return covering_route(response.get("Routes", []), address)


def _associated_table(attachment: Mapping[str, Any]) -> str | None:
    association = attachment.get("Association") or {}
    if association.get("State", "associated") != "associated":
        return None
    table = association.get("TransitGatewayRouteTableId")
    return str(table) if table else None


def route_lookups(
    transit_gateway_id: str,
    topology: Topology,
    hops: Sequence[Hop],
    *,
    source_address: str | None,
    destination_address: str | None,
    site_cidrs: tuple[str, ...] = (),
    ec2: EC2Client | None = None,
) -> list[RouteLookup]:
    """One lookup per attachment the path enters ``transit_gateway_id`` from, toward the other end.

    The VPC's own attachment routes toward the end outside the VPC; the site's attachment (the VPN
    connection or Direct Connect gateway on the path) routes back toward the end inside it. An end that is
    not an address (an AWS service) or a far side the path model did not follow is not looked up.
    """
    attachments = [
        a for a in topology.transit_gateway_attachments if a.get("TransitGatewayId") == transit_gateway_id
    ]
    vpc_attachment = next(
        (a for a in attachments if a.get("ResourceType") == "vpc" and a.get("ResourceId") == topology.vpc_id),
        None,
    )
    site_links = {h.resource_id for h in hops if h.kind in (HopKind.VPN, HopKind.DIRECT_CONNECT)}
    site_attachment = next((a for a in attachments if a.get("ResourceId") in site_links), None)
    if source_address is None or destination_address is None:
        return []
    # The VPC's attachment carries traffic toward the end outside the VPC, the site's back toward the end
    # inside it; which of the two is "toward the destination" depends on where the source is.
    source_inside = inside_vpc(source_address, topology)
    inside, outside = (
        (source_address, destination_address) if source_inside else (destination_address, source_address)
    )
    outbound, inbound = (
        (TOWARD_DESTINATION, BACK_TOWARD_SOURCE)
        if source_inside
        else (BACK_TOWARD_SOURCE, TOWARD_DESTINATION)
    )
    vpc_cidrs = tuple(str(network) for network in vpc_networks(topology))
    planned: list[tuple[Mapping[str, Any], str, str, Mapping[str, Any] | None, str]] = []
    if vpc_attachment is not None:
        fix_cidr = covering_cidr(outside, site_cidrs)
        planned.append((vpc_attachment, outside, outbound, site_attachment, fix_cidr))
    if site_attachment is not None:
        planned.append((site_attachment, inside, inbound, vpc_attachment, covering_cidr(inside, vpc_cidrs)))
    lookups = []
    for attachment, address, direction, target, fix_cidr in planned:
        table = _associated_table(attachment)
        lookups.append(
            RouteLookup(
                transit_gateway_id=transit_gateway_id,
                attachment_id=str(attachment["TransitGatewayAttachmentId"]),
                attachment_resource=str(attachment.get("ResourceId") or ""),
                route_table_id=table,
                address=address,
                direction=direction,
                route=search_covering_route(table, address, ec2=ec2) if table else None,
                target_attachment_id=str(target["TransitGatewayAttachmentId"]) if target else None,
                fix_cidr=fix_cidr,
            )
        )
    return lookups
