"""The ends of a path as the VPC's records know them: their address, their ENIs, their instances (pure).

An investigation's source and destination are given as a CIDR, an IP, an ENI, an instance or a subnet
(``context.Endpoint``). The checks beyond PMTUD need them in other forms: the transit gateway route lookup
an address, the CloudWatch agent's network allowances the instances behind an end, the connection-tracking
check the ENIs. Everything here reads the ``describe_*`` records of ``rules/path.Topology``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from dropsleuth.rules.path import Topology

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_INSTANCES_PER_END = 20
"""A CIDR end (a subnet) can hold many instances; the allowance check reads at most this many."""


def _eni_addresses(eni: Mapping[str, Any]) -> tuple[str, ...]:
    found = [
        str(p["PrivateIpAddress"]) for p in eni.get("PrivateIpAddresses") or () if p.get("PrivateIpAddress")
    ]
    if eni.get("PrivateIpAddress"):
        found.insert(0, str(eni["PrivateIpAddress"]))
    return tuple(dict.fromkeys(found))


def end_address(end: Any, topology: Topology) -> str | None:
    """The end as an address: an IP or a CIDR; None for a service or an id the records do not hold."""
    if getattr(end, "ip", None):
        return str(end.ip)
    if getattr(end, "cidr", None):
        return str(end.cidr)
    for eni in end_enis(end, topology):
        addresses = _eni_addresses(eni)
        if addresses:
            return addresses[0]
    subnet_id = getattr(end, "subnet_id", None)
    subnet = next((s for s in topology.subnets if subnet_id and s.get("SubnetId") == subnet_id), None)
    return str(subnet["CidrBlock"]) if subnet and subnet.get("CidrBlock") else None


def _network(value: str) -> Network:
    return ipaddress.ip_network(value, strict=False)


def _overlaps(address: str, network: Network) -> bool:
    wanted = _network(address)
    return wanted.version == network.version and wanted.overlaps(network)


def end_enis(end: Any, topology: Topology) -> tuple[Mapping[str, Any], ...]:
    """The VPC's ENIs behind an end: the ENI itself, the instance's, those holding the IP or inside the CIDR
    or subnet (at most ``MAX_INSTANCES_PER_END`` for a range)."""
    eni_id = getattr(end, "eni_id", None)
    instance_id = getattr(end, "instance_id", None)
    subnet_id = getattr(end, "subnet_id", None)
    ip = getattr(end, "ip", None)
    cidr = getattr(end, "cidr", None)
    enis = topology.network_interfaces
    if eni_id:
        return tuple(e for e in enis if e.get("NetworkInterfaceId") == eni_id)
    if instance_id:
        return tuple(e for e in enis if (e.get("Attachment") or {}).get("InstanceId") == instance_id)
    if ip:
        return tuple(e for e in enis if str(ipaddress.ip_address(ip)) in _eni_addresses(e))
    if subnet_id:
        return tuple(e for e in enis if e.get("SubnetId") == subnet_id)[:MAX_INSTANCES_PER_END]
    if cidr:
        network = _network(str(cidr))
        return tuple(e for e in enis if any(_overlaps(a, network) for a in _eni_addresses(e)))[
            :MAX_INSTANCES_PER_END
        ]
    return ()


def end_instances(end: Any, topology: Topology) -> tuple[str, ...]:
    """The EC2 instances behind an end (the instance itself, else the instances its ENIs are attached to)."""
    if getattr(end, "instance_id", None):
        return (str(end.instance_id),)
    return tuple(
        dict.fromkeys(
            str((eni.get("Attachment") or {})["InstanceId"])
            for eni in end_enis(end, topology)
            if (eni.get("Attachment") or {}).get("InstanceId")
        )
    )


def vpc_networks(topology: Topology) -> tuple[Network, ...]:
    """The VPC's own CIDR blocks (IPv4 associations and IPv6)."""
    found: list[str] = []
    for vpc in topology.vpcs:
        if vpc.get("CidrBlock"):
            found.append(str(vpc["CidrBlock"]))
        found.extend(
            str(a["CidrBlock"])
            for a in vpc.get("CidrBlockAssociationSet") or ()
            if a.get("CidrBlock")
            and (a.get("CidrBlockState") or {}).get("State", "associated") == "associated"
        )
        found.extend(
            str(a["Ipv6CidrBlock"])
            for a in vpc.get("Ipv6CidrBlockAssociationSet") or ()
            if a.get("Ipv6CidrBlock")
        )
    return tuple(_network(c) for c in dict.fromkeys(found))


def inside_vpc(address: str, topology: Topology) -> bool:
    return any(_overlaps(address, network) for network in vpc_networks(topology))


def covering_cidr(address: str, cidrs: tuple[str, ...] | list[str]) -> str:
    """The most specific of ``cidrs`` that contains ``address``; else the address itself as a CIDR."""
    wanted = _network(address)
    containing = [
        _network(c)
        for c in cidrs
        if _network(c).version == wanted.version and wanted.subnet_of(_network(c))  # type: ignore[arg-type]
    ]
    return str(max(containing, key=lambda n: n.prefixlen)) if containing else str(wanted)
