"""Property tests: the NACL and SG rules against a brute-force oracle written independently.

The oracle compares addresses as integers under a bit mask, spells the protocol aliases out in a table,
and expands ICMP wildcards into explicit sets. It shares no code with ``dropsleuth.rules.icmp``.

Hypothesis generates rule sets *and* packets: four properties, each run once for IPv4 and once for IPv6
packets, 11,000 examples in all (``EXAMPLES``, ``TOTAL_EXAMPLES``). An example compares one to eight
generated packets in both directions, or every address (4 to 16) of a small peer range; any disagreement
fails. A module fixture checks that each run really executed its examples (about 30 s here).
"""

from __future__ import annotations

import ipaddress
import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
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
ICMP_FIELD = [-1, 0, 2, 3, 4, 5]
PORT_BOUNDS = [0, 1, 22, 23, 35, 69, 70]
PORT_RANGES = [(low, high) for low in PORT_BOUNDS for high in PORT_BOUNDS if low <= high]

# Speed: these properties run 11,000 examples, and Hypothesis's cost is per draw. So every combination of
# a NACL entry's fields but its number and direction, of an SG rule's protocol and ports, of its sources,
# and every packet of the universe, is enumerated once here; an example draws indexes into those lists (one
# to three draws per rule or packet instead of six to ten), and shrinking still works (towards the first,
# simplest item). The lists hold every combination, so nothing is left out.


def _nacl_shapes() -> list[dict[str, Any]]:
    shapes: list[dict[str, Any]] = []
    for proto in PROTOCOL_NAMES_NACL:
        if proto in ("1", "58"):
            details: list[dict[str, Any]] = [
                {"IcmpTypeCode": {"Type": t, "Code": c}} for t in ICMP_FIELD for c in ICMP_FIELD
            ]
        elif proto in ("6", "17"):
            details = [{}] + [{"PortRange": {"From": low, "To": high}} for low, high in PORT_RANGES]
        else:
            details = [{}]
        cidrs = [("CidrBlock", c) for c in V4_CIDRS] + [("Ipv6CidrBlock", c) for c in V6_CIDRS]
        shapes += [
            {"Protocol": proto, "RuleAction": action, key: cidr, **detail}
            for action, (key, cidr), detail in itertools.product(("allow", "deny"), cidrs, details)
        ]
    return shapes


def _sg_kinds() -> list[dict[str, Any]]:
    kinds: list[dict[str, Any]] = []
    for proto in PROTOCOL_NAMES_SG:
        if proto in ("icmp", "1", "icmpv6", "58"):
            kinds += [
                {"IpProtocol": proto, "FromPort": t, "ToPort": c} for t in ICMP_FIELD for c in ICMP_FIELD
            ]
        elif proto in ("tcp", "6", "udp", "17"):
            kinds += [{"IpProtocol": proto, "FromPort": low, "ToPort": high} for low, high in PORT_RANGES]
        else:
            kinds.append({"IpProtocol": proto})
    return kinds


def _sg_sources() -> list[dict[str, Any]]:
    """Every choice of up to two IPv4 CIDRs, one IPv6 CIDR, one prefix list and one group reference."""
    v4_choices = [[], *([c] for c in V4_CIDRS), *([a, b] for a in V4_CIDRS for b in V4_CIDRS)]
    v6_choices = [[], *([c] for c in V6_CIDRS)]
    return [
        {
            "IpRanges": [{"CidrIp": c} for c in v4],
            "Ipv6Ranges": [{"CidrIpv6": c} for c in v6],
            "PrefixListIds": [{"PrefixListId": p} for p in prefix_list],
            "UserIdGroupPairs": [{"GroupId": g} for g in group],
        }
        for v4, v6, prefix_list, group in itertools.product(
            v4_choices, v6_choices, [[], ["pl-a"], ["pl-b"]], [[], ["sg-peer"], ["sg-x"]]
        )
    ]


NACL_SHAPES, SG_KINDS, SG_SOURCES = _nacl_shapes(), _sg_kinds(), _sg_sources()
icmp_value = st.integers(0, 5)


def _entry(shape: dict[str, Any], number: int, egress: bool) -> dict[str, Any]:
    return {"RuleNumber": number, "Egress": egress, **shape}


nacl_entry = st.builds(_entry, st.sampled_from(NACL_SHAPES), st.integers(1, 200), st.booleans())


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


def _packet_pool(version: int) -> list[dict[str, Any]]:
    """Every packet of one IP version between the universe's addresses: ICMP/ICMPv6 of each type and code,
    TCP/UDP to each port, and GRE and ESP (whose port and type the rules ignore)."""
    addrs = V6_ADDRS if version == 6 else V4_ADDRS
    kinds = [(proto, 0, t, c) for proto in (1, 58) for t in range(6) for c in range(6)]
    kinds += [(proto, port, 0, 0) for proto in (6, 17) for port in range(71)]
    kinds += [(47, 0, 0, 0), (50, 0, 0, 0)]
    return [
        {"src": src, "dst": dst, "proto": proto, "port": port, "type": t, "code": c}
        for src, dst, (proto, port, t, c) in itertools.product(addrs, addrs, kinds)
    ]


PACKETS = {v: _packet_pool(v) for v in (4, 6)}


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


sg_permission = st.builds(
    lambda kind, sources: {**kind, **sources}, st.sampled_from(SG_KINDS), st.sampled_from(SG_SOURCES)
)
sg_permissions = st.lists(sg_permission, max_size=3)


def _group(number: int, inbound: list[dict[str, Any]], outbound: list[dict[str, Any]]) -> dict[str, Any]:
    return {"GroupId": f"sg-{number}", "IpPermissions": inbound, "IpPermissionsEgress": outbound}


security_group = st.builds(_group, st.integers(1, 9), sg_permissions, sg_permissions)


PREFIX_LISTS = {"pl-a": ["192.168.50.0/24", "2001:db8:1::/48"], "pl-b": ["8.8.4.0/24"]}


# Each property runs once per IP version of its packets (rules always mix both versions). Splitting keeps
# each Hypothesis run short: one run's cost per example grows with its length, so 2 x 1,500 examples take
# well under half the time of one 3,000-example run. The examples of all runs sum to 11,000.
VERSIONS = (4, 6)
EXAMPLES = {"nacl": 1500, "sg": 1500, "nacl_range": 1250, "sg_range": 1250}
TOTAL_EXAMPLES = len(VERSIONS) * sum(EXAMPLES.values())
RUNS: Counter[tuple[str, int]] = Counter()
packet_lists = {v: st.lists(st.sampled_from(PACKETS[v]), min_size=1, max_size=8) for v in VERSIONS}


@pytest.fixture(scope="module", autouse=True)
def _every_property_ran_its_examples(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if request.session.testsfailed:
        return  # a failing property stops early; its failure is the report
    short = {run: count for run, count in RUNS.items() if count < EXAMPLES[run[0]]}
    assert not short, f"properties ran fewer examples than configured: {short}"
    if len(RUNS) == len(EXAMPLES) * len(VERSIONS):
        assert sum(RUNS.values()) >= TOTAL_EXAMPLES >= 10_000, RUNS


# --- the properties --------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=EXAMPLES["nacl"], deadline=None)
@given(entries=st.lists(nacl_entry, max_size=10).map(unique_numbers), data=st.data())
def test_nacl_agrees_with_oracle(version: int, entries: list[dict[str, Any]], data: st.DataObject) -> None:
    RUNS["nacl", version] += 1
    for candidate in data.draw(packet_lists[version], label="packets"):
        for outbound in (False, True):
            direction = Direction.OUTBOUND if outbound else Direction.INBOUND
            decision = nacl_admits(entries, to_packet(candidate), direction)
            assert (decision.allowed, decision.rule_number) == oracle_nacl(entries, candidate, outbound), (
                candidate
            )


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=EXAMPLES["sg"], deadline=None)
@given(
    groups=st.lists(security_group, max_size=3),
    peer_groups=st.sets(st.sampled_from(["sg-peer", "sg-y"])),
    data=st.data(),
)
def test_security_groups_agree_with_oracle(
    version: int, groups: list[dict[str, Any]], peer_groups: set[str], data: st.DataObject
) -> None:
    RUNS["sg", version] += 1
    for candidate in data.draw(packet_lists[version], label="packets"):
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


# Small peer ranges (4 to 16 addresses) that the generated CIDRs cover wholly, partly or not at all. The
# local end is on the other side of every rule's CIDR, as a subnet's own address would be.
SMALL_RANGES = {
    4: ["10.0.1.0/28", "192.168.50.0/29", "10.0.1.120/29", "172.16.0.0/30"],
    6: ["2001:db8:1::/124", "2001:db8:1::4/126", "2001:db8:2::/126"],
}
LOCAL = {4: "10.9.9.9", 6: "fd00::9"}
ICMP_OF_VERSION = {4: 1, 6: 58}
range_cases = {
    v: st.tuples(st.sampled_from(SMALL_RANGES[v]), st.booleans(), st.tuples(icmp_value, icmp_value))
    for v in VERSIONS
}


def per_address_packets(peers: str, outbound: bool, icmp: tuple[int, int]) -> list[dict[str, Any]]:
    """One ICMP (or ICMPv6) packet from/to each address of the range, as the oracle takes them."""
    network = ipaddress.ip_network(peers)
    local = LOCAL[network.version]
    proto = ICMP_OF_VERSION[network.version]
    cases = []
    for address in network:
        src, dst = (local, str(address)) if outbound else (str(address), local)
        cases.append({"src": src, "dst": dst, "proto": proto, "port": 0, "type": icmp[0], "code": icmp[1]})
    return cases


def range_template(peers: str, icmp: tuple[int, int]) -> Packet:
    version = ipaddress.ip_network(peers).version
    local = ipaddress.ip_address(LOCAL[version])
    return Packet(ICMP_OF_VERSION[version], local, local, icmp_type=icmp[0], icmp_code=icmp[1])


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=EXAMPLES["nacl_range"], deadline=None)
@given(entries=st.lists(nacl_entry, max_size=8).map(unique_numbers), data=st.data())
def test_nacl_range_equals_every_address(
    version: int, entries: list[dict[str, Any]], data: st.DataObject
) -> None:
    """A range is fully admitted exactly when the oracle admits each of its addresses."""
    RUNS["nacl_range", version] += 1
    peers, outbound, icmp = data.draw(range_cases[version], label="peers, outbound, icmp")
    each = [oracle_nacl(entries, pkt, outbound)[0] for pkt in per_address_packets(peers, outbound, icmp)]
    direction = Direction.OUTBOUND if outbound else Direction.INBOUND
    decision = nacl_admits_range(entries, range_template(peers, icmp), direction, ipaddress.ip_network(peers))
    assert decision.fully_admitted == all(each)


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=EXAMPLES["sg_range"], deadline=None)
@given(groups=st.lists(security_group, max_size=3), data=st.data())
def test_sg_range_equals_every_address(
    version: int, groups: list[dict[str, Any]], data: st.DataObject
) -> None:
    RUNS["sg_range", version] += 1
    peers, outbound, icmp = data.draw(range_cases[version], label="peers, outbound, icmp")
    each = [
        oracle_sg(groups, pkt, outbound, PREFIX_LISTS, set())
        for pkt in per_address_packets(peers, outbound, icmp)
    ]
    direction = Direction.OUTBOUND if outbound else Direction.INBOUND
    covered = security_groups_admit_range(
        groups, range_template(peers, icmp), direction, ipaddress.ip_network(peers), prefix_lists=PREFIX_LISTS
    )
    assert covered == all(each)
