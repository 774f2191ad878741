"""Fixes for moto bugs that would otherwise hide exactly what dropsleuth looks for.

- NACL ICMP: moto 5.2 accepts a NACL entry's ``IcmpTypeCode`` but reads it back from the wrong request
  parameter (``Icmp.Code`` / ``Icmp.Type`` instead of ``IcmpTypeCode.Code`` / ``.Type``), so
  ``describe_network_acls`` returns ICMP entries without their type and code (docs/reference/aws-facts.md,
  "moto").
- Subnet IPv6 state: moto 5.2 nests the whole state dict into the state string, so ``describe_subnets``
  returns ``Ipv6CidrBlockState: {"State": "{'State': 'associated'}"}`` where EC2 returns
  ``{"State": "associated"}`` (EC2 API Reference, SubnetCidrBlockState); a subnet's IPv6 block then looks
  unassociated and the ICMPv6 half of the audit never runs.

The embedded demo account and the tests apply these patches; they are idempotent and touch nothing else.
"""

from __future__ import annotations

from typing import Any

_RENAMED = {"Icmp.Code": "IcmpTypeCode.Code", "Icmp.Type": "IcmpTypeCode.Type"}
_PATCHED_MARK = "_dropsleuth_icmp_fix"


def apply_moto_fixes() -> None:
    """Patch moto so NACL ICMP type/code and subnet IPv6 association states round-trip as EC2's do."""
    _fix_nacl_icmp_type_code()
    _fix_subnet_ipv6_state()


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
