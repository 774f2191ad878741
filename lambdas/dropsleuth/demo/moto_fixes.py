"""Fixes for moto bugs that would otherwise hide exactly what dropsleuth looks for.

moto 5.2 accepts a NACL entry's ``IcmpTypeCode`` but reads it back from the wrong request parameter
(``Icmp.Code`` / ``Icmp.Type`` instead of ``IcmpTypeCode.Code`` / ``.Type``), so ``describe_network_acls``
returns ICMP entries without their type and code (FACTS.md, "NACL ICMP bug"). The embedded demo account and
the tests apply this patch; it is idempotent and touches nothing else.
"""

from __future__ import annotations

from typing import Any

_RENAMED = {"Icmp.Code": "IcmpTypeCode.Code", "Icmp.Type": "IcmpTypeCode.Type"}
_PATCHED_MARK = "_dropsleuth_icmp_fix"


def apply_moto_fixes() -> None:
    """Patch moto's NetworkACLs response handler so ICMP type/code round-trip."""
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
