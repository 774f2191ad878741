"""Does a network ACL or a set of security groups admit a packet? Pure functions over boto3-shaped dicts.

The inputs are exactly what ``describe_network_acls`` (``Entries``) and ``describe_security_groups``
(``IpPermissions`` / ``IpPermissionsEgress``) return, so a test can write them as literals and the adapter
passes them through untouched.

AWS semantics encoded here (VPC User Guide, "Control subnet traffic with network ACLs" and "Security group
rules"):
- NACLs are stateless; entries are evaluated in ascending rule number, the first match decides, and the
  final ``*`` rule (32767) denies. Inbound entries match the packet's source, outbound its destination.
- Security groups are a union of allows: any matching rule admits; nothing matching denies.
- ICMP: NACL ``Protocol`` "1" (IPv4) / "58" (ICMPv6) with ``IcmpTypeCode {Type, Code}``, -1 = all.
  SG ``IpProtocol`` "icmp"/"icmpv6" (or "1"/"58") with ``FromPort`` = type and ``ToPort`` = code, -1 = all.
- ``-1`` protocol = all traffic. An SG rule for a protocol other than TCP, UDP, ICMP or ICMPv6 admits
  all ports. IPv4 CIDRs never match IPv6 packets and the reverse.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58

# ICMP "Destination Unreachable: fragmentation needed and DF set" (RFC 792) and ICMPv6 "Packet Too Big"
# (RFC 4443): the messages Path MTU Discovery depends on.
FRAG_NEEDED_TYPE, FRAG_NEEDED_CODE = 3, 4
PACKET_TOO_BIG_TYPE, PACKET_TOO_BIG_CODE = 2, 0

_PROTOCOL_NAMES = {"icmp": PROTO_ICMP, "tcp": PROTO_TCP, "udp": PROTO_UDP, "icmpv6": PROTO_ICMPV6}
ALL_PROTOCOLS = -1


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(frozen=True)
class Packet:
    """A packet as a filter sees it. ``port`` is the destination port (TCP/UDP only)."""

    protocol: int
    source: IPAddress
    destination: IPAddress
    port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None

    @property
    def is_ipv6(self) -> bool:
        return self.source.version == 6

    def peer(self, direction: Direction) -> IPAddress:
        """The far end a rule's CIDR is compared with: the source inbound, the destination outbound."""
        return self.source if direction is Direction.INBOUND else self.destination


def frag_needed(source: str | IPAddress, destination: str | IPAddress) -> Packet:
    """The PMTUD message a router at ``source`` sends to ``destination``: ICMP 3/4, or ICMPv6 2/0."""
    src, dst = ipaddress.ip_address(source), ipaddress.ip_address(destination)
    if src.version == 6:
        return Packet(PROTO_ICMPV6, src, dst, icmp_type=PACKET_TOO_BIG_TYPE, icmp_code=PACKET_TOO_BIG_CODE)
    return Packet(PROTO_ICMP, src, dst, icmp_type=FRAG_NEEDED_TYPE, icmp_code=FRAG_NEEDED_CODE)


@functools.lru_cache(maxsize=256)
def protocol_number(value: str | int) -> int:
    """``"icmp"`` / ``"1"`` / ``1`` → 1; ``"-1"`` → -1 (all)."""
    text = str(value).strip().lower()
    if text in _PROTOCOL_NAMES:
        return _PROTOCOL_NAMES[text]
    return int(text)


def _icmp_matches(rule_type: int, rule_code: int, packet: Packet) -> bool:
    return rule_type in (-1, packet.icmp_type) and rule_code in (-1, packet.icmp_code)


def _port_in(port: int | None, low: int, high: int) -> bool:
    return port is not None and low <= port <= high


# ---------------------------------------------------------------------------------------------------------
# Network ACLs
# ---------------------------------------------------------------------------------------------------------

DEFAULT_DENY_RULE = 32767


@dataclass(frozen=True)
class NaclDecision:
    """How a NACL decided: ``rule_number`` is None when no entry matched (the implicit final deny)."""

    allowed: bool
    rule_number: int | None
    entry: Mapping[str, Any] | None = None

    @property
    def rule_label(self) -> str:
        if self.rule_number is None or self.rule_number == DEFAULT_DENY_RULE:
            return "* (default deny)"
        return str(self.rule_number)


def nacl_entries(entries: Iterable[Mapping[str, Any]], direction: Direction) -> list[Mapping[str, Any]]:
    """The entries of one direction in evaluation order (ascending rule number)."""
    egress = direction is Direction.OUTBOUND
    return sorted((e for e in entries if bool(e.get("Egress")) == egress), key=lambda e: int(e["RuleNumber"]))


@functools.lru_cache(maxsize=65536)
def cidr_interval(cidr: str) -> tuple[int, int, int]:
    """``(ip version, first address, last address)`` of a CIDR as integers; cached, as rules repeat."""
    network = ipaddress.ip_network(cidr, strict=False)
    return network.version, int(network.network_address), int(network.broadcast_address)


def _entry_interval(entry: Mapping[str, Any]) -> tuple[int, int, int] | None:
    cidr = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")
    return cidr_interval(cidr) if cidr else None


def _contains(interval: tuple[int, int, int], address: IPAddress) -> bool:
    version, first, last = interval
    return version == address.version and first <= int(address) <= last


Interval = tuple[int, int]


def _subtract(parts: list[Interval], first: int, last: int) -> list[Interval]:
    """Remove ``[first, last]`` from a list of disjoint integer intervals."""
    remaining: list[Interval] = []
    for low, high in parts:
        if high < first or low > last:
            remaining.append((low, high))
            continue
        if low < first:
            remaining.append((low, first - 1))
        if high > last:
            remaining.append((last + 1, high))
    return remaining


def nacl_entry_matches(entry: Mapping[str, Any], packet: Packet, direction: Direction) -> bool:
    """Whether one NACL entry applies to the packet (its action is the caller's business)."""
    interval = _entry_interval(entry)
    if interval is None or not _contains(interval, packet.peer(direction)):
        return False
    return _entry_kind_matches(entry, packet)


def _entry_kind_matches(entry: Mapping[str, Any], packet: Packet) -> bool:
    """Protocol, ICMP type/code and ports: everything of an entry but its CIDR."""
    protocol = protocol_number(entry.get("Protocol", ALL_PROTOCOLS))
    if protocol == ALL_PROTOCOLS:
        return True
    if protocol != packet.protocol:
        return False
    if protocol in (PROTO_ICMP, PROTO_ICMPV6):
        icmp = entry.get("IcmpTypeCode") or {}
        return _icmp_matches(int(icmp.get("Type", -1)), int(icmp.get("Code", -1)), packet)
    if protocol in (PROTO_TCP, PROTO_UDP):
        ports = entry.get("PortRange")
        return ports is None or _port_in(packet.port, int(ports.get("From", 0)), int(ports.get("To", 65535)))
    return True


def nacl_admits(entries: Iterable[Mapping[str, Any]], packet: Packet, direction: Direction) -> NaclDecision:
    """Evaluate a NACL for one packet in one direction: the first matching entry decides, else deny."""
    for entry in nacl_entries(entries, direction):
        if nacl_entry_matches(entry, packet, direction):
            return NaclDecision(entry.get("RuleAction") == "allow", int(entry["RuleNumber"]), entry)
    return NaclDecision(False, None, None)


@dataclass(frozen=True)
class NaclRangeDecision:
    """How a NACL treats a packet kind from/to a whole CIDR of peers.

    ``denying`` lists the entries that deny some or all of the range before it is fully admitted (empty
    when every address is admitted); ``allowing`` the entries that admit parts of it.
    """

    fully_admitted: bool
    denying: tuple[NaclDecision, ...] = ()
    allowing: tuple[NaclDecision, ...] = ()
    implicit_deny: bool = False

    @property
    def deciding(self) -> NaclDecision | None:
        """The first denial, the rule a fix must be placed before."""
        if self.denying:
            return self.denying[0]
        return None


def nacl_admits_range(
    entries: Iterable[Mapping[str, Any]], template: Packet, direction: Direction, peers: IPNetwork
) -> NaclRangeDecision:
    """Does the NACL admit ``template`` for every peer address in ``peers``?

    Entries are walked in order; the part of the peer range not yet decided shrinks as entries cover it.
    A denying entry that overlaps the undecided part denies those addresses: the frag-needed from a router
    there is lost.
    """
    peer_version, peer_first, peer_last = cidr_interval(str(peers))
    undecided: list[Interval] = [(peer_first, peer_last)]
    denying: list[NaclDecision] = []
    allowing: list[NaclDecision] = []
    for entry in nacl_entries(entries, direction):
        interval = _entry_interval(entry)
        if interval is None or interval[0] != peer_version:
            continue
        _, first, last = interval
        if not any(low <= last and high >= first for low, high in undecided):
            continue
        if not _entry_kind_matches(entry, template):
            continue
        decision = NaclDecision(entry.get("RuleAction") == "allow", int(entry["RuleNumber"]), entry)
        (allowing if decision.allowed else denying).append(decision)
        undecided = _subtract(undecided, first, last)
        if not undecided:
            break
    implicit = bool(undecided)
    if implicit:
        denying.append(NaclDecision(False, None, None))
    return NaclRangeDecision(not denying, tuple(denying), tuple(allowing), implicit)


def free_rule_number_before(
    entries: Iterable[Mapping[str, Any]], direction: Direction, before: int
) -> int | None:
    """The highest unused rule number below ``before`` in that direction, or None if there is none."""
    found = free_rule_numbers(entries, direction, 1, before=min(before, DEFAULT_DENY_RULE))
    return found[0] if found else None


# Rule numbers run from 1 to 32766 (EC2 API Reference, CreateNetworkAclEntry: "Constraints: Positive
# integer from 1 to 32766"); 32767 is the final * rule.
MAX_RULE_NUMBER = DEFAULT_DENY_RULE - 1


def free_rule_numbers(
    entries: Iterable[Mapping[str, Any]],
    direction: Direction,
    count: int,
    *,
    before: int | None,
    taken: Iterable[int] = (),
) -> list[int]:
    """Up to ``count`` distinct unused rule numbers for new entries in one direction of a NACL.

    ``before`` is the number of the entry that denies (the new entries must be evaluated first): the
    highest free numbers below it, nearest first, so every earlier entry keeps its precedence. With
    ``before=None`` only the final ``*`` rule denies: the multiples of ten after the last entry, then the
    other numbers after it, then free numbers below it (highest first). ``taken`` are numbers already
    promised to other fixes. Fewer than ``count`` numbers come back when the NACL has no more room; the
    caller must say so rather than reuse a number (that call would fail, or replace the user's entry).
    """
    used = {int(e["RuleNumber"]) for e in nacl_entries(entries, direction)} | set(taken)
    if before is not None:
        candidates: Iterable[int] = range(min(before, DEFAULT_DENY_RULE) - 1, 0, -1)
    else:
        last = max((n for n in used if n <= MAX_RULE_NUMBER), default=0)
        after = range(last + 1, MAX_RULE_NUMBER + 1)
        candidates = itertools.chain(
            (n for n in after if n % 10 == 0),
            (n for n in after if n % 10),
            range(last - 1, 0, -1),
        )
    return list(itertools.islice((n for n in candidates if n not in used), max(count, 0)))


# ---------------------------------------------------------------------------------------------------------
# Security groups
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SgDecision:
    """Whether a set of groups admits the packet, and the group and permission that did."""

    allowed: bool
    group_id: str | None = None
    permission: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Peer:
    """What is known of the far end: its SG ids (for group-reference rules)."""

    group_ids: frozenset[str] = field(default_factory=frozenset)


def _permission_kind_matches(permission: Mapping[str, Any], packet: Packet) -> bool:
    protocol = protocol_number(permission.get("IpProtocol", ALL_PROTOCOLS))
    if protocol == ALL_PROTOCOLS:
        return True
    if protocol != packet.protocol:
        return False
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if protocol in (PROTO_ICMP, PROTO_ICMPV6):
        return _icmp_matches(-1 if low is None else int(low), -1 if high is None else int(high), packet)
    if protocol in (PROTO_TCP, PROTO_UDP):
        if low is None or high is None:
            return True
        return _port_in(packet.port, int(low), int(high))
    return True  # any other protocol: all ports


def _permission_cidrs(permission: Mapping[str, Any], prefix_lists: Mapping[str, Sequence[str]]) -> list[str]:
    """The CIDRs a permission names directly or through managed prefix lists."""
    cidrs = [item["CidrIp"] for item in permission.get("IpRanges", ())]
    cidrs += [item["CidrIpv6"] for item in permission.get("Ipv6Ranges", ())]
    for item in permission.get("PrefixListIds", ()):
        cidrs += list(prefix_lists.get(item["PrefixListId"], ()))
    return cidrs


def _permission_peer_matches(
    permission: Mapping[str, Any],
    address: IPAddress,
    prefix_lists: Mapping[str, Sequence[str]],
    peer: Peer,
) -> bool:
    for cidr in _permission_cidrs(permission, prefix_lists):
        if _contains(cidr_interval(cidr), address):
            return True
    return any(item.get("GroupId") in peer.group_ids for item in permission.get("UserIdGroupPairs", ()))


def security_groups_admit(
    groups: Iterable[Mapping[str, Any]],
    packet: Packet,
    direction: Direction,
    *,
    prefix_lists: Mapping[str, Sequence[str]] | None = None,
    peer: Peer | None = None,
) -> SgDecision:
    """Evaluate security groups (a union of allows) for a new, unsolicited packet in one direction.

    Return traffic of an allowed connection is admitted by state tracking, which this does not model: the
    audit asks about ICMP that is not a reply to anything the group admitted.
    """
    key = "IpPermissions" if direction is Direction.INBOUND else "IpPermissionsEgress"
    address = packet.peer(direction)
    lists = prefix_lists or {}
    far_end = peer or Peer()
    for group in groups:
        for permission in group.get(key, ()):
            if _permission_kind_matches(permission, packet) and _permission_peer_matches(
                permission, address, lists, far_end
            ):
                return SgDecision(True, group.get("GroupId"), permission)
    return SgDecision(False)


def security_groups_admit_range(
    groups: Iterable[Mapping[str, Any]],
    template: Packet,
    direction: Direction,
    peers: IPNetwork,
    *,
    prefix_lists: Mapping[str, Sequence[str]] | None = None,
) -> bool:
    """Whether every address in ``peers`` is admitted: the union of matching rules' CIDRs covers it."""
    key = "IpPermissions" if direction is Direction.INBOUND else "IpPermissionsEgress"
    lists = prefix_lists or {}
    version, first, last = cidr_interval(str(peers))
    remaining: list[Interval] = [(first, last)]
    for group in groups:
        for permission in group.get(key, ()):
            if not _permission_kind_matches(permission, template):
                continue
            for cidr in _permission_cidrs(permission, lists):
                cidr_version, low, high = cidr_interval(cidr)
                if cidr_version == version:
                    remaining = _subtract(remaining, low, high)
                    if not remaining:
                        return True
    return False
