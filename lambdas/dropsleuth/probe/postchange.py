"""After a network change: keep testing large-payload connectivity for a while, and fail loudly.

``dropsleuth probe post-change --target T --duration 300`` repeats a DF path-MTU probe (and, in TCP mode,
a real large transfer) every few seconds for the whole duration; any black hole, mixed verdict or lost
reachability makes the run fail (exit 1) with what was seen and when.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dropsleuth.probe.pmtu import PmtuResult, ProbeSettings, probe_path
from dropsleuth.rules.pmtu_verdict import PathVerdict


@dataclass
class PostChangeReport:
    target: str
    runs: int = 0
    failures: list[str] = field(default_factory=list)
    path_mtus: set[int] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return self.runs > 0 and not self.failures


def post_change(
    target: str,
    *,
    duration_s: float,
    every_s: float = 5.0,
    settings: ProbeSettings | None = None,
    probe: Callable[[str, ProbeSettings], PmtuResult] = probe_path,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PostChangeReport:
    """Probe ``target`` every ``every_s`` seconds for ``duration_s``; bounded by the duration."""
    settings = settings or ProbeSettings()
    report = PostChangeReport(target)
    end = clock() + duration_s
    started = clock()
    while True:
        result = probe(target, settings)
        report.runs += 1
        at = clock() - started
        if result.verdict.path_mtu:
            report.path_mtus.add(result.verdict.path_mtu)
        if result.verdict.verdict is not PathVerdict.WORKS:
            report.failures.append(
                f"t+{at:.0f}s {result.verdict.verdict.value}: {result.verdict.explanation}"
            )
        remaining = end - clock()
        if remaining <= 0:
            break
        sleep(min(every_s, remaining))
    if len(report.path_mtus) > 1:
        report.failures.append(f"the path MTU changed during the test: {sorted(report.path_mtus)}")
    return report
