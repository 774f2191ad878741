"""When the incident began, and how often the VPN tunnel went down (pure: no I/O, no clock).

The onset rule (issue 5): the first minute whose throughput falls below half of the preceding hour's
median, confirmed by the next minute — or, where throughput does not say, the first minute frag-needed
messages rise above the preceding hour's level. A flap is a transition of AWS/VPN ``TunnelState`` from up
(1) to down (0) ("Monitoring your Site-to-Site VPN connection with CloudWatch", Site-to-Site VPN User
Guide: 1 = up, 0 = down; with the Minimum statistic per minute, a tunnel that dropped inside the minute
reads 0).

Series are ``(time, value)`` points; unsorted input is sorted, and duplicates are kept as given.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

Point = tuple[datetime, float]

COLLAPSE_FRACTION = 0.5
"""A minute below this fraction of the baseline median is a collapse."""
BASELINE_SPAN = timedelta(minutes=60)
"""The baseline is the hour before the minute being judged."""
MIN_BASELINE_POINTS = 5
"""Fewer points than this in the hour before are no baseline (a new host, a gap in the metrics)."""
FRAG_NEEDED_RISE_FACTOR = 2.0
FRAG_NEEDED_MIN_RISE = 1.0
"""A frag-needed rise: above twice the baseline median and at least one message more than it."""


@dataclass(frozen=True)
class Collapse:
    """A throughput collapse: when it began, the level before and during, and when it recovered."""

    onset: datetime
    baseline: float
    during: float
    recovered_at: datetime | None
    source: str

    def describe(self) -> str:
        recovered = f", recovered at {_hhmm(self.recovered_at)}" if self.recovered_at else ", not recovered"
        return (
            f"{self.source} throughput fell from {self.baseline:.1f} to {self.during:.1f} Mbps "
            f"at {_hhmm(self.onset)}{recovered}"
        )


def _baseline(points: Sequence[Point], index: int) -> float | None:
    """The median of the points in the hour before ``points[index]`` (None: too few for a baseline)."""
    at = points[index][0]
    before = [value for t, value in points[:index] if at - BASELINE_SPAN <= t < at]
    return statistics.median(before) if len(before) >= MIN_BASELINE_POINTS else None


def detect_collapse(series: Sequence[Point], *, source: str) -> Collapse | None:
    """The first point below half of the preceding hour's median, confirmed by the next point.

    A single low minute followed by a normal one is noise, not an onset. A collapse in the last point has
    nothing to confirm it and counts. The recovery is the first later point back at or above the
    threshold.
    """
    points = sorted(series)
    for index, (at, value) in enumerate(points):
        baseline = _baseline(points, index)
        if baseline is None or baseline <= 0:
            continue
        threshold = baseline * COLLAPSE_FRACTION
        if value >= threshold:
            continue
        following = points[index + 1 : index + 2]
        if following and following[0][1] >= threshold:
            continue
        during: list[float] = []
        recovered_at = None
        for later_at, later_value in points[index:]:
            if later_value >= threshold:
                recovered_at = later_at
                break
            during.append(later_value)
        return Collapse(at, baseline, statistics.median(during), recovered_at, source)
    return None


def frag_needed_rise(series: Sequence[Point]) -> datetime | None:
    """The first minute frag-needed messages rose above the preceding hour's level, or None."""
    points = sorted(series)
    for index, (at, value) in enumerate(points):
        baseline = _baseline(points, index)
        if baseline is None:
            continue
        if value > baseline * FRAG_NEEDED_RISE_FACTOR and value >= baseline + FRAG_NEEDED_MIN_RISE:
            return at
    return None


def onset(throughput: Sequence[Point], frag_needed: Sequence[Point] = ()) -> datetime | None:
    """The incident's onset: the throughput collapse, else the frag-needed rise, else None."""
    collapse = detect_collapse(throughput, source="throughput")
    return collapse.onset if collapse else frag_needed_rise(frag_needed)


def tunnel_flaps(tunnel_state: Sequence[Point]) -> list[datetime]:
    """The minutes a tunnel went down after being up (or was down at the first point): ``TunnelState`` 1→0."""
    down = []
    previous: float | None = None
    for at, value in sorted(tunnel_state):
        if value < 1 and (previous is None or previous >= 1):
            down.append(at)
        previous = value
    return down


def _hhmm(at: datetime | None) -> str:
    return at.strftime("%H:%M UTC") if at else "?"
