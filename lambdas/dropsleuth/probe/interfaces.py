"""Each interface's MTU against the MTUs the site expects, and which interface carries the default route."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules.severity import CONFIGURATION_RISK


@dataclass(frozen=True)
class InterfaceState:
    name: str
    mtu: int
    up: bool
    kind: str = ""


def _ip_json(*args: str) -> list[dict[str, object]] | None:
    ip = shutil.which("ip")
    if ip is None:
        return None
    completed = subprocess.run(  # noqa: S603 -- fixed argv of a read-only listing
        [ip, "-j", *args], capture_output=True, text=True, timeout=10, check=False
    )
    if completed.returncode != 0:
        return None
    try:
        value = json.loads(completed.stdout or "[]")
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def list_interfaces() -> list[InterfaceState]:
    """Interfaces of this network namespace (``ip -j -d link``; sysfs when iproute2 is missing)."""
    links = _ip_json("-d", "link", "show")
    if links is not None:
        result = []
        for link in links:
            info = link.get("linkinfo")
            kind = str(info.get("info_kind", "")) if isinstance(info, dict) else ""
            flags = link.get("flags")
            up = isinstance(flags, list) and "UP" in flags
            result.append(InterfaceState(str(link["ifname"]), int(str(link["mtu"])), up, kind))
        return result
    base = Path("/sys/class/net")
    result = []
    for path in sorted(base.iterdir()) if base.exists() else []:
        mtu = int((path / "mtu").read_text().strip())
        up = (path / "operstate").read_text().strip() in ("up", "unknown")
        result.append(InterfaceState(path.name, mtu, up))
    return result


def default_route_interfaces() -> list[str]:
    """The interfaces of the IPv4 and IPv6 default routes (``/proc/net/route`` when iproute2 is missing)."""
    names: list[str] = []
    for family in ("-4", "-6"):
        routes = _ip_json(family, "route", "show", "default")
        for route in routes or []:
            dev = route.get("dev")
            if isinstance(dev, str) and dev not in names:
                names.append(dev)
    if not names and Path("/proc/thread-self/net/route").exists():
        for line in Path("/proc/thread-self/net/route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "00000000" and fields[0] not in names:
                names.append(fields[0])
    return names


def interface_addresses() -> dict[str, list[str]] | None:
    """Each interface's addresses (``ip -j addr show``) as ``address/prefix``; None when unreadable."""
    links = _ip_json("addr", "show")
    if links is None:
        return None
    result: dict[str, list[str]] = {}
    for link in links:
        infos = link.get("addr_info")
        addresses = [
            f"{info.get('local')}/{info.get('prefixlen')}"
            for info in (infos if isinstance(infos, list) else [])
            if isinstance(info, dict) and info.get("local")
        ]
        result[str(link.get("ifname"))] = sorted(addresses)
    return result


def snapshot(
    states: list[InterfaceState] | None = None,
    addresses: dict[str, list[str]] | None = None,
    default_route: list[str] | None = None,
) -> dict[str, Any]:
    """This host's interface state as the agent keeps and compares it (``change_records.observed_changes``):
    ``{"interfaces": {name: {"mtu", "up", "addresses"}}, "default_route": [names]}``. Loopback is left out
    (its MTU is no path's)."""
    states = list_interfaces() if states is None else states
    addresses = (interface_addresses() or {}) if addresses is None else addresses
    default_route = default_route_interfaces() if default_route is None else default_route
    return {
        "interfaces": {
            s.name: {"mtu": s.mtu, "up": s.up, "addresses": sorted(addresses.get(s.name, []))}
            for s in states
            if s.name != "lo"
        },
        "default_route": sorted(default_route),
    }


def check_interfaces(
    interfaces: list[InterfaceState], expected: Mapping[str, int], default_route: list[str]
) -> list[Finding]:
    """INTERFACE_MTU_UNEXPECTED for each expected interface whose MTU differs, or that is missing."""
    actual = {i.name: i for i in interfaces}
    found = []
    for name, want in sorted(expected.items()):
        state = actual.get(name)
        carries_default = name in default_route
        role = " (it carries the default route)" if carries_default else ""
        if state is None:
            found.append(
                Finding(
                    code=FindingCode.INTERFACE_MTU_UNEXPECTED,
                    severity=Severity.WARNING,
                    confidence=0.6,
                    title=f"interface {name} is missing (expected MTU {want})",
                    detail=f"no interface named {name}; present: {', '.join(sorted(actual)) or 'none'}",
                    resource_ids=(name,),
                )
            )
            continue
        if state.mtu == want:
            continue
        larger = state.mtu > want
        found.append(
            Finding(
                code=FindingCode.INTERFACE_MTU_UNEXPECTED,
                # Configuration alone is a risk (docs/severity.md): the investigation raises it with the
                # agent's black-hole verdict (rules/site_measurements.py).
                severity=CONFIGURATION_RISK,
                confidence=0.95 if larger or carries_default else 0.7,
                title=f"interface {name} has MTU {state.mtu}, expected {want}{role}",
                detail=(
                    f"{name} sends packets up to {state.mtu} bytes where the path was planned for {want}: "
                    + (
                        "TCP advertises a larger MSS and relies on ICMP frag-needed to learn the path MTU; "
                        "where that ICMP is lost, large transfers stall (a PMTUD black hole)."
                        if larger
                        else "every packet is smaller than it could be (lower throughput), and a peer on "
                        "the same segment with the larger MTU can send frames this host drops."
                    )
                ),
                resource_ids=(name,),
                evidence=(
                    Evidence(
                        kind="interface",
                        summary=f"{name}: mtu {state.mtu} (expected {want})",
                        resource_ids=(name,),
                        data={
                            "interface": name,
                            "mtu": state.mtu,
                            "expected_mtu": want,
                            "default_route": carries_default,
                            "kind": state.kind,
                        },
                    ),
                ),
                remediation=Remediation(
                    summary=f"Set {name}'s MTU to {want} (and make it persistent in netplan/ifupdown).",
                    commands=(f"ip link set dev {name} mtu {want}",),
                ),
            )
        )
    return found


def parse_expectations(items: list[str]) -> dict[str, int]:
    """``["eno1=1500", "vlan20=1400"]`` → ``{"eno1": 1500, "vlan20": 1400}``; ValueError names the item."""
    result = {}
    for item in items:
        name, sep, mtu = item.partition("=")
        if not sep or not name or not mtu.isdigit() or not 68 <= int(mtu) <= 65535:
            raise ValueError(f"expected IFACE=MTU (MTU 68–65535), got {item!r}")
        result[name] = int(mtu)
    return result
