"""Fixes for moto bugs that would otherwise hide exactly what dropsleuth looks for.

- NACL ICMP: moto 5.2 accepts a NACL entry's ``IcmpTypeCode`` but reads it back from the wrong request
  parameter (``Icmp.Code`` / ``Icmp.Type`` instead of ``IcmpTypeCode.Code`` / ``.Type``), so
  ``describe_network_acls`` returns ICMP entries without their type and code (docs/reference/aws-facts.md,
  "moto").
- Subnet IPv6 state: moto 5.2 nests the whole state dict into the state string, so ``describe_subnets``
  returns ``Ipv6CidrBlockState: {"State": "{'State': 'associated'}"}`` where EC2 returns
  ``{"State": "associated"}`` (EC2 API Reference, SubnetCidrBlockState); a subnet's IPv6 block then looks
  unassociated and the ICMPv6 half of the audit never runs.
- NAT gateway address: moto 5.2 ignores ``CreateNatGateway``'s ``PrivateIpAddress`` and gives the
  gateway's interface a random 10.x address, outside its subnet; EC2 uses the address asked for (EC2 API
  Reference, CreateNatGateway). Flow-log records on the gateway's interface carry that address, so the
  account and its records must agree.
- Network Load Balancer ARNs: moto 5.2 names every load balancer ``loadbalancer/app/NAME/ID``; a Network
  Load Balancer's is ``loadbalancer/net/NAME/ID``, and its CloudWatch dimension ``LoadBalancer`` is that
  ``net/NAME/ID`` (ELB User Guide for Network Load Balancers, "CloudWatch metrics").
- Transit gateway routes: moto 5.2 keeps a static route's attachment as one object where EC2 returns a list
  (``TransitGatewayAttachments``, EC2 API Reference, TransitGatewayRoute), so ``SearchTransitGatewayRoutes``
  answers every route with no attachment and a route to a VPC looks like one to nowhere.

The embedded demo account and the tests apply these patches; they are idempotent and touch nothing else.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_RENAMED = {"Icmp.Code": "IcmpTypeCode.Code", "Icmp.Type": "IcmpTypeCode.Type"}
_PATCHED_MARK = "_dropsleuth_icmp_fix"


def apply_moto_fixes() -> None:
    """Patch moto so NACL ICMP type/code, subnet IPv6 states, NAT gateway addresses, NLB ARNs and transit
    gateway routes' attachments come back as AWS's do."""
    _fix_nacl_icmp_type_code()
    _fix_subnet_ipv6_state()
    _fix_nat_gateway_private_ip()
    _fix_network_load_balancer_arn()
    _fix_transit_gateway_route_attachments()


def _fix_nacl_icmp_type_code() -> None:
    from moto.ec2.responses.network_acls import NetworkACLs  # noqa: PLC0415 -- moto is a dev/demo dependency

    if getattr(NetworkACLs, _PATCHED_MARK, False):
        return
    original = NetworkACLs._get_param

    def _get_param(self: Any, param_name: str, if_none: Any = None) -> Any:
        if param_name in _RENAMED:
            value = original(self, _RENAMED[param_name], None)
            if value is not None:
                return value
        return original(self, param_name, if_none)

    NetworkACLs._get_param = _get_param  # type: ignore[method-assign]
    setattr(NetworkACLs, _PATCHED_MARK, True)


def _fix_subnet_ipv6_state() -> None:
    from moto.ec2.models.subnets import Subnet  # noqa: PLC0415 -- moto is a dev/demo dependency

    if getattr(Subnet, _PATCHED_MARK, False):
        return

    def ipv6_cidr_block_association_set(self: Any) -> list[dict[str, Any]]:
        return [
            {
                "ipv6CidrBlock": association["ipv6CidrBlock"],
                "associationId": association["associationId"],
                "ipv6CidrBlockState": {"state": association["ipv6CidrBlockState"]["State"]},
            }
            for association in self.ipv6_cidr_block_associations.values()
            if association["ipv6CidrBlockState"]["State"] == "associated"
        ]

    Subnet.ipv6_cidr_block_association_set = property(ipv6_cidr_block_association_set)  # type: ignore[method-assign,assignment]
    setattr(Subnet, _PATCHED_MARK, True)


_REQUESTED_NAT_IP: ContextVar[str | None] = ContextVar("requested_nat_ip", default=None)


def _fix_nat_gateway_private_ip() -> None:
    # moto draws the gateway's address from ``random_private_ip``, imported into its module by name: that
    # name answers the requested address while the request is being served, and moto's own otherwise.
    from moto.ec2.models import nat_gateways as models  # noqa: PLC0415 -- moto is a dev/demo dependency
    from moto.ec2.responses.nat_gateways import NatGateways  # noqa: PLC0415

    if getattr(NatGateways, _PATCHED_MARK, False):
        return
    random_private_ip = getattr(models, "random_private_ip")  # noqa: B009 -- imported there, not exported
    create = NatGateways.create_nat_gateway

    def private_ip(*args: Any, **kwargs: Any) -> str:
        return _REQUESTED_NAT_IP.get() or random_private_ip(*args, **kwargs)

    def create_nat_gateway(self: Any) -> Any:
        token = _REQUESTED_NAT_IP.set(self._get_param("PrivateIpAddress"))
        try:
            return create(self)
        finally:
            _REQUESTED_NAT_IP.reset(token)

    setattr(models, "random_private_ip", private_ip)  # noqa: B010 -- the name moto's module looks up
    NatGateways.create_nat_gateway = create_nat_gateway  # type: ignore[method-assign]
    setattr(NatGateways, _PATCHED_MARK, True)


def _fix_network_load_balancer_arn() -> None:
    from moto.elbv2.models import ELBv2Backend  # noqa: PLC0415 -- moto is a dev/demo dependency

    if getattr(ELBv2Backend, _PATCHED_MARK, False):
        return
    create = ELBv2Backend.create_load_balancer

    def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        balancer = create(self, *args, **kwargs)
        if balancer.type != "network":
            return balancer
        old = balancer.arn
        new = old.replace(":loadbalancer/app/", ":loadbalancer/net/", 1)
        tags = self.tagging_service.list_tags_for_resource(old)["Tags"]
        self.tagging_service.delete_all_tags_for_resource(old)
        self.load_balancers[new] = self.load_balancers.pop(old)
        balancer.arn = new
        self.tagging_service.tag_resource(new, tags)
        return balancer

    ELBv2Backend.create_load_balancer = create_load_balancer  # type: ignore[method-assign]
    setattr(ELBv2Backend, _PATCHED_MARK, True)


def _fix_transit_gateway_route_attachments() -> None:
    from moto.ec2.models.transit_gateway_route_tables import (  # noqa: PLC0415 -- moto: dev/demo only
        TransitGatewayRouteTableBackend,
    )

    if getattr(TransitGatewayRouteTableBackend, _PATCHED_MARK, False):
        return
    create = TransitGatewayRouteTableBackend.create_transit_gateway_route

    def create_transit_gateway_route(self: Any, *args: Any, **kwargs: Any) -> Any:
        route = create(self, *args, **kwargs)
        attachment = route.get("transitGatewayAttachments")
        if isinstance(attachment, dict):
            route["transitGatewayAttachments"] = [attachment]
        return route

    TransitGatewayRouteTableBackend.create_transit_gateway_route = create_transit_gateway_route  # type: ignore[method-assign]
    setattr(TransitGatewayRouteTableBackend, _PATCHED_MARK, True)
