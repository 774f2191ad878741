"""The onset rule and flap counting (rules/onset.py): literal series and a property against a brute force."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dropsleuth.rules import onset
from dropsleuth.rules.onset import Point

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def series(values: list[float], *, first_minute: int = 0) -> list[Point]:
    return [(at(first_minute + i), v) for i, v in enumerate(values)]


def test_empty_series_has_no_onset_and_no_flaps() -> None:
    assert onset.detect_collapse([], source="host") is None
    assert onset.frag_needed_rise([]) is None
    assert onset.onset([], []) is None
    assert onset.tunnel_flaps([]) == []


def test_collapse_onset_is_the_first_minute_below_half_the_hours_median() -> None:
    given_series = series([40, 42, 44, 41, 43, 42, 30, 19, 2, 1, 1, 40, 41])
    collapse = onset.detect_collapse(given_series, source="host")
    assert collapse is not None
    # 30 is not below half of 42; 19 is, and 2 confirms it.
    assert collapse.onset == at(7)
    assert collapse.baseline == statistics.median([40, 42, 44, 41, 43, 42, 30])
    assert collapse.during == statistics.median([19, 2, 1, 1])
    assert collapse.recovered_at == at(11)


def test_collapse_without_recovery_says_so() -> None:
    collapse = onset.detect_collapse(series([50] * 10 + [3] * 5), source="flow-log")
    assert collapse is not None
    assert collapse.recovered_at is None
    assert "not recovered" in collapse.describe()
    assert collapse.describe().startswith("flow-log throughput fell from 50.0 to 3.0 Mbps")


def test_no_baseline_hour_means_no_onset() -> None:
    # A drop before five points exist has no baseline; by the time one exists, the low level is it.
    assert onset.detect_collapse(series([40, 40, 1, 1, 1, 1, 1]), source="host") is None
    # Points older than an hour before the drop do not count as its baseline.
    old = series([40] * 6)
    late = series([1, 1, 1], first_minute=90)
    assert onset.detect_collapse(old + late, source="host") is None


def test_one_low_minute_followed_by_a_normal_one_is_noise() -> None:
    assert onset.detect_collapse(series([40] * 8 + [2] + [40] * 3), source="host") is None


def test_a_last_low_minute_has_nothing_to_contradict_it() -> None:
    collapse = onset.detect_collapse(series([40] * 8 + [2]), source="host")
    assert collapse is not None
    assert collapse.onset == at(8)


def test_a_zero_baseline_never_collapses() -> None:
    assert onset.detect_collapse(series([0] * 10), source="host") is None


def test_unsorted_input_gives_the_same_onset() -> None:
    ordered = series([40] * 8 + [2, 2, 2])
    assert onset.detect_collapse(list(reversed(ordered)), source="host") == onset.detect_collapse(
        ordered, source="host"
    )


def test_frag_needed_rise_after_a_quiet_hour() -> None:
    assert onset.frag_needed_rise(series([0] * 10 + [0, 12, 15])) == at(11)
    # A steady trickle is its own baseline: no rise.
    assert onset.frag_needed_rise(series([3, 4, 3, 4, 3, 4, 3, 4])) is None
    # A rise needs a baseline hour too.
    assert onset.frag_needed_rise(series([0, 0, 9])) is None


def test_onset_prefers_the_throughput_collapse_then_frag_needed() -> None:
    throughput = series([40] * 8 + [2, 2, 2])
    frag = series([0] * 6 + [5, 5, 5, 5, 5])
    assert onset.onset(throughput, frag) == at(8)
    assert onset.onset(series([40] * 11), frag) == at(6)
    assert onset.onset(series([40] * 11), series([0] * 11)) is None


def test_flaps_count_each_transition_to_down() -> None:
    state = series([1, 1, 0, 0, 1, 0, 1, 1, 0])
    assert onset.tunnel_flaps(state) == [at(2), at(5), at(8)]
    assert onset.tunnel_flaps(series([1] * 5)) == []
    # Down from the first point: the tunnel was not up in the window, one flap.
    assert onset.tunnel_flaps(series([0, 0, 1])) == [at(0)]


def brute_force_onset(values: list[float]) -> int | None:
    """Index of the first point below half the median of the up-to-60 points before it, confirmed."""
    for i, value in enumerate(values):
        before = values[max(0, i - 60) : i]
        if len(before) < onset.MIN_BASELINE_POINTS:
            continue
        half = statistics.median(before) * onset.COLLAPSE_FRACTION
        if statistics.median(before) <= 0 or value >= half:
            continue
        if i + 1 < len(values) and values[i + 1] >= half:
            continue
        return i
    return None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=90))
def test_collapse_agrees_with_a_brute_force(values: list[float]) -> None:
    collapse = onset.detect_collapse(series(values), source="host")
    expected = brute_force_onset(values)
    assert (collapse.onset if collapse else None) == (at(expected) if expected is not None else None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0]), max_size=60))
def test_flaps_are_the_one_to_zero_transitions(values: list[float]) -> None:
    flaps = onset.tunnel_flaps(series(values))
    expected = [i for i, v in enumerate(values) if v == 0 and (i == 0 or values[i - 1] == 1)]
    assert flaps == [at(i) for i in expected]
