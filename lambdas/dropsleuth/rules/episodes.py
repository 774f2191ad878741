"""Which ALARM transitions of one alarm are one incident (pure: no I/O, no clock).

An alarm on a black-holed site does not fire once: the throughput recovers for a minute when a TCP
connection is rescued by a retransmission timeout, the VPN tunnel flaps, and the alarm goes
ALARM → OK → ALARM several times. Each transition is an EventBridge event; investigating each would page the
operator four times for one cause. The transitions are therefore grouped into *episodes*:

* a transition less than ``gap`` after the episode's latest one belongs to that episode (a flap);
* after ``gap`` of quiet a new episode begins (a new incident);
* an episode never lasts longer than ``longest``: a problem that never settles is looked at afresh.

Grouping by gaps rather than by fixed clock buckets matters: with 30-minute buckets, flaps at 09:29 and
09:31 would fall on either side of 09:30 and give two investigations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

EPISODE_GAP = timedelta(minutes=30)
EPISODE_LONGEST = timedelta(hours=2)


@dataclass(frozen=True)
class Episode:
    """The first and the latest ALARM transition of one incident of one alarm."""

    start: datetime
    latest: datetime


def next_episode(
    current: Episode | None,
    at: datetime,
    *,
    gap: timedelta = EPISODE_GAP,
    longest: timedelta = EPISODE_LONGEST,
) -> Episode:
    """The episode the transition at ``at`` belongs to, given the alarm's ``current`` (stored) episode.

    Its ``start`` is the episode's identity (the investigation's idempotency key is built from it), so it
    never moves once chosen: a late-delivered transition from just before ``current.start`` joins
    ``current`` instead of moving its start back. A transition long before ``current`` (an old event
    redelivered) stands alone: the caller must not store it over the newer episode (``is_newer``).
    """
    if current is None:
        return Episode(at, at)
    if at < current.start:
        return current if current.start - at <= gap else Episode(at, at)
    if at - current.latest <= gap and at - current.start <= longest:
        return Episode(current.start, max(current.latest, at))
    return Episode(at, at)


def is_newer(candidate: Episode, current: Episode | None) -> bool:
    """Whether ``candidate`` should replace the stored ``current`` (it never goes back in time)."""
    return current is None or (candidate != current and candidate.start >= current.start)
