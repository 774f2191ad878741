"""The PMTU verdict rules against simulated paths (no sockets)."""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from dropsleuth.probe.pmtu import TcpTransfer, tcp_transfer_verdict
from dropsleuth.rules.pmtu_verdict import (
    HopReport,
    Outcome,
    PathVerdict,
    ProbeOutcome,
    classify,
    first_round_sizes,
    locate,
    next_round_sizes,
)


def simulate(path_mtu: int, *, icmp: bool, silent_below: int | None = None):  # type: ignore[no-untyped-def]
    """A path whose bottleneck is ``path_mtu``; ``icmp`` says whether the router reports it;
    ``silent_below`` adds a second, silent bottleneck further on."""

    def send(size: int) -> ProbeOutcome:
        if size > path_mtu:
            return (
                ProbeOutcome(size, Outcome.TOO_BIG, reporter="r1", mtu=path_mtu)
                if icmp
                else ProbeOutcome(size, Outcome.TIMEOUT)
            )
        if silent_below is not None and size > silent_below:
            return ProbeOutcome(size, Outcome.TIMEOUT)
        return ProbeOutcome(size, Outcome.REPLY, reporter="target")

    return send


def search(send, floor: int, ceiling: int) -> list[ProbeOutcome]:  # type: ignore[no-untyped-def]
    outcomes = [send(s) for s in first_round_sizes(floor, ceiling)]
    for _ in range(12):
        sizes = next_round_sizes(outcomes, floor, ceiling)
        if not sizes:
            break
        outcomes += [send(s) for s in sizes]
    return outcomes


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=552, max_value=9000), st.booleans())
def test_search_finds_the_exact_mtu_and_the_right_verdict(path_mtu: int, icmp: bool) -> None:
    outcomes = search(simulate(path_mtu, icmp=icmp), 552, 9000)
    verdict = classify(outcomes, ceiling=9000)
    assert verdict.path_mtu == path_mtu
    if path_mtu == 9000 or icmp:
        assert verdict.verdict is PathVerdict.WORKS
    else:
        assert verdict.verdict is PathVerdict.BLACK_HOLE
        assert verdict.smallest_lost == path_mtu + 1
        assert verdict.converged


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1300, max_value=8999), st.integers(min_value=600, max_value=1299))
def test_a_silent_bottleneck_behind_a_reporting_router_is_mixed(reported: int, silent: int) -> None:
    outcomes = search(simulate(reported, icmp=True, silent_below=silent), 552, 9000)
    verdict = classify(outcomes, ceiling=9000)
    assert verdict.verdict is PathVerdict.MIXED
    assert verdict.reported_mtu == reported
    assert verdict.largest_ok == silent


def test_icmp_rate_limiting_above_the_reported_mtu_does_not_make_it_a_black_hole() -> None:
    outcomes = [
        ProbeOutcome(552, Outcome.REPLY),
        ProbeOutcome(1500, Outcome.REPLY),
        ProbeOutcome(1501, Outcome.TOO_BIG, reporter="r1", mtu=1500),
        ProbeOutcome(8500, Outcome.TIMEOUT),
        ProbeOutcome(9000, Outcome.TIMEOUT),
    ]
    verdict = classify(outcomes, ceiling=9000)
    assert verdict.verdict is PathVerdict.WORKS
    assert (verdict.path_mtu, verdict.reported_by) == (1500, "r1")


def test_nothing_answered_is_unreachable_and_stops_the_search() -> None:
    outcomes = [ProbeOutcome(s, Outcome.TIMEOUT) for s in first_round_sizes(552, 1500)]
    assert classify(outcomes, ceiling=1500).verdict is PathVerdict.UNREACHABLE
    assert next_round_sizes(outcomes, 552, 1500) == []


def test_sizes_the_host_refused_to_send_are_not_counted_as_lost() -> None:
    outcomes = [ProbeOutcome(552, Outcome.REPLY), ProbeOutcome(1500, Outcome.REPLY)]
    outcomes.append(ProbeOutcome(9000, Outcome.LOCAL_TOO_BIG))
    assert classify(outcomes, ceiling=1500).verdict is PathVerdict.WORKS


def test_ttl_limited_probes_locate_the_router_in_front_of_the_bottleneck() -> None:
    hops = [
        HopReport(1, "10.0.0.1", "10.0.0.1"),
        HopReport(2, "10.0.1.1", "10.0.1.1"),
        HopReport(3, "10.0.2.1", None),
        HopReport(4, None, None, small_reached_target=True),
    ]
    location = locate(hops)
    assert (location.last_ttl_seen, location.last_hop_seen, location.first_silent_ttl) == (2, "10.0.1.1", 3)


def test_large_packets_dying_on_the_first_link_point_at_the_local_segment() -> None:
    location = locate([HopReport(1, "10.0.0.1", None), HopReport(2, "10.0.1.1", None)])
    assert location.last_ttl_seen == 0
    assert "same-segment" in location.explanation


# TCP transfers as the netns lab measured them (TCP_INFO at connect and at the end).
def _transfer(**fields: object) -> TcpTransfer:
    base: dict[str, object] = {
        "family": socket.AF_INET,
        "payload_bytes": 262144,
        "delivered": True,
        "stalled": False,
        "seconds": 0.01,
        "mss_at_connect": 8948,
    }
    return TcpTransfer(**{**base, **fields})  # type: ignore[arg-type]


def test_tcp_working_pmtud_lowers_the_kernel_path_mtu() -> None:
    verdict = tcp_transfer_verdict(_transfer(mss_at_end=1448, kernel_pmtu=1500), probing=0)
    assert verdict is not None
    assert verdict.verdict is PathVerdict.WORKS
    assert verdict.path_mtu == 1500
    assert verdict.reported_mtu == 1500


def test_tcp_rescued_by_mtu_probing_is_a_black_hole() -> None:
    transfer = _transfer(seconds=6.59, mss_at_end=1024, kernel_pmtu=9000, retransmits=76)
    verdict = tcp_transfer_verdict(transfer, probing=1)
    assert verdict is not None
    assert verdict.verdict is PathVerdict.BLACK_HOLE
    assert verdict.explanation.startswith("rescued by tcp_mtu_probing=1 after 6.6 s")
    assert "from 8948 to 1024" in verdict.explanation


def test_tcp_mss_clamping_is_not_mistaken_for_probing() -> None:
    # A router clamps the MSS to 1360: small segments from the start, nothing lowered during the transfer.
    transfer = _transfer(mss_at_connect=1360, mss_at_end=1360, kernel_pmtu=9000)
    verdict = tcp_transfer_verdict(transfer, probing=1)
    assert verdict is not None
    assert verdict.verdict is PathVerdict.WORKS


def test_tcp_with_probing_2_cannot_tell_from_the_transfer() -> None:
    transfer = _transfer(mss_at_connect=1024, mss_at_end=1270, kernel_pmtu=9000)
    assert tcp_transfer_verdict(transfer, probing=2) is None


def test_tcp_stall_and_refusal() -> None:
    stalled = tcp_transfer_verdict(_transfer(delivered=False, stalled=True, seconds=15.0), probing=1)
    assert stalled is not None
    assert stalled.verdict is PathVerdict.BLACK_HOLE
    assert "despite tcp_mtu_probing=1" in stalled.explanation
    refused = tcp_transfer_verdict(
        _transfer(delivered=False, stalled=False, error="Connection refused"), probing=0
    )
    assert refused is not None
    assert refused.verdict is PathVerdict.UNREACHABLE
