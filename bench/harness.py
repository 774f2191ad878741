"""What every benchmark reports: a measured figure beside a baseline measured in the same run.

This machine is shared and noisy, so absolute times mean little; the ratio to a baseline taken moments
before or after, on the same data, is the figure worth reading.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    benchmark: str
    measured: str
    value: float
    baseline: str
    baseline_value: float
    unit: str = "s"
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else float("inf")

    def line(self) -> str:
        return (
            f"{self.benchmark}: {self.measured} = {self.value:.4g} {self.unit}; "
            f"baseline {self.baseline} = {self.baseline_value:.4g} {self.unit}; "
            f"ratio {self.ratio:.3g}" + (f" ({self.note})" if self.note else "")
        )


def best_of(fn: Callable[[], object], *, repeat: int = 5) -> float:
    """The fastest of ``repeat`` runs in seconds: the least disturbed by other load on the machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def median_of(fn: Callable[[], object], *, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
