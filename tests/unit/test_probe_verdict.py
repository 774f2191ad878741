"""The PMTU verdict rules against simulated paths (no sockets)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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
