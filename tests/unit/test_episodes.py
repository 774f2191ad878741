"""Episodes: which ALARM transitions of one alarm are one incident (rules/episodes.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dropsleuth.rules.episodes import EPISODE_GAP, EPISODE_LONGEST, Episode, is_newer, next_episode

T0 = datetime(2026, 11, 20, 9, 29, tzinfo=UTC)


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def replay(transitions: list[datetime]) -> list[datetime]:
    """The episode start of each transition, storing episodes as the handler's store does."""
    current: Episode | None = None
    starts = []
    for at in transitions:
        episode = next_episode(current, at)
        if is_newer(episode, current):
            current = episode
        starts.append(episode.start)
    return starts


def test_flaps_across_a_half_hour_boundary_are_one_episode() -> None:
    assert set(replay([minutes(0), minutes(2), minutes(15), minutes(29)])) == {T0}


def test_a_quiet_gap_longer_than_the_gap_starts_a_new_episode() -> None:
    starts = replay([minutes(0), minutes(10), minutes(41)])
    assert starts == [T0, T0, minutes(41)]


def test_an_episode_that_never_settles_is_cut_at_its_longest() -> None:
    every_20 = [minutes(20 * i) for i in range(10)]  # 3 h of flapping, never 30 min quiet
    starts = replay(every_20)
    assert starts[:7] == [T0] * 7  # up to 2 h after the start
    assert starts[7] == minutes(140)


def test_a_late_delivery_joins_the_episode_without_moving_its_start() -> None:
    assert replay([minutes(5), minutes(1)]) == [minutes(5), minutes(5)]


def test_an_old_redelivery_stands_alone_and_is_not_stored_over_the_newer_episode() -> None:
    current = Episode(minutes(120), minutes(125))
    old = next_episode(current, minutes(0))
    assert old == Episode(minutes(0), minutes(0))
    assert not is_newer(old, current)


def _oracle_episode_count(times: list[datetime]) -> int:
    """Independently: walk the sorted times, open a new episode on a long gap or an overlong episode."""
    count, start, last = 0, None, None
    for at in sorted(times):
        if start is None or last is None or at - last > EPISODE_GAP or at - start > EPISODE_LONGEST:
            count, start = count + 1, at
        last = at
    return count


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=30))
def test_in_order_deliveries_give_as_many_episodes_as_the_oracle(offsets: list[int]) -> None:
    times = sorted(minutes(m) for m in offsets)
    assert len(set(replay(times))) == _oracle_episode_count(times)
