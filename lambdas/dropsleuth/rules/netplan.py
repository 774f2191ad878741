"""Pre-change validation of a netplan file: MTUs where they were meant to go, VLANs within their parent's
MTU, and the default route left on the interface that carries it today.

Pure functions over the parsed YAML (netplan's ``network:`` mapping) and the expected MTUs; the CLI reads
the file and the current default-route interface. Netplan reference: an interface without ``mtu`` keeps
the kernel default, 1500 on Ethernet; a VLAN's ``link`` names its parent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity

DEFAULT_MTU = 1500
_SECTIONS = ("ethernets", "bonds", "bridges", "vlans", "vrfs", "wifis", "tunnels")


@dataclass(frozen=True)
class NetplanInterface:
    name: str
    section: str
    mtu: int | None
    link: str | None
    default_route: bool


def interfaces_of(document: Mapping[str, Any]) -> dict[str, NetplanInterface]:
    """Every interface the file declares, with its MTU, VLAN parent and whether it has a default route."""
    network = document.get("network", document) if isinstance(document, Mapping) else {}
    result: dict[str, NetplanInterface] = {}
    for section in _SECTIONS:
        for name, declared in (network.get(section) or {}).items():
            settings = declared or {}
            routes = settings.get("routes") or []
            default = any(
                str(route.get("to", "")) in ("default", "0.0.0.0/0", "::/0") for route in routes if route
            ) or bool(settings.get("gateway4") or settings.get("gateway6"))
            mtu = settings.get("mtu")
            result[str(name)] = NetplanInterface(
                str(name),
                section,
                int(mtu) if mtu is not None else None,
                str(settings["link"]) if settings.get("link") else None,
                default,
            )
    return result


def _finding(
    code: FindingCode, severity: Severity, title: str, *, detail: str, name: str, fix: str
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        confidence=0.9,
        title=title,
        detail=detail,
        resource_ids=(name,),
        evidence=(Evidence(kind="netplan", summary=title, resource_ids=(name,)),),
        remediation=Remediation(summary=fix),
    )


def check_netplan(
    document: Mapping[str, Any], expected: Mapping[str, int], current_default: str | None = None
) -> list[Finding]:
    """Findings for a netplan file about to be applied (empty when it is safe on these counts)."""
    declared = interfaces_of(document)
    found: list[Finding] = []
    for name, want in sorted(expected.items()):
        iface = declared.get(name)
        effective = iface.mtu if iface and iface.mtu is not None else DEFAULT_MTU
        if iface is None and want == DEFAULT_MTU:
            continue
        if effective == want:
            continue
        elsewhere = sorted(n for n, i in declared.items() if i.mtu == want and n not in expected)
        where = f"; MTU {want} is set on {', '.join(elsewhere)} instead" if elsewhere else ""
        found.append(
            _finding(
                FindingCode.INTERFACE_MTU_UNEXPECTED,
                Severity.HIGH,
                f"{name} would get MTU {effective}, expected {want}{where}",
                detail=f"after this change {name} runs with MTU {effective}"
                + (" (netplan sets none: the kernel default)" if iface is None or iface.mtu is None else "")
                + f"{where}. A host whose MTU is larger than its path's relies on ICMP frag-needed, which "
                "a VPN or firewall may drop: a PMTUD black hole.",
                name=name,
                fix=f"set `mtu: {want}` under {name}"
                + (f" and remove it from {', '.join(elsewhere)}" if elsewhere else ""),
            )
        )
    for name, iface in sorted(declared.items()):
        if iface.section != "vlans" or iface.link is None or iface.mtu is None:
            continue
        parent = declared.get(iface.link)
        parent_mtu = parent.mtu if parent and parent.mtu is not None else DEFAULT_MTU
        if iface.mtu > parent_mtu:
            found.append(
                _finding(
                    FindingCode.INTERFACE_MTU_UNEXPECTED,
                    Severity.HIGH,
                    f"VLAN {name} has MTU {iface.mtu}, above its parent {iface.link}'s {parent_mtu}",
                    detail="the kernel refuses a VLAN MTU above its parent's: "
                    f"`netplan apply` fails for {name} or it comes up at {parent_mtu}, not {iface.mtu}",
                    name=name,
                    fix=f"raise {iface.link}'s mtu to at least {iface.mtu}, or lower {name}'s",
                )
            )
    defaults = sorted(n for n, i in declared.items() if i.default_route)
    if current_default and defaults and current_default not in defaults:
        found.append(
            _finding(
                FindingCode.RECENT_NETWORK_CHANGE,
                Severity.WARNING,
                f"the default route moves from {current_default} to {', '.join(defaults)}",
                detail=f"today the default route leaves through {current_default}; this file puts it on "
                f"{', '.join(defaults)}. Uploads will take another path, with its own MTU.",
                name=defaults[0],
                fix="confirm the move is intended, and run `dropsleuth probe post-change` after applying",
            )
        )
    return found
