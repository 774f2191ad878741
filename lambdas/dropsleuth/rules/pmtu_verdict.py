"""What a set of DF probe outcomes says about a path: PMTUD works, a black hole, or a mixed picture.

Pure functions over probe outcomes (no sockets, no clock): the probe library in ``dropsleuth.probe.pmtu``
sends the probes and records what came back; these rules decide what it means and which sizes to try next.

Sizes are whole IP packets (header included), so a verdict's ``path_mtu`` compares directly with an
interface MTU and with the MTU an ICMP "fragmentation needed" / "Packet Too Big" message reports.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# RFC 791: every IPv4 host must accept 576-byte datagrams; Linux's min_pmtu default is 552.
# RFC 8200 §5: every IPv6 link carries at least 1280 bytes.
IPV4_FLOOR = 552
IPV6_FLOOR = 1280

# MTUs seen in the wild (and in the AWS table of docs/reference/aws-facts.md): trying them, and one byte
# above each, in the first round usually finds the edge at once, where plain bisection needs several rounds of
# timeouts.
COMMON_MTUS = (
    576,
    1280,
    1366,
    1379,
    1400,
    1406,
    1420,
    1436,
    1446,
    1450,
    1460,
    1480,
    1492,
    1500,
    8500,
    9000,
    9001,
)


class Outcome(enum.StrEnum):
    """What came back for one probe."""

    REPLY = "reply"
    """The target answered (echo reply, responder reply, or ICMP port unreachable from the target)."""
    TOO_BIG = "too_big"
    """A router sent ICMP frag-needed (IPv4 type 3 code 4) / Packet Too Big (ICMPv6 type 2)."""
    TIME_EXCEEDED = "time_exceeded"
    """A TTL-limited probe expired at a router, which said so."""
    UNREACHABLE = "unreachable"
    """Another ICMP destination-unreachable (host, net, administratively prohibited …)."""
    TIMEOUT = "timeout"
    """Nothing came back in time."""
    LOCAL_TOO_BIG = "local_too_big"
    """The local host refused to send it: larger than the outgoing interface's MTU."""


@dataclass(frozen=True)
class ProbeOutcome:
    """One DF probe and what came back for it."""

    size: int
    outcome: Outcome
    ttl: int | None = None
    reporter: str | None = None
    """The address that sent the ICMP error or the reply."""
    mtu: int | None = None
    """The next-hop MTU an ICMP frag-needed / Packet Too Big carried."""
    rtt_s: float | None = None


class PathVerdict(enum.StrEnum):
    WORKS = "works"
    """Large packets either pass or the sender is told (ICMP) the size that passes: PMTUD works."""
    BLACK_HOLE = "black_hole"
    """Packets above a size vanish and no ICMP says so: TCP connects, then stalls."""
    MIXED = "mixed"
    """A router reports an MTU, yet packets at or below it still vanish: a second, silent bottleneck."""
    UNREACHABLE = "unreachable"
    """Not even the smallest probe was answered: nothing can be said about the MTU."""


@dataclass(frozen=True)
class PmtuVerdict:
    verdict: PathVerdict
    path_mtu: int | None
    """The largest packet that passes (for a black hole: the largest probe that was answered)."""
    largest_ok: int | None
    smallest_lost: int | None
    """The smallest probe above ``largest_ok`` that vanished without ICMP, if any."""
    reported_mtu: int | None = None
    reported_by: str | None = None
    converged: bool = False
    """True when ``smallest_lost`` is ``largest_ok + 1`` (or ICMP named the exact MTU)."""
    explanation: str = ""

    @property
    def is_problem(self) -> bool:
        return self.verdict in (PathVerdict.BLACK_HOLE, PathVerdict.MIXED)


@dataclass(frozen=True)
class HopReport:
    """TTL-limited probes at one hop: who answered the small probe and who answered the large one."""

    ttl: int
    small_reporter: str | None
    large_reporter: str | None
    small_reached_target: bool = False
    large_reached_target: bool = False


@dataclass(frozen=True)
class HopLocation:
    """Where large packets stop: after ``last_hop_seen`` (TTL ``last_ttl_seen``; 0 = this host)."""

    last_ttl_seen: int
    last_hop_seen: str | None
    first_silent_ttl: int | None
    hops: tuple[HopReport, ...] = field(default_factory=tuple)
    explanation: str = ""


def floor_for(family_v6: bool) -> int:
    return IPV6_FLOOR if family_v6 else IPV4_FLOOR


def _passed(o: ProbeOutcome) -> bool:
    return o.outcome is Outcome.REPLY


def _vanished(o: ProbeOutcome) -> bool:
    return o.outcome is Outcome.TIMEOUT


def bounds(outcomes: Iterable[ProbeOutcome]) -> tuple[int | None, int | None]:
    """The largest size answered and the smallest larger size that failed (vanished or too big)."""
    usable = [o for o in outcomes if o.ttl is None and o.outcome is not Outcome.LOCAL_TOO_BIG]
    passed = [o.size for o in usable if _passed(o)]
    largest_ok = max(passed) if passed else None
    failed = [
        o.size
        for o in usable
        if (_vanished(o) or o.outcome is Outcome.TOO_BIG) and (largest_ok is None or o.size > largest_ok)
    ]
    return largest_ok, (min(failed) if failed else None)


def first_round_sizes(floor: int, ceiling: int) -> list[int]:
    """The sizes to try first: the floor, the ceiling, and each common MTU (and one byte above) between."""
    sizes = {floor, ceiling}
    for mtu in COMMON_MTUS:
        for size in (mtu, mtu + 1):
            if floor < size < ceiling:
                sizes.add(size)
    return sorted(sizes)


def next_round_sizes(
    outcomes: Sequence[ProbeOutcome], floor: int, ceiling: int, *, per_round: int = 16
) -> list[int]:
    """The sizes that narrow the edge between the largest answered and the smallest lost probe.

    Empty when there is nothing left to learn: the edge is found, ICMP named the MTU and it was
    confirmed, or not even the floor passed.
    """
    tried = {o.size for o in outcomes if o.ttl is None}
    largest_ok, smallest_failed = bounds(outcomes)
    if largest_ok is None:
        return []
    reported = _reported(outcomes)
    wanted: list[int] = []
    if reported is not None:
        mtu = reported[0]
        # Confirm the MTU the router named: it passes, and the probes between the largest answer and it
        # show whether a second, silent bottleneck hides below.
        if floor <= mtu <= ceiling and mtu not in tried:
            wanted.append(mtu)
        if largest_ok >= mtu:
            return wanted
        hi = min(mtu, smallest_failed) if smallest_failed is not None else mtu
    else:
        if smallest_failed is None:
            return []
        hi = smallest_failed
    if hi - largest_ok <= 1:
        return wanted
    gap = hi - largest_ok
    count = min(per_round, gap - 1)
    for index in range(1, count + 1):
        size = largest_ok + round(index * gap / (count + 1))
        if largest_ok < size < hi and size not in tried:
            wanted.append(size)
    return sorted(set(wanted))


def _reported(outcomes: Iterable[ProbeOutcome]) -> tuple[int, str | None] | None:
    reports = [(o.mtu, o.reporter) for o in outcomes if o.outcome is Outcome.TOO_BIG and o.mtu]
    if not reports:
        return None
    mtu, reporter = min(reports, key=lambda r: r[0] or 0)
    assert mtu is not None
    return mtu, reporter


def classify(outcomes: Sequence[ProbeOutcome], *, ceiling: int) -> PmtuVerdict:
    """Decide what the probes say about the path (the probes sent without a TTL limit count).

    - No answer at all: UNREACHABLE.
    - ICMP named an MTU and a probe of that size passed: WORKS (larger probes that vanished are ICMP
      rate limiting or loss, since the sender was told).
    - ICMP named an MTU but probes at or below it vanish: MIXED.
    - Probes above some size vanish and no ICMP came: BLACK_HOLE.
    - Everything up to the interface MTU passes: WORKS with the interface MTU.
    """
    largest_ok, smallest_failed = bounds(outcomes)
    reported = _reported(outcomes)
    untimed = [o for o in outcomes if o.ttl is None]
    lost_above = sorted(
        o.size for o in untimed if _vanished(o) and (largest_ok is None or o.size > largest_ok)
    )
    smallest_lost = lost_above[0] if lost_above else None
    if largest_ok is None:
        return PmtuVerdict(
            PathVerdict.UNREACHABLE,
            None,
            None,
            smallest_lost,
            reported[0] if reported else None,
            reported[1] if reported else None,
            explanation="no probe was answered, not even the smallest: the target is unreachable or "
            "does not answer this kind of probe",
        )
    if reported is not None:
        mtu, reporter = reported
        if largest_ok >= mtu:
            return PmtuVerdict(
                PathVerdict.WORKS,
                mtu,
                largest_ok,
                smallest_lost,
                mtu,
                reporter,
                converged=True,
                explanation=f"router {reporter} reports MTU {mtu} (ICMP frag-needed / Packet Too Big) "
                f"and {mtu}-byte probes pass: path MTU discovery works",
            )
        silent = [s for s in lost_above if s <= mtu]
        if silent:
            return PmtuVerdict(
                PathVerdict.MIXED,
                largest_ok,
                largest_ok,
                silent[0],
                mtu,
                reporter,
                converged=silent[0] == largest_ok + 1,
                explanation=f"router {reporter} reports MTU {mtu}, yet probes of {silent[0]} bytes "
                f"(≤ {mtu}) vanish without ICMP: a second bottleneck of {largest_ok}–{silent[0] - 1} "
                "bytes further on drops them silently",
            )
        return PmtuVerdict(
            PathVerdict.WORKS,
            mtu,
            largest_ok,
            smallest_lost,
            mtu,
            reporter,
            converged=False,
            explanation=f"router {reporter} reports MTU {mtu}; probes up to {largest_ok} bytes pass",
        )
    if smallest_lost is None:
        edge = smallest_failed
        return PmtuVerdict(
            PathVerdict.WORKS,
            largest_ok,
            largest_ok,
            None,
            converged=largest_ok >= ceiling or edge == largest_ok + 1,
            explanation=f"probes up to {largest_ok} bytes pass"
            + (" (the interface MTU)" if largest_ok >= ceiling else ""),
        )
    return PmtuVerdict(
        PathVerdict.BLACK_HOLE,
        largest_ok,
        largest_ok,
        smallest_lost,
        converged=smallest_lost == largest_ok + 1,
        explanation=f"probes of {largest_ok} bytes pass, probes of {smallest_lost} bytes and more vanish "
        "and no ICMP frag-needed / Packet Too Big comes back: a path MTU black hole "
        "(TCP connects, then stalls on full-size segments)",
    )


def locate(hops: Sequence[HopReport]) -> HopLocation:
    """Find the last hop a large packet reaches, from TTL-limited probes of a small and a large size.

    A router answers a TTL-expired probe before it checks the next link's MTU, so the large probe is
    answered by every router up to the one in front of the bottleneck and by none after it, while the
    small probe is answered all the way.
    """
    ordered = sorted(hops, key=lambda h: h.ttl)
    last_ttl, last_hop = 0, None
    first_silent: int | None = None
    for hop in ordered:
        small_seen = hop.small_reporter is not None or hop.small_reached_target
        large_seen = hop.large_reporter is not None or hop.large_reached_target
        if large_seen:
            last_ttl, last_hop = hop.ttl, hop.large_reporter
            continue
        if small_seen and first_silent is None:
            first_silent = hop.ttl
            break
    if first_silent is None:
        explanation = "large probes were answered at every hop that answered small ones"
    elif last_ttl == 0:
        small_at = next((h.small_reporter for h in ordered if h.ttl == first_silent), None)
        explanation = (
            "large packets die before the first router"
            + (f" ({small_at})" if small_at else "")
            + ": the local segment carries less than this host's interface MTU "
            "(a same-segment MTU mismatch), or the first router drops them silently"
        )
    else:
        explanation = (
            f"large packets reach hop {last_ttl} ({last_hop}) and die after it: that router, or the "
            f"link behind it, has the smaller MTU and its ICMP frag-needed does not come back"
        )
    return HopLocation(last_ttl, last_hop, first_silent, tuple(ordered), explanation)
