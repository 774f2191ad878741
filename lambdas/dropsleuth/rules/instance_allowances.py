"""EC2 network allowances from the CloudWatch agent's ethtool plugin, for the instances behind the path's
ends (pure: no I/O, no clock).

Users who already run the CloudWatch agent with its ``ethtool`` plugin publish the ENA driver's allowance
counters as ``ethtool_bw_in_allowance_exceeded`` … ``ethtool_linklocal_allowance_exceeded`` (namespace
``CWAgent`` by default; dimensions as the agent's configuration appends them, typically ``InstanceId``,
``driver``, ``interface``). They are the driver's running totals, not per-minute counts — "all of these
metrics are aggregate counters" (CloudWatch User Guide, "Collect network performance metrics"; sources in
docs/runbook/other-drops.md) — so each series is turned into its growth per minute first
(``counter_increases``), then graded against the onset like the dropsleuth agent's own ENA counters
(``rules/host_drops.py``, ``ENA_ALLOWANCE_EXCEEDED``: the same cause, meaning and fix).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from dropsleuth.metrics_catalog import HOST_DROP_METRICS
from dropsleuth.model import Evidence, Finding, FindingCode
from dropsleuth.rules.counter_windows import CounterWindow, Grade, grade_cause, split_at_onset
from dropsleuth.rules.host_drops import HOST_CAUSES, Assessment
from dropsleuth.rules.onset import Point

CLOUDWATCH_AGENT_NAMESPACE = "CWAgent"
SOURCE = "CloudWatch agent"
# The CloudWatch agent prefixes every ethtool statistic with "ethtool_" (same page).
ALLOWANCE_METRICS = tuple(
    f"ethtool_{counter.removeprefix('ena.')}" for counter in HOST_DROP_METRICS if counter.startswith("ena.")
)
_ENA = next(cause for cause in HOST_CAUSES if cause.code is FindingCode.ENA_ALLOWANCE_EXCEEDED)


@dataclass(frozen=True)
class AllowanceSeries:
    """One instance's ``ethtool_*_allowance_exceeded`` series as the agent published it: running totals."""

    metric: str
    dimensions: Mapping[str, str]
    points: Sequence[Point]

    @property
    def interface(self) -> str:
        return self.dimensions.get("interface", "")


@dataclass(frozen=True)
class InstanceAllowances:
    """What the CloudWatch agent published for one instance; ``unread``: why nothing could be read."""

    instance_id: str
    series: Sequence[AllowanceSeries] = ()
    namespace: str = CLOUDWATCH_AGENT_NAMESPACE
    unread: str = ""


def counter_increases(points: Sequence[Point]) -> tuple[Point, ...]:
    """A running total's growth per published minute (the first point is the baseline, so it has none).

    A total lower than the one before means the counter restarted (driver reload, reboot): the new total
    is all growth since.
    """
    ordered = sorted(points)
    return tuple(
        (at, value - previous if value >= previous else value)
        for (_, previous), (at, value) in itertools.pairwise(ordered)
    )


def _label(instance: str, series: AllowanceSeries) -> str:
    return f"{instance} {series.interface}".strip() + f" ({SOURCE})"


def assess_instance_allowances(instances: Sequence[InstanceAllowances], onset: datetime | None) -> Assessment:
    """The allowances of each instance ruled in (one ``ENA_ALLOWANCE_EXCEEDED`` finding) or out (lines)."""
    result = Assessment()
    counted: list[tuple[str, AllowanceSeries, CounterWindow]] = []
    silent: dict[str, list[str]] = {}
    for instance in instances:
        if instance.unread:
            result.checked.append(
                f"EC2 network allowances of {instance.instance_id} ({SOURCE}): unknown — {instance.unread}"
            )
            continue
        if not instance.series:
            silent.setdefault(instance.namespace, []).append(instance.instance_id)
            continue
        mine = [(s, split_at_onset(counter_increases(s.points), onset)) for s in instance.series]
        grew = [(instance.instance_id, s, w) for s, w in mine if w.grade is not Grade.CLEAN]
        if grew:
            counted.extend(grew)
            continue
        interfaces = (
            ", ".join(sorted({s.interface for s in instance.series if s.interface})) or "all interfaces"
        )
        result.checked.append(
            f"EC2 network allowances of {instance.instance_id} ({SOURCE}): checked, clean — "
            f"{len({s.metric for s in instance.series})} ethtool_*_allowance_exceeded counters did not grow "
            f"on {interfaces}"
        )
    for namespace, ids in silent.items():
        # One line for all of them: a subnet end can hold many instances without the agent.
        names = ", ".join(ids)
        result.checked.append(
            f"EC2 network allowances of {names} ({SOURCE}): unknown — the CloudWatch agent's ethtool plugin "
            f"does not publish for {names} (no ethtool_*_allowance_exceeded in {namespace} in the window)"
        )
    if counted:
        result.findings.append(_finding(counted, onset))
    return result


def _finding(counted: list[tuple[str, AllowanceSeries, CounterWindow]], onset: datetime | None) -> Finding:
    # The same grading as the dropsleuth agent's counters (rules/host_drops.py).
    graded = grade_cause(counted, lambda c: c[2], onset_known=onset is not None)
    _, lead_series, lead_window = graded.lead
    instances = tuple(dict.fromkeys(instance for instance, _, _ in graded.shown))
    since = "since the onset" if onset else "in the window"
    return Finding(
        code=FindingCode.ENA_ALLOWANCE_EXCEEDED,
        severity=graded.severity,
        confidence=graded.confidence,
        title=f"EC2 network allowance exceeded on {', '.join(instances)} ({SOURCE}): {lead_series.metric} "
        f"{lead_window.during_total:,.0f} {since}, {graded.when}",
        detail=f"The counter shows {_ENA.meaning}.",
        resource_ids=instances,
        evidence=tuple(
            Evidence(
                kind="metric",
                summary=f"{_label(instance, series)}: {series.metric} {window.describe()}",
                resource_ids=(instance,),
                data={
                    "instance_id": instance,
                    "source": SOURCE,
                    "metric": series.metric,
                    "dimensions": dict(series.dimensions),
                    **window.as_data(),
                },
            )
            for instance, series, window in counted
        ),
        remediation=_ENA.fix,
    )
