"""A drop counter before and since the onset, and how its signal is graded (pure: no I/O, no clock).

Every cause beyond PMTUD has a counter that shows it (``rules/host_drops.py``, ``rules/aws_drops.py``).
What makes one the cause of *this* incident is timing: a counter that began, or rose several-fold, at the
onset is evidence of drops now (high); one that counts at the rate it always did is background (warning);
one that counted nothing in the window is "checked, clean". Without an onset there is no before: counting
in the window is a warning at most: high needs evidence of drops now (docs/runbook/other-drops.md).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from dropsleuth.model import Severity
from dropsleuth.rules.onset import Point

T = TypeVar("T")

RISE_FACTOR = 3.0
"""A counter rose at the onset when its rate since is at least this many times its rate before."""
MIN_RATE_PER_MINUTE = 1.0
"""Below one event a minute since the onset, a counter is too small to explain an outage on its own."""


class Grade(enum.StrEnum):
    CLEAN = "clean"
    BACKGROUND = "background"
    """Counting, but as much as before the onset (or no onset known)."""
    ROSE_AT_ONSET = "rose_at_onset"


@dataclass(frozen=True)
class CounterWindow:
    """A counter's total growth in the minutes before the onset and in the minutes since."""

    before_total: float
    before_minutes: int
    during_total: float
    during_minutes: int
    first_counted: datetime | None = None
    """The first minute since the onset with a non-zero value."""

    @property
    def rate_before(self) -> float:
        return self.before_total / self.before_minutes if self.before_minutes else 0.0

    @property
    def rate_during(self) -> float:
        return self.during_total / self.during_minutes if self.during_minutes else 0.0

    @property
    def grade(self) -> Grade:
        if self.during_total <= 0:
            return Grade.CLEAN
        if (
            self.before_minutes > 0
            and self.rate_during >= MIN_RATE_PER_MINUTE
            and self.rate_during >= RISE_FACTOR * self.rate_before
        ):
            return Grade.ROSE_AT_ONSET
        return Grade.BACKGROUND

    def describe(self) -> str:
        """``"0 in 40 min before the onset (0/min), 5,340 in 50 min since (107/min)"``."""
        since = f"{self.during_total:,.0f} in {self.during_minutes} min since ({self.rate_during:,.1f}/min)"
        if not self.before_minutes:
            return f"{self.during_total:,.0f} in the {self.during_minutes} min window (no onset to compare)"
        return (
            f"{self.before_total:,.0f} in {self.before_minutes} min before the onset "
            f"({self.rate_before:,.1f}/min), {since}"
        )

    def as_data(self) -> dict[str, float | int | str | None]:
        return {
            "before_total": self.before_total,
            "before_minutes": self.before_minutes,
            "during_total": self.during_total,
            "during_minutes": self.during_minutes,
            "rate_before_per_min": round(self.rate_before, 3),
            "rate_during_per_min": round(self.rate_during, 3),
            "first_counted": self.first_counted.isoformat() if self.first_counted else None,
            "grade": self.grade.value,
        }


def split_at_onset(points: Iterable[Point], onset: datetime | None) -> CounterWindow:
    """Per-minute counts split at ``onset`` (every point is "since" when the onset is unknown).

    Minutes are counted from the points themselves (one per published minute), so a gap in the metrics
    shortens the window instead of diluting the rate.
    """
    before = [(t, v) for t, v in points if onset is not None and t < onset]
    during = sorted((t, v) for t, v in points if onset is None or t >= onset)
    first = next((t for t, v in during if v > 0), None)
    return CounterWindow(
        before_total=sum(v for _, v in before),
        before_minutes=len(before),
        during_total=sum(v for _, v in during),
        during_minutes=len(during),
        first_counted=first,
    )


@dataclass(frozen=True)
class CauseGrade(Generic[T]):
    """How a cause's counted series grade it: the series that make the case, the lead one, and what that
    means for the finding (severity, confidence, and the words for the lead's timing)."""

    shown: tuple[T, ...]
    """The series that rose at the onset, or every one that counted when none did."""
    lead: T
    severity: Severity
    confidence: float
    when: str


def grade_cause(
    counted: Sequence[T], window: Callable[[T], CounterWindow], *, onset_known: bool
) -> CauseGrade[T]:
    """High when a counter began or rose several-fold at the onset (drops now); a warning when they only
    count at their usual rate, or no onset is known. ``counted``: series that counted (not empty)."""
    rose = tuple(c for c in counted if window(c).grade is Grade.ROSE_AT_ONSET)
    shown = rose or tuple(counted)
    lead = max(shown, key=lambda c: window(c).during_total)
    if rose:
        began = window(lead).before_total == 0
        when = "began at the onset" if began else "rose several-fold at the onset"
        return CauseGrade(shown, lead, Severity.HIGH, 0.85, when)
    when = (
        "counting at its usual rate (background)"
        if onset_known
        else "counting in the window (no onset known)"
    )
    return CauseGrade(shown, lead, Severity.WARNING, 0.4, when)
