"""The path model: the hops from a source to a destination across an AWS network, and the PMTUD verdict.

Pure: it reads a ``Topology`` of boto3-shaped ``describe_*`` records (collected by ``aws/topology.py``) and
follows the route tables — longest prefix match over CIDR and prefix-list routes; targets local, internet
gateway, NAT gateway, virtual private gateway / VPN, transit gateway, peering, VPC endpoints, appliance
ENIs. Each hop carries its MTU and whether it sends ICMP frag-needed, from ``mtu_rulebook``.

The verdict, for a packet of the size the sender sends (its MTU, bounded by the receiver's MTU through TCP's
MSS and by any MSS clamp):
- ``ok``: no hop is smaller than the packet;
- ``mtu_mismatch``: a hop is smaller, it sends frag-needed and the NACLs on the way back admit it
  (PMTUD works, at the cost of a dropped first packet per path);
- ``pmtud_blackhole``: a hop is smaller and either never sends frag-needed (VPN, endpoints) or a NACL on
  the way back to the sender denies ICMP type 3 code 4 (VPC User Guide: allow it both ways);
- ``no_route``: the route tables lead nowhere (no matching route, a black-hole route, a missing return
  route).

Security groups are stateful: the EC2 MTU page says ICMP responses to outbound traffic are admitted without
an inbound rule, so they are not a reason for a black hole here (the ICMP audit reports a missing rule as a
warning).
"""

from __future__ import annotations

import enum
import functools
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules import mtu_rulebook as book
from dropsleuth.rules.icmp import (
    Direction,
    NaclDecision,
    frag_needed,
    free_rule_number_before,
    nacl_admits,
    nacl_admits_range,
)
from dropsleuth.rules.mtu_rulebook import HopKind, HopRule

Record = Mapping[str, Any]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ANYWHERE = ipaddress.ip_network("0.0.0.0/0")
MAX_HOPS = 16  # Reachability Analyzer gives up at 64; real VPC paths have a handful


class EndpointLike(Protocol):
    """What the path model needs of an end (``dropsleuth.context.Endpoint`` satisfies it)."""

    @property
    def cidr(self) -> str | None: ...
    @property
    def ip(self) -> str | None: ...
    @property
    def eni_id(self) -> str | None: ...
    @property
    def service(self) -> str | None: ...


@dataclass(frozen=True)
class End:
    """A plain endpoint for callers without pydantic (tests, the benchmark): exactly one field set."""

    cidr: str | None = None
    ip: str | None = None
    eni_id: str | None = None
    service: str | None = None


def addressable(end: Any, topology: Topology) -> EndpointLike:
    """An instance or subnet endpoint as the path model walks it: the instance's primary ENI, the subnet's
    CIDR. Other endpoints are returned as they are; an unknown id stays as given (the walk says so)."""
    instance_id = getattr(end, "instance_id", None)
    subnet_id = getattr(end, "subnet_id", None)
    if instance_id:
        attached = [
            eni
            for eni in topology.network_interfaces
            if (eni.get("Attachment") or {}).get("InstanceId") == instance_id
        ]
        attached.sort(key=lambda eni: (eni.get("Attachment") or {}).get("DeviceIndex", 0))
        return (
            End(eni_id=attached[0]["NetworkInterfaceId"]) if attached else End(eni_id=f"eni-of-{instance_id}")
        )
    if subnet_id:
        subnet = next((s for s in topology.subnets if s.get("SubnetId") == subnet_id), None)
        if subnet is not None:
            return End(cidr=subnet["CidrBlock"])
    return end  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------------------
# The topology and its indexes
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topology:
    """The network records of one VPC (and what it connects to), as ``describe_*`` returns them."""

    vpc_id: str
    region: str = ""
    vpcs: tuple[Record, ...] = ()
    subnets: tuple[Record, ...] = ()
    route_tables: tuple[Record, ...] = ()
    network_acls: tuple[Record, ...] = ()
    security_groups: tuple[Record, ...] = ()
    network_interfaces: tuple[Record, ...] = ()
    instances: tuple[Record, ...] = ()
    internet_gateways: tuple[Record, ...] = ()
    nat_gateways: tuple[Record, ...] = ()
    vpn_gateways: tuple[Record, ...] = ()
    vpn_connections: tuple[Record, ...] = ()
    transit_gateway_attachments: tuple[Record, ...] = ()
    vpc_peering_connections: tuple[Record, ...] = ()
    vpc_endpoints: tuple[Record, ...] = ()
    prefix_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Prefix-list id → its CIDRs."""
    prefix_list_names: Mapping[str, str] = field(default_factory=dict)
    """Prefix-list id → its name (``com.amazonaws.eu-west-1.s3``)."""

    @functools.cached_property
    def index(self) -> TopologyIndex:
        """Lookup tables built once per topology (the route tables are read exactly once)."""
        return TopologyIndex(self)


@dataclass(frozen=True)
class CompiledRoute:
    network: IPNetwork
    route: Record
    via_prefix_list: str | None = None


class TopologyIndex:
    """Dictionaries over a ``Topology``: subnets by id and CIDR, route tables by subnet, LPM-ready routes."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.subnets = {s["SubnetId"]: s for s in topology.subnets}
        self.subnet_networks = sorted(
            ((ipaddress.ip_network(s["CidrBlock"]), s) for s in topology.subnets if s.get("CidrBlock")),
            key=lambda pair: -pair[0].prefixlen,
        )
        self.vpc_networks = [
            (ipaddress.ip_network(a["CidrBlock"]), v["VpcId"])
            for v in topology.vpcs
            for a in (v.get("CidrBlockAssociationSet") or [{"CidrBlock": v.get("CidrBlock")}])
            if a.get("CidrBlock")
        ]
        self.route_table_by_subnet: dict[str, Record] = {}
        self.main_route_table: dict[str, Record] = {}
        self.routes: dict[str, list[CompiledRoute]] = {}
        for table in topology.route_tables:
            for association in table.get("Associations") or ():
                if association.get("Main"):
                    self.main_route_table[table.get("VpcId", topology.vpc_id)] = table
                elif association.get("SubnetId"):
                    self.route_table_by_subnet[association["SubnetId"]] = table
            self.routes[table["RouteTableId"]] = self._compile(table)
        self.nacl_by_subnet = {
            a["SubnetId"]: acl for acl in topology.network_acls for a in acl.get("Associations") or ()
        }
        self.enis = {e["NetworkInterfaceId"]: e for e in topology.network_interfaces}
        self.eni_by_ip: dict[str, Record] = {}
        for eni in topology.network_interfaces:
            for address in eni.get("PrivateIpAddresses") or [
                {"PrivateIpAddress": eni.get("PrivateIpAddress")}
            ]:
                if address.get("PrivateIpAddress"):
                    self.eni_by_ip[address["PrivateIpAddress"]] = eni
        self.instances = {i["InstanceId"]: i for i in topology.instances}
        self.nat_gateways = {n["NatGatewayId"]: n for n in topology.nat_gateways}
        self.endpoints = {e["VpcEndpointId"]: e for e in topology.vpc_endpoints}
        self.peerings = {p["VpcPeeringConnectionId"]: p for p in topology.vpc_peering_connections}
        self.vpns = {v["VpnConnectionId"]: v for v in topology.vpn_connections}

    def _compile(self, table: Record) -> list[CompiledRoute]:
        compiled = []
        for route in table.get("Routes") or ():
            if route.get("DestinationCidrBlock"):
                compiled.append(CompiledRoute(ipaddress.ip_network(route["DestinationCidrBlock"]), route))
            elif route.get("DestinationPrefixListId"):
                pl_id = route["DestinationPrefixListId"]
                compiled.extend(
                    CompiledRoute(ipaddress.ip_network(cidr), route, pl_id)
                    for cidr in self.topology.prefix_lists.get(pl_id, ())
                )
        # Longest prefix first: the first route containing an address is the longest match.
        compiled.sort(key=lambda r: -r.network.prefixlen)
        return compiled

    def subnet_of(self, address: IPAddress) -> Record | None:
        for network, subnet in self.subnet_networks:
            if network.version == address.version and address in network:
                return subnet
        return None

    def in_vpc(self, address: IPAddress) -> bool:
        return any(n.version == address.version and address in n for n, _ in self.vpc_networks)

    def route_table_for(self, subnet_id: str) -> Record | None:
        table = self.route_table_by_subnet.get(subnet_id)
        if table is not None:
            return table
        vpc_id = self.subnets.get(subnet_id, {}).get("VpcId", self.topology.vpc_id)
        return self.main_route_table.get(vpc_id)

    def longest_match(self, table: Record, address: IPAddress) -> CompiledRoute | None:
        for compiled in self.routes.get(table["RouteTableId"], ()):
            if compiled.network.version == address.version and address in compiled.network:
                return compiled
        return None

    def service_route(self, table: Record, service: str) -> CompiledRoute | None:
        """A gateway-endpoint route to the service's prefix list (``…s3``) in this table."""
        suffix = "." + service.lower()
        for compiled in self.routes.get(table["RouteTableId"], ()):
            pl_id = compiled.via_prefix_list or compiled.route.get("DestinationPrefixListId")
            if pl_id and self.topology.prefix_list_names.get(pl_id, "").lower().endswith(suffix):
                return compiled
        for route in table.get("Routes") or ():  # prefix lists whose CIDRs were not collected
            pl_id = route.get("DestinationPrefixListId")
            if pl_id and self.topology.prefix_list_names.get(pl_id, "").lower().endswith(suffix):
                return CompiledRoute(ANYWHERE, route, pl_id)
        return None

    def interface_endpoint_for(self, service: str) -> Record | None:
        suffix = "." + service.lower()
        for endpoint in self.topology.vpc_endpoints:
            if endpoint.get("VpcEndpointType") == "Interface" and str(
                endpoint.get("ServiceName", "")
            ).lower().endswith(suffix):
                return endpoint
        return None

    def instance_type_of(self, eni: Record) -> str | None:
        instance_id = (eni.get("Attachment") or {}).get("InstanceId")
        instance = self.instances.get(instance_id or "")
        return instance.get("InstanceType") if instance else None

    def vpns_on(self, gateway_id: str) -> list[Record]:
        """The VPN connections that terminate on a virtual private gateway or transit gateway."""
        return [
            v
            for v in self.topology.vpn_connections
            if gateway_id in (v.get("VpnGatewayId"), v.get("TransitGatewayId"))
            and v.get("State", "available") not in ("deleted", "deleting")
        ]

    def direct_connect_attachment(self, transit_gateway_id: str) -> Record | None:
        """A transit gateway's Direct Connect gateway attachment (a transit VIF behind it), if any."""
        return next(
            (
                a
                for a in self.topology.transit_gateway_attachments
                if a.get("TransitGatewayId") == transit_gateway_id
                and a.get("ResourceType") == "direct-connect-gateway"
                and a.get("State", "available") not in ("deleted", "deleting", "failed")
            ),
            None,
        )


def _vpn_covers(vpn: Record, address: IPAddress | None) -> bool:
    """Whether one of the VPN connection's static routes contains the address."""
    return address is not None and any(
        route.get("DestinationCidrBlock") and address in ipaddress.ip_network(route["DestinationCidrBlock"])
        for route in vpn.get("Routes") or ()
        if route.get("State", "available") not in ("deleted", "deleting")
    )


@dataclass(frozen=True)
class SiteLink:
    """How a gateway reaches the site: over one of its VPN connections, or (``vpn`` None) Direct Connect."""

    vpn: Record | None
    reason: str
    assumed: bool = False
    """True when the choice rests on an assumption (listed in the analysis), not on a record."""


def site_link(
    gateway_id: str,
    address: IPAddress | None,
    index: TopologyIndex,
    *,
    vpn_connection_id: str | None = None,
    link: str | None = None,
) -> SiteLink | None:
    """Whether the site at ``address`` behind a VGW or TGW is on a VPN connection or on Direct Connect.

    A VPN carries the site only when a VPN connection on that gateway serves it: the site's own
    ``vpn_connection_id``, one whose static routes cover the address, or one whose routes are not listed
    (dynamic routing: BGP may advertise the site). A VGW with no such VPN connection reaches its on-premises
    networks over a Direct Connect private VIF, the other way a VGW has; a TGW does through a Direct Connect
    gateway attachment. The site registry's ``link`` overrides the evidence. None: a TGW with neither.
    """
    vpns = index.vpns_on(gateway_id)
    where = str(address) if address is not None else "the site"
    if link == "direct_connect":
        return SiteLink(None, f"the site registry puts {where} on Direct Connect")
    for vpn in vpns:
        if vpn_connection_id and vpn["VpnConnectionId"] == vpn_connection_id:
            return SiteLink(vpn, f"{vpn_connection_id} is the site's VPN connection")
    for vpn in vpns:
        if _vpn_covers(vpn, address):
            return SiteLink(vpn, f"the static routes of {vpn['VpnConnectionId']} cover {where}")
    for vpn in vpns:
        if not vpn.get("Routes"):
            return SiteLink(
                vpn,
                f"{vpn['VpnConnectionId']} lists no static routes (dynamic routing): assumed to carry "
                f"{where}",
                assumed=True,
            )
    if link == "vpn" and vpns:
        return SiteLink(vpns[0], f"the site registry puts {where} on a VPN: {vpns[0]['VpnConnectionId']}")
    why = (
        f"no VPN connection on {gateway_id}"
        if not vpns
        else f"the static routes of {gateway_id}'s VPN connections do not cover {where}"
    )
    if gateway_id.startswith("vgw-"):
        return SiteLink(None, f"{why}: {where} is reached over Direct Connect", assumed=True)
    attachment = index.direct_connect_attachment(gateway_id)
    if attachment is not None:
        return SiteLink(
            None,
            f"{why}; {gateway_id} has Direct Connect gateway attachment "
            f"{attachment.get('TransitGatewayAttachmentId')}: {where} is reached over Direct Connect",
            assumed=True,
        )
    return None


def subnet_crossings(
    subnet_ids: Sequence[str | None], *, starts_inside: bool, ends_inside: bool
) -> list[tuple[str, Direction]]:
    """The NACL checks a packet meets crossing these subnets in order (consecutive repeats are one subnet).

    A NACL "allows or denies specific inbound or outbound traffic at the subnet level" (``book.DOC_NACL``):
    it is evaluated where traffic enters or leaves a subnet, never between two addresses of one subnet. A
    packet that starts inside its first subnet only leaves it; one that ends inside its last only enters
    it; every other subnet it crosses is entered and left.
    """
    ordered = [s for s in subnet_ids if s]
    collapsed = [s for i, s in enumerate(ordered) if i == 0 or ordered[i - 1] != s]
    legs: list[tuple[str, Direction]] = []
    for position, subnet in enumerate(collapsed):
        if not (position == 0 and starts_inside):
            legs.append((subnet, Direction.INBOUND))
        if not (position == len(collapsed) - 1 and ends_inside):
            legs.append((subnet, Direction.OUTBOUND))
    return legs


# ---------------------------------------------------------------------------------------------------------
# Hops and the analysis
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """One step on the path, with the rule-book entry that sets its MTU and PMTUD behaviour."""

    kind: HopKind
    resource_id: str
    rule: HopRule
    subnet_id: str | None = None
    address: str | None = None
    via: str = ""
    """How the path got here: the route (``rtb-…: 0.0.0.0/0 → igw-…``)."""

    @property
    def mtu(self) -> int | None:
        return self.rule.mtu

    @property
    def sends_frag_needed(self) -> bool | None:
        return self.rule.sends_frag_needed

    @property
    def citation(self) -> str:
        return self.rule.citation

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "resource_id": self.resource_id,
            "mtu": self.mtu,
            "mtu_max": self.rule.mtu_max,
            "sends_frag_needed": self.sends_frag_needed,
            "subnet_id": self.subnet_id,
            "address": self.address,
            "via": self.via,
            "note": self.rule.note,
            "citation": self.citation,
        }


class Verdict(enum.StrEnum):
    OK = "ok"
    MTU_MISMATCH = "mtu_mismatch"
    PMTUD_BLACKHOLE = "pmtud_blackhole"
    NO_ROUTE = "no_route"


@dataclass(frozen=True)
class NaclCrossing:
    """A NACL the frag-needed crosses on its way back to the sender, and how it decided."""

    network_acl_id: str
    subnet_id: str
    direction: Direction
    allowed: bool
    rule_label: str
    suggested_rule_number: int | None
    icmp_source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "network_acl_id": self.network_acl_id,
            "subnet_id": self.subnet_id,
            "direction": self.direction.value,
            "allowed": self.allowed,
            "deciding_rule": self.rule_label,
            "icmp_source": self.icmp_source,
        }


@dataclass(frozen=True)
class PathAnalysis:
    """The hops between two ends, the packet the sender sends, and what happens to it."""

    source: str
    destination: str
    port: int
    hops: tuple[Hop, ...]
    verdict: Verdict
    packet_size: int | None = None
    path_mtu: int | None = None
    limiting_hop: Hop | None = None
    blocking: tuple[NaclCrossing, ...] = ()
    no_route_reason: str = ""
    no_route_resource: str = ""
    assumptions: tuple[str, ...] = ()
    mtu_uncertain: bool = False
    """The limiting hop's MTU is a range (a VPN whose negotiated cipher and NAT-T are not known) and the
    packet fits its upper end: the black hole holds only for some of what the tunnel may negotiate."""
    mss_clamp: int | None = None

    @property
    def reachable(self) -> bool:
        """The static TCP verdict: is there a route there (and back)? MTU does not change it."""
        return self.verdict is not Verdict.NO_ROUTE

    @property
    def recommended_mss(self) -> int | None:
        return None if self.path_mtu is None else self.path_mtu - book.TCP_IP_HEADER_BYTES

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "port": self.port,
            "verdict": self.verdict.value,
            "packet_size": self.packet_size,
            "path_mtu": self.path_mtu,
            "recommended_mss": self.recommended_mss,
            "limiting_hop": self.limiting_hop.resource_id if self.limiting_hop else None,
            "hops": [h.to_dict() for h in self.hops],
            "blocking_nacls": [b.to_dict() for b in self.blocking],
            "no_route_reason": self.no_route_reason,
            "assumptions": list(self.assumptions),
            "mtu_uncertain": self.mtu_uncertain,
            "mss_clamp": self.mss_clamp,
        }

    def findings(self) -> list[Finding]:
        """MTU_MISMATCH / PMTUD_BLACKHOLE / NO_ROUTE with the hop, the figures and the fix."""
        return path_findings(self)

    def document(self) -> dict[str, Any]:
        """The JSON the CLI and the Lambda return: the analysis and its findings."""
        return {**self.to_dict(), "findings": [f.model_dump(mode="json") for f in self.findings()]}


@dataclass
class _Walk:
    hops: list[Hop] = field(default_factory=list)
    no_route: str = ""
    no_route_resource: str = ""
    assumptions: list[str] = field(default_factory=list)
    sender_subnet: str | None = None
    sender_address: str | None = None
    receiver_mtu: int | None = None
    vpn_connection_id: str | None = None
    site_link: str | None = None
    """The site registry's ``link`` (``vpn`` / ``direct_connect``), when given."""
    dx_mtu: int | None = None
    nat_traversal: bool | None = None


def _address_of(end: EndpointLike, index: TopologyIndex) -> IPAddress | None:
    if end.ip:
        return ipaddress.ip_address(end.ip)
    if end.cidr:
        network = ipaddress.ip_network(end.cidr, strict=False)
        # A host inside the range stands for it (the network address itself is never a host).
        return network.network_address + 1 if network.num_addresses > 2 else network.network_address
    if end.eni_id:
        eni = index.enis.get(end.eni_id)
        if eni is None:
            return None
        return ipaddress.ip_address(eni["PrivateIpAddress"])
    return None


def _describe(end: EndpointLike) -> str:
    return end.cidr or end.ip or end.eni_id or f"service:{end.service}"


def _eni_hop(eni: Record, index: TopologyIndex, *, via: str = "") -> Hop:
    rule = book.eni_rule(index.instance_type_of(eni))
    return Hop(
        HopKind.ENI, eni["NetworkInterfaceId"], rule, eni.get("SubnetId"), eni.get("PrivateIpAddress"), via
    )


def _route_label(table: Record, compiled: CompiledRoute) -> str:
    route = compiled.route
    destination = (
        route.get("DestinationCidrBlock") or route.get("DestinationPrefixListId") or str(compiled.network)
    )
    return f"{table['RouteTableId']}: {destination} → {_route_target(route)}"


def _route_target(route: Record) -> str:
    for key in (
        "GatewayId",
        "NatGatewayId",
        "TransitGatewayId",
        "VpcPeeringConnectionId",
        "NetworkInterfaceId",
        "InstanceId",
        "EgressOnlyInternetGatewayId",
        "LocalGatewayId",
        "CarrierGatewayId",
        "CoreNetworkArn",
    ):
        if route.get(key):
            return str(route[key])
    return "?"


def _destination_hops(
    destination: EndpointLike, address: IPAddress | None, index: TopologyIndex, via: str, walk: _Walk
) -> list[Hop]:
    """The far end once the path reaches the VPC fabric: the destination's ENI or its subnet."""
    eni = index.enis.get(destination.eni_id or "") or (index.eni_by_ip.get(str(address)) if address else None)
    if eni is not None:
        hop = _eni_hop(eni, index, via=via)
        walk.receiver_mtu = hop.mtu
        return [hop]
    subnet = index.subnet_of(address) if address else None
    if subnet is None:
        walk.no_route = f"{_describe(destination)} is not in any subnet of {index.topology.vpc_id}"
        walk.no_route_resource = index.topology.vpc_id
        return []
    walk.assumptions.append(f"no ENI holds {address}: its MTU is not known")
    return [Hop(HopKind.LOCAL, subnet["SubnetId"], book.LOCAL, subnet["SubnetId"], str(address), via)]


def _forward_from_subnet(
    subnet_id: str,
    destination: EndpointLike,
    address: IPAddress | None,
    index: TopologyIndex,
    walk: _Walk,
) -> None:
    """Follow route tables from a subnet until the path leaves the VPC or reaches the destination."""
    visited: set[str] = set()
    for _ in range(MAX_HOPS):
        table = index.route_table_for(subnet_id)
        if table is None:
            walk.no_route = f"subnet {subnet_id} has no route table"
            walk.no_route_resource = subnet_id
            return
        compiled = None
        if destination.service:
            compiled = index.service_route(table, destination.service)
            if compiled is None:
                endpoint = index.interface_endpoint_for(destination.service)
                if endpoint is not None:
                    walk.hops.append(
                        Hop(
                            HopKind.INTERFACE_ENDPOINT,
                            endpoint["VpcEndpointId"],
                            book.INTERFACE_ENDPOINT,
                            via=f"private DNS of {endpoint.get('ServiceName')}",
                        )
                    )
                    walk.hops.append(_service_hop(destination.service))
                    return
                compiled = index.longest_match(table, ipaddress.ip_address("8.8.8.8"))  # a public address
        elif address is not None:
            compiled = index.longest_match(table, address)
        if compiled is None:
            walk.no_route = f"{table['RouteTableId']} has no route to {_describe(destination)}"
            walk.no_route_resource = table["RouteTableId"]
            return
        route, label = compiled.route, _route_label(table, compiled)
        if route.get("State") == "blackhole":
            walk.no_route = f"{label} is a black-hole route (its target no longer exists)"
            walk.no_route_resource = table["RouteTableId"]
            return
        target = _route_target(route)
        if target in visited:
            walk.no_route = f"routing loop at {label}"
            walk.no_route_resource = table["RouteTableId"]
            return
        visited.add(target)
        next_subnet = _follow_target(
            target, label, destination=destination, address=address, index=index, walk=walk
        )
        if next_subnet is None:
            return
        subnet_id = next_subnet
    walk.no_route = f"more than {MAX_HOPS} hops"


def _service_hop(service: str) -> Hop:
    return Hop(
        HopKind.SERVICE,
        service,
        book.HopRule(HopKind.SERVICE, None, None, "the service's own network"),
    )


def _nat_hop(target: str, label: str, index: TopologyIndex, walk: _Walk) -> str | None:
    nat = index.nat_gateways.get(target, {})
    addresses = nat.get("NatGatewayAddresses") or [{}]
    walk.hops.append(
        Hop(
            HopKind.NAT_GATEWAY,
            target,
            book.NAT_GATEWAY,
            nat.get("SubnetId"),
            addresses[0].get("PrivateIp"),
            label,
        )
    )
    if not nat.get("SubnetId"):
        walk.no_route = f"NAT gateway {target} not found"
        walk.no_route_resource = target
        return None
    return str(nat["SubnetId"])


def _appliance_hop(target: str, label: str, index: TopologyIndex, walk: _Walk) -> str | None:
    eni = index.enis.get(target) or next(
        (
            e
            for e in index.topology.network_interfaces
            if (e.get("Attachment") or {}).get("InstanceId") == target
        ),
        None,
    )
    if eni is None:
        walk.no_route = f"{label}: appliance {target} not found"
        walk.no_route_resource = target
        return None
    rule = book.appliance_rule(index.instance_type_of(eni))
    walk.hops.append(
        Hop(HopKind.APPLIANCE, target, rule, eni.get("SubnetId"), eni.get("PrivateIpAddress"), label)
    )
    return str(eni["SubnetId"])


def _site_link_hop(
    gateway_id: str, address: IPAddress | None, index: TopologyIndex, walk: _Walk, *, via: str = ""
) -> Hop | None:
    """The VPN or Direct Connect hop between a VGW/TGW and the site (``site_link``), or None."""
    link = site_link(
        gateway_id, address, index, vpn_connection_id=walk.vpn_connection_id, link=walk.site_link
    )
    if link is None:
        return None
    if link.assumed:
        walk.assumptions.append(link.reason)
    if link.vpn is not None:
        rule = book.vpn_rule(link.vpn, nat_traversal=walk.nat_traversal)
        return Hop(HopKind.VPN, link.vpn["VpnConnectionId"], rule, via=via)
    transit = gateway_id.startswith("tgw-")
    attachment = index.direct_connect_attachment(gateway_id) if transit else None
    resource = str((attachment or {}).get("ResourceId") or gateway_id)
    rule = book.direct_connect_rule(walk.dx_mtu, transit=transit)
    return Hop(HopKind.DIRECT_CONNECT, resource, rule, via=via or link.reason)


def _follow_target(
    target: str,
    label: str,
    *,
    destination: EndpointLike,
    address: IPAddress | None,
    index: TopologyIndex,
    walk: _Walk,
) -> str | None:
    """Append the hop(s) of a route target; return the subnet to continue from, or None when done."""
    if target == "local":
        walk.hops.extend(_destination_hops(destination, address, index, label, walk))
        return None
    if target.startswith("igw-"):
        walk.hops.append(Hop(HopKind.INTERNET_GATEWAY, target, book.INTERNET_GATEWAY, via=label))
        if destination.service:
            walk.hops.append(_service_hop(destination.service))
        else:
            walk.hops.append(
                Hop(HopKind.INTERNET, str(address), book.HopRule(HopKind.INTERNET, None, None, "internet"))
            )
            walk.assumptions.append(f"the MTU of {address} is not known: assumed to accept the sender's")
        return None
    if target.startswith("nat-"):
        return _nat_hop(target, label, index, walk)
    if target.startswith(("vgw-", "tgw-")):
        if target.startswith("tgw-"):
            walk.hops.append(Hop(HopKind.TRANSIT_GATEWAY, target, book.TRANSIT_GATEWAY_FROM_VPC, via=label))
        link_hop = _site_link_hop(
            target, address, index, walk, via=target if target.startswith("tgw-") else label
        )
        if link_hop is None:
            walk.assumptions.append(f"the path continues beyond {target} (its route tables were not read)")
            return None
        walk.hops.append(link_hop)
        walk.hops.append(Hop(HopKind.SITE, str(address), book.site_rule(walk.receiver_mtu)))
        return None
    if target.startswith("pcx-"):
        peering = index.peerings.get(target, {})
        regions = {
            (peering.get("RequesterVpcInfo") or {}).get("Region"),
            (peering.get("AccepterVpcInfo") or {}).get("Region"),
        } - {None}
        walk.hops.append(
            Hop(HopKind.PEERING, target, book.peering_rule(inter_region=len(regions) > 1), via=label)
        )
        walk.assumptions.append(f"the peer VPC behind {target} was not read: its ENI MTU is not known")
        return None
    if target.startswith("vpce-"):
        endpoint = index.endpoints.get(target, {})
        if endpoint.get("VpcEndpointType") == "GatewayLoadBalancer":
            walk.hops.append(Hop(HopKind.GWLB_ENDPOINT, target, book.GWLB_ENDPOINT, via=label))
            walk.assumptions.append(f"appliances behind {target} were not followed")
            return None
        walk.hops.append(Hop(HopKind.GATEWAY_ENDPOINT, target, book.GATEWAY_ENDPOINT, via=label))
        walk.hops.append(_service_hop(destination.service or str(endpoint.get("ServiceName", target))))
        return None
    if target.startswith(("eni-", "i-")):
        return _appliance_hop(target, label, index, walk)
    walk.no_route = f"{label}: target kind not modelled"
    walk.no_route_resource = target
    return None


def _attached_gateways(index: TopologyIndex) -> list[str]:
    """The VPC's attached virtual private gateways, then the transit gateways it has an attachment to."""
    topology = index.topology
    vgws = [
        str(g["VpnGatewayId"])
        for g in topology.vpn_gateways
        for a in g.get("VpcAttachments") or ()
        if a.get("VpcId") == topology.vpc_id and a.get("State", "attached") == "attached"
    ]
    tgws = [
        str(a["TransitGatewayId"])
        for a in topology.transit_gateway_attachments
        if a.get("ResourceType") == "vpc" and a.get("ResourceId") == topology.vpc_id
    ]
    return list(dict.fromkeys(vgws + tgws))


def _site_gateway(
    source_address: IPAddress,
    destination: EndpointLike,
    destination_address: IPAddress | None,
    index: TopologyIndex,
    walk: _Walk,
) -> str | None:
    """The VGW or TGW that carries the site into the VPC; None: the internet gateway (or nothing).

    In order: the gateway of the site's own VPN connection; the target of the destination subnet's route
    back to the site (the route tables say which gateway carries it); an attached gateway with a VPN
    connection whose routes cover the site; any attached gateway that reaches a site (VPN or Direct Connect).
    """
    explicit = index.vpns.get(walk.vpn_connection_id or "")
    if explicit is not None and walk.site_link != "direct_connect":
        return explicit.get("VpnGatewayId") or explicit.get("TransitGatewayId")
    eni = index.enis.get(destination.eni_id or "")
    subnet = eni.get("SubnetId") if eni else None
    if subnet is None and destination_address is not None:
        subnet = (index.subnet_of(destination_address) or {}).get("SubnetId")
    table = index.route_table_for(subnet) if subnet else None
    back = index.longest_match(table, source_address) if table else None
    if back is not None and back.route.get("State") != "blackhole":
        target = _route_target(back.route)
        if target.startswith(("vgw-", "tgw-")):
            return target
        if target.startswith("igw-"):
            return None
    attached = _attached_gateways(index)
    links = {
        gateway: site_link(
            gateway,
            source_address,
            index,
            vpn_connection_id=walk.vpn_connection_id,
            link=walk.site_link,
        )
        for gateway in attached
    }
    for gateway, link in links.items():
        if link is not None and link.vpn is not None and not link.assumed:
            return gateway
    return next((gateway for gateway, link in links.items() if link is not None), None)


def _entry_from_outside(
    source_address: IPAddress,
    destination: EndpointLike,
    *,
    destination_address: IPAddress | None,
    index: TopologyIndex,
    walk: _Walk,
) -> None:
    """A source outside the VPC (a site): in over its VPN or Direct Connect (or the IGW), then on."""
    topology = index.topology
    gateway = _site_gateway(source_address, destination, destination_address, index, walk)
    entry_gateway: str | None
    walk.hops.append(Hop(HopKind.SITE, str(source_address), book.site_rule(None)))
    link_hop = _site_link_hop(gateway, source_address, index, walk) if gateway else None
    if gateway and link_hop is not None:
        walk.hops.append(link_hop)
        entry_gateway = gateway
        if gateway.startswith("tgw-"):
            attachment = "VPN" if link_hop.kind is HopKind.VPN else "Direct Connect gateway"
            walk.hops.append(
                Hop(HopKind.TRANSIT_GATEWAY, gateway, book.TRANSIT_GATEWAY, via=f"{attachment} attachment")
            )
    else:
        igw = next(
            (
                g
                for g in topology.internet_gateways
                if any(a.get("VpcId") == topology.vpc_id for a in g.get("Attachments") or ())
            ),
            None,
        )
        if igw is None:
            walk.no_route = (
                f"{source_address} is outside {topology.vpc_id} and no VPN, Direct Connect or internet "
                "gateway leads in"
            )
            walk.no_route_resource = topology.vpc_id
            return
        entry_gateway = igw["InternetGatewayId"]
        walk.hops.append(Hop(HopKind.INTERNET_GATEWAY, entry_gateway, book.INTERNET_GATEWAY))
    if destination.service:
        endpoint = index.interface_endpoint_for(destination.service)
        if endpoint is None:
            walk.no_route = (
                f"no interface endpoint for {destination.service} in {topology.vpc_id}; gateway endpoints "
                "and the internet gateway do not carry traffic arriving over a VPN or Direct Connect"
            )
            walk.no_route_resource = topology.vpc_id
            return
        walk.hops.append(Hop(HopKind.INTERFACE_ENDPOINT, endpoint["VpcEndpointId"], book.INTERFACE_ENDPOINT))
        walk.hops.append(_service_hop(destination.service))
        return
    far = _destination_hops(destination, destination_address, index, "local", walk)
    if not far:
        return
    walk.hops.extend(far)
    # The replies must find their way back: the destination subnet needs a route to the source.
    subnet_id = far[-1].subnet_id
    table = index.route_table_for(subnet_id) if subnet_id else None
    back = index.longest_match(table, source_address) if table else None
    if table is None or back is None:
        walk.no_route = (
            f"no return route to {source_address} in {table['RouteTableId'] if table else subnet_id}"
        )
        walk.no_route_resource = table["RouteTableId"] if table else str(subnet_id)
    elif back.route.get("State") == "blackhole":
        walk.no_route = f"return route {_route_label(table, back)} is a black hole"
        walk.no_route_resource = table["RouteTableId"]
    elif entry_gateway and _route_target(back.route) != entry_gateway:
        walk.assumptions.append(
            f"replies leave through {_route_target(back.route)}, not {entry_gateway} (asymmetric path)"
        )


def walk_path(
    topology: Topology,
    source: EndpointLike,
    destination: EndpointLike,
    *,
    vpn_connection_id: str | None = None,
    site_link: str | None = None,
    dx_mtu: int | None = None,
    nat_traversal: bool | None = None,
) -> _Walk:
    """The hops from source to destination (no verdict yet)."""
    index = topology.index
    walk = _Walk(
        vpn_connection_id=vpn_connection_id, site_link=site_link, dx_mtu=dx_mtu, nat_traversal=nat_traversal
    )
    source_address = _address_of(source, index)
    destination_address = _address_of(destination, index)
    if source.eni_id and source.eni_id not in index.enis:
        walk.no_route, walk.no_route_resource = f"{source.eni_id} not found", source.eni_id
        return walk
    if destination.eni_id and destination.eni_id not in index.enis:
        walk.no_route, walk.no_route_resource = f"{destination.eni_id} not found", destination.eni_id
        return walk
    if source_address is None:
        walk.no_route = f"cannot route from {_describe(source)}: give a CIDR, an IP or an ENI"
        return walk
    source_subnet = index.subnet_of(source_address)
    if source_subnet is None or not index.in_vpc(source_address):
        _entry_from_outside(
            source_address,
            destination,
            destination_address=destination_address,
            index=index,
            walk=walk,
        )
        return walk
    eni = index.enis.get(source.eni_id or "") or index.eni_by_ip.get(str(source_address))
    if eni is not None:
        first = _eni_hop(eni, index)
    else:
        walk.assumptions.append(f"no ENI holds {source_address}: the sender's MTU is not known")
        first = Hop(HopKind.LOCAL, source_subnet["SubnetId"], book.LOCAL, source_subnet["SubnetId"])
    walk.hops.append(first)
    walk.sender_subnet = source_subnet["SubnetId"]
    walk.sender_address = str(source_address)
    _forward_from_subnet(source_subnet["SubnetId"], destination, destination_address, index, walk)
    return walk


# ---------------------------------------------------------------------------------------------------------
# The verdict
# ---------------------------------------------------------------------------------------------------------


def _frag_needed_crossings(
    walk: _Walk, limiting_index: int, index: TopologyIndex, destination_address: IPAddress | None
) -> list[NaclCrossing]:
    """The NACLs the frag-needed from hop ``limiting_index`` crosses back to the sender, and their say.

    NACLs are stateless (VPC User Guide, 'Path MTU Discovery'): the ICMP must be allowed outbound of the
    subnet it leaves and inbound of each subnet it enters, up to the sender's. A hop with an address sends
    it from that address; an internet gateway relays it from any router beyond (0.0.0.0/0); other hops from
    an address on the way to the destination.
    """
    if walk.sender_subnet is None or walk.sender_address is None:
        return []
    limiting = walk.hops[limiting_index]
    sender = ipaddress.ip_address(walk.sender_address)
    if limiting.address:
        sources: IPNetwork = ipaddress.ip_network(limiting.address)
    elif limiting.kind is HopKind.INTERNET_GATEWAY or destination_address is None:
        sources = ANYWHERE
    else:
        sources = ipaddress.ip_network(destination_address)
    # Subnets on the way back: the limiting hop's own (out), intermediate hops' (in, out), the sender's (in).
    back = [
        limiting.subnet_id,
        *(h.subnet_id for h in reversed(walk.hops[1:limiting_index])),
        walk.sender_subnet,
    ]
    kept = subnet_crossings(back, starts_inside=limiting.subnet_id is not None, ends_inside=True)
    crossings = []
    for subnet_id, direction in kept:
        acl = index.nacl_by_subnet.get(subnet_id)
        if acl is None:
            continue
        entries = acl.get("Entries") or ()
        template = frag_needed(sources.network_address, sender)
        decision: NaclDecision | None
        if sources.num_addresses == 1:
            decision = nacl_admits(entries, template, direction)
            allowed = decision.allowed
        else:
            ranged = nacl_admits_range(entries, template, direction, sources)
            allowed, decision = ranged.fully_admitted, ranged.deciding
        before = decision.rule_number if decision and decision.rule_number is not None else 32767
        crossings.append(
            NaclCrossing(
                acl["NetworkAclId"],
                subnet_id,
                direction,
                allowed,
                decision.rule_label if decision else "allow",
                free_rule_number_before(entries, direction, before),
                str(sources),
            )
        )
    return crossings


# The packet AWS's generated customer gateway configurations let through: `tcp adjust-mss 1379` + 40.
AWS_CONFIG_PACKET = book.VPN_AWS_CONFIG_MSS + book.TCP_IP_HEADER_BYTES


def _fits_range(hop: Hop, size: int, mss_clamp: int | None) -> str | None:
    """Why a ``size``-byte packet may still fit a hop known only as an MTU range; None when it cannot."""
    span = hop.rule.mtu_range
    if span is None or not span[0] < size <= span[1]:
        return None
    what = f"MSS clamp {mss_clamp} ({size}-byte packets)" if mss_clamp is not None else f"{size}-byte packets"
    return (
        f"{what} fit {hop.kind.value} {hop.resource_id} only if its tunnels negotiated a cipher and NAT-T "
        f"case with an MTU of at least {size} (its MTU is {span[0]}–{span[1]}: {hop.rule.note}); verify the "
        f"negotiated phase 2 algorithms, or clamp to {span[0] - book.TCP_IP_HEADER_BYTES} to fit every case"
    )


_ENDPOINT_KINDS = frozenset({HopKind.ENI, HopKind.SITE, HopKind.INTERNET, HopKind.SERVICE, HopKind.LOCAL})


def analyse_path(
    topology: Topology,
    source: EndpointLike,
    destination: EndpointLike,
    *,
    port: int = 443,
    source_mtu: int | None = None,
    destination_mtu: int | None = None,
    mss_clamp: int | None = None,
    vpn_connection_id: str | None = None,
    site_link: str | None = None,
    dx_mtu: int | None = None,
    nat_traversal: bool | None = None,
) -> PathAnalysis:
    """List the hops from ``source`` to ``destination`` and decide whether large packets get through.

    ``source_mtu`` is the MTU the sender sends with (a site's ``wan_mtu``, a host's measurement; default:
    its ENI's from the instance type). ``destination_mtu`` overrides the receiver's (TCP's MSS caps what the
    sender sends at the receiver's MTU). ``mss_clamp``: an MSS clamp known to be in place on the path.
    ``vpn_connection_id``, ``site_link`` (``vpn`` / ``direct_connect``), ``dx_mtu`` and ``nat_traversal``:
    what the site registry says about how the site is connected (``site_link`` decides the VPN or Direct
    Connect hop; ``nat_traversal`` narrows the VPN hop's MTU range).
    """
    walk = walk_path(
        topology,
        source,
        destination,
        vpn_connection_id=vpn_connection_id,
        site_link=site_link,
        dx_mtu=dx_mtu,
        nat_traversal=nat_traversal,
    )
    hops = list(walk.hops)
    # The ends' MTUs from the caller override the rule book's guesses.
    if hops and source_mtu is not None:
        first = hops[0]
        hops[0] = Hop(
            first.kind,
            first.resource_id,
            HopRule(first.rule.kind, source_mtu, first.rule.sends_frag_needed, "given by the caller"),
            first.subnet_id,
            first.address,
            first.via,
        )
    walk.hops = hops
    common = {
        "source": _describe(source),
        "destination": _describe(destination),
        "port": port,
        "assumptions": tuple(walk.assumptions),
        "mss_clamp": mss_clamp,
    }
    if walk.no_route:
        return PathAnalysis(
            hops=tuple(hops),
            verdict=Verdict.NO_ROUTE,
            no_route_reason=walk.no_route,
            no_route_resource=walk.no_route_resource,
            **common,  # type: ignore[arg-type]
        )
    sender_mtu = hops[0].mtu if hops else None
    receiver_mtu = destination_mtu if destination_mtu is not None else walk.receiver_mtu
    if hops and hops[-1].kind in (HopKind.ENI, HopKind.SITE) and destination_mtu is None:
        receiver_mtu = hops[-1].mtu
    candidates = [m for m in (sender_mtu, receiver_mtu) if m is not None]
    if mss_clamp is not None:
        candidates.append(mss_clamp + book.TCP_IP_HEADER_BYTES)
    packet = min(candidates) if candidates else None
    # The hops between the ends; a walk that stops at a gateway (TGW, peering, GWLB) has no far end listed.
    ends_at_endpoint = bool(hops) and hops[-1].kind in _ENDPOINT_KINDS
    middle = hops[1:-1] if ends_at_endpoint else hops[1:]
    path_mtu = book.smallest_mtu([h.rule for h in middle])
    if packet is None or path_mtu is None or packet <= path_mtu:
        return PathAnalysis(
            hops=tuple(hops),
            verdict=Verdict.OK,
            packet_size=packet,
            path_mtu=path_mtu,
            **common,  # type: ignore[arg-type]
        )
    # Walk the hops as PMTUD would: each smaller hop must tell the sender, who then sends smaller.
    index = topology.index
    destination_address = _address_of(destination, index)
    size = packet
    first_limiting: Hop | None = None
    for position, hop in enumerate(middle, start=1):
        if hop.mtu is None or hop.mtu >= size:
            continue
        first_limiting = first_limiting or hop
        if hop.sends_frag_needed is False:
            fits = _fits_range(hop, size, mss_clamp)
            if fits is not None:
                common["assumptions"] = (*walk.assumptions, fits)
            if fits is not None and mss_clamp is not None and size <= AWS_CONFIG_PACKET:
                # AWS's own generated device configuration: not a black hole, a caveat to verify.
                return PathAnalysis(
                    hops=tuple(hops),
                    verdict=Verdict.OK,
                    packet_size=packet,
                    path_mtu=path_mtu,
                    **common,  # type: ignore[arg-type]
                )
            return PathAnalysis(
                hops=tuple(hops),
                verdict=Verdict.PMTUD_BLACKHOLE,
                packet_size=packet,
                path_mtu=path_mtu,
                limiting_hop=hop,
                mtu_uncertain=fits is not None,
                **common,  # type: ignore[arg-type]
            )
        crossings = _frag_needed_crossings(walk, position, index, destination_address)
        denied = tuple(c for c in crossings if not c.allowed)
        if denied:
            return PathAnalysis(
                hops=tuple(hops),
                verdict=Verdict.PMTUD_BLACKHOLE,
                packet_size=packet,
                path_mtu=path_mtu,
                limiting_hop=hop,
                blocking=denied,
                **common,  # type: ignore[arg-type]
            )
        size = hop.mtu
    return PathAnalysis(
        hops=tuple(hops),
        verdict=Verdict.MTU_MISMATCH,
        packet_size=packet,
        path_mtu=path_mtu,
        limiting_hop=first_limiting,
        **common,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------------------


def _hop_evidence(analysis: PathAnalysis) -> Evidence:
    summary = " → ".join(
        f"{h.kind.value}:{h.resource_id}" + (f" ({h.mtu})" if h.mtu is not None else "")
        for h in analysis.hops
    )
    return Evidence(
        kind="hop",
        summary=summary,
        resource_ids=tuple(h.resource_id for h in analysis.hops),
        data={"hops": [h.to_dict() for h in analysis.hops], "assumptions": list(analysis.assumptions)},
    )


def _nacl_commands(crossings: Sequence[NaclCrossing]) -> tuple[str, ...]:
    commands = []
    for c in crossings:
        number = c.suggested_rule_number or 1
        flag = "--ingress" if c.direction is Direction.INBOUND else "--egress"
        commands.append(
            f"aws ec2 create-network-acl-entry --network-acl-id {c.network_acl_id} --rule-number {number} "
            f"--protocol 1 --icmp-type-code Type=3,Code=4 --cidr-block {c.icmp_source} "
            f"--rule-action allow {flag}"
        )
    return tuple(commands)


def _mtu_fix_steps(analysis: PathAnalysis, hop: Hop) -> tuple[str, ...]:
    assert hop.mtu is not None
    mss = hop.mtu - book.TCP_IP_HEADER_BYTES
    sender = analysis.hops[0]
    steps = [
        (
            f"Clamp TCP MSS to {mss} on the router in front of the {hop.kind.value} hop "
            "(e.g. `iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS "
            f"--set-mss {mss}`; "
            f"Cisco: `ip tcp adjust-mss {mss}`)."
        ),
        (
            f"Or set the MTU of the sender's interface toward this path to {hop.mtu} "
            f"(e.g. `ip link set dev <iface> mtu {hop.mtu}`; sender: {sender.kind.value} "
            f"{sender.resource_id})."
        ),
    ]
    if hop.kind is HopKind.VPN:
        steps.append(
            f"AWS-generated customer gateway configurations set `tcp adjust-mss {book.VPN_AWS_CONFIG_MSS}`; "
            f"{mss} fits every cipher the tunnel may negotiate."
        )
    return tuple(steps)


def path_findings(analysis: PathAnalysis) -> list[Finding]:
    """The findings a path analysis supports, each with its hop, figures and fix."""
    evidence = _hop_evidence(analysis)
    if analysis.verdict is Verdict.NO_ROUTE:
        return [
            Finding(
                code=FindingCode.NO_ROUTE,
                severity=Severity.CRITICAL,
                confidence=0.9,
                title=f"No route from {analysis.source} to {analysis.destination}",
                detail=analysis.no_route_reason,
                resource_ids=(analysis.no_route_resource,) if analysis.no_route_resource else (),
                evidence=(evidence,),
                remediation=Remediation(
                    summary="Add the missing route (or replace the black-hole route) toward the destination.",
                    commands=(
                        f"aws ec2 describe-route-tables --route-table-ids {analysis.no_route_resource}"
                        if analysis.no_route_resource.startswith("rtb-")
                        else "aws ec2 describe-route-tables",
                        (
                            "aws ec2 create-route --route-table-id <rtb-…> --destination-cidr-block <CIDR> "
                            "--gateway-id <igw-/vgw-…> (or --transit-gateway-id / --nat-gateway-id)"
                        ),
                    ),
                ),
            )
        ]
    hop = analysis.limiting_hop
    if analysis.verdict is Verdict.OK or hop is None or hop.mtu is None:
        return []
    figures = (
        f"the sender sends {analysis.packet_size}-byte packets; {hop.kind.value} {hop.resource_id} carries "
        f"at most {hop.mtu} ({hop.rule.note}; {hop.citation})"
    )
    evidence_items: tuple[Evidence, ...] = (evidence,)
    fix_steps = _mtu_fix_steps(analysis, hop)
    findings = []
    if analysis.verdict is Verdict.PMTUD_BLACKHOLE:
        if analysis.blocking:
            why = "; ".join(
                f"{c.network_acl_id} ({c.subnet_id}) {c.direction.value} rule {c.rule_label} denies ICMP 3/4 "
                f"from {c.icmp_source}"
                for c in analysis.blocking
            )
            evidence_items += (
                Evidence(
                    kind="nacl_entry",
                    summary=why,
                    resource_ids=tuple(c.network_acl_id for c in analysis.blocking),
                    data={"crossings": [c.to_dict() for c in analysis.blocking]},
                ),
            )
            detail = (
                f"{figures}. The frag-needed it sends cannot reach the sender: {why} ({book.DOC_NACL_PMTUD})."
            )
            remediation = Remediation(
                summary="Allow ICMP type 3 code 4 through the NACLs on the way back (AWS recommends it in "
                "both directions), or clamp MSS / lower the MTU so no packet needs it.",
                steps=fix_steps,
                commands=_nacl_commands(analysis.blocking),
            )
        else:
            detail = f"{figures}. This hop never sends ICMP frag-needed, so PMTUD cannot adapt the sender."
            remediation = Remediation(
                summary=f"Clamp TCP MSS to {hop.mtu - book.TCP_IP_HEADER_BYTES} or lower the sender's MTU to "
                f"{hop.mtu}: nothing on this path will tell the sender.",
                steps=fix_steps,
            )
        resource_ids = (hop.resource_id, *(c.network_acl_id for c in analysis.blocking))
        span = hop.rule.mtu_range
        mtu_text = f"{span[0]}–{span[1]}" if span and span[1] > span[0] else str(hop.mtu)
        if analysis.mtu_uncertain:
            detail += f" Uncertain: {analysis.assumptions[-1] if analysis.assumptions else mtu_text}."
        # The configuration alone is a risk (docs/severity.md): the investigation raises it to high or
        # critical only with symptoms of drops in its window (rules/ranking.py).
        findings.append(
            Finding(
                code=FindingCode.PMTUD_BLACKHOLE,
                severity=Severity.WARNING,
                confidence=0.5 if analysis.mtu_uncertain else 0.85,
                title=f"{'Possible ' if analysis.mtu_uncertain else ''}PMTUD black hole at {hop.kind.value} "
                f"{hop.resource_id} (MTU {mtu_text} < {analysis.packet_size}): works only if every sender "
                f"clamps MSS to ≤ {hop.mtu - book.TCP_IP_HEADER_BYTES}",
                detail=detail,
                resource_ids=resource_ids,
                evidence=evidence_items,
                remediation=remediation,
            )
        )
    works = analysis.verdict is Verdict.MTU_MISMATCH
    findings.append(
        Finding(
            code=FindingCode.MTU_MISMATCH,
            severity=Severity.WARNING,
            confidence=0.7 if works else 0.8,
            title=f"{hop.kind.value} {hop.resource_id} (MTU {hop.mtu}) is smaller than the "
            f"{analysis.packet_size}-byte packets sent",
            detail=figures
            + (
                ". The hop sends frag-needed and the way back admits it: PMTUD works, at the cost of a "
                "dropped packet and a retransmission per new path."
                if works
                else ". PMTUD cannot cover it (see PMTUD_BLACKHOLE)."
            ),
            resource_ids=(hop.resource_id,),
            evidence=(evidence,),
            remediation=Remediation(
                summary=f"Send at most {hop.mtu}-byte packets on this path (MSS "
                f"{hop.mtu - book.TCP_IP_HEADER_BYTES}).",
                steps=fix_steps,
            ),
        )
    )
    return findings


# ---------------------------------------------------------------------------------------------------------
# The sender's MTU for a site
# ---------------------------------------------------------------------------------------------------------


def choose_source_mtu(
    *,
    given: int | None = None,
    wan_mtu: int | None = None,
    expected_mtus: Mapping[str, int] | None = None,
    measured_mtus: Mapping[str, int | None] | None = None,
) -> tuple[int | None, str]:
    """The MTU a site's hosts send with, and where it comes from.

    In order: the request's ``given`` MTU; what the host agent measured (``measured_mtus``: the largest
    ``InterfaceMtu`` over the window per interface of the registry's ``expected_mtus``, the interfaces the
    operator says carry the site's traffic; the largest of them, since that is what TCP advertises); the
    registry's ``wan_mtu`` (declared); the largest of the registry's ``expected_mtus`` (an expectation, not
    confirmed by the agent). None: the receiver's MTU bounds what is sent (TCP's MSS).
    """
    if given is not None:
        return given, "the request's source_mtu"
    expected = dict(expected_mtus or {})
    measured = {name: mtu for name, mtu in (measured_mtus or {}).items() if mtu is not None}
    if measured:
        name = max(measured, key=lambda n: measured[n])
        want = expected.get(name)
        versus = (
            f", the registry expects {want}"
            if want is not None and want != measured[name]
            else " (as the registry expects)"
            if want is not None
            else ""
        )
        return measured[name], f"the host agent measured {name} at {measured[name]} (InterfaceMtu){versus}"
    if wan_mtu is not None:
        return wan_mtu, "the site registry's wan_mtu (declared, not measured)"
    if expected:
        name = max(expected, key=lambda n: expected[n])
        return expected[name], (
            f"the site registry's expected_mtus ({name}: {expected[name]}), not confirmed by the host agent "
            "(no InterfaceMtu in the window)"
        )
    return None, "not known: the receiver's MTU bounds what is sent (TCP MSS)"
