"""What the site agent measured, as findings and evidence (pure: no I/O, no clock).

Reads the step data the path and metrics steps leave (``interface_mtus`` {name: {expected, points}},
``black_hole_by_target`` {target: points}, ``changes`` with their ``site_change`` details) and turns them
into:

- ``INTERFACE_MTU_UNEXPECTED`` for an interface whose measured MTU at the onset differs from the registry's
  expectation: high when a black hole is found now (the symptom that makes it the cause), else a warning
  (configuration alone is a risk); its evidence is the measured series and the change record that set it;
- evidence on the black hole from the agent's own DF-probe verdict toward each named target (the ranking
  counts the verdict as a symptom: ``rules/ranking.py`` ``black_hole_symptoms``).

Kept apart from ``ranking.py`` so the ranking's severity rules and these measurements evolve separately.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity


def _points(raw: object) -> list[tuple[datetime, float]]:
    points = []
    for item in raw if isinstance(raw, list | tuple) else ():
        if not isinstance(item, Mapping):
            continue
        try:
            points.append((datetime.fromisoformat(str(item["at"])), float(item["value"])))
        except (KeyError, TypeError, ValueError):
            continue
    return sorted(points)


def value_at(points: Sequence[tuple[datetime, float]], moment: datetime | None) -> float | None:
    """The measurement in force at ``moment``: the last at or before it, else the first after it; with no
    moment, the largest (what a black hole would follow from)."""
    if not points:
        return None
    if moment is None:
        return max(value for _, value in points)
    before = [value for at, value in points if at <= moment]
    return before[-1] if before else points[0][1]


def _interface_change(
    changes: object, interface: str, measured: float, onset: datetime | None
) -> Mapping[str, Any] | None:
    """The site change record that set ``interface`` to ``measured``: the last such before the onset."""
    found = None
    for change in changes if isinstance(changes, list | tuple) else ():
        details = change.get("site_change") if isinstance(change, Mapping) else None
        if not (
            isinstance(details, Mapping)
            and details.get("kind") == "interface_mtu"
            and details.get("interface") == interface
            and details.get("after") == int(measured)
        ):
            continue
        at = _time(change.get("at"))
        if onset is not None and (at is None or at > onset):
            continue
        found = change
    return found


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def interface_mtu_findings(
    data: Mapping[str, Any], onset: datetime | None, *, black_hole_now: bool
) -> list[Finding]:
    """INTERFACE_MTU_UNEXPECTED for each interface the agent measured at another MTU than expected."""
    raw = data.get("interface_mtus")
    findings = []
    for name, entry in sorted(raw.items()) if isinstance(raw, Mapping) else ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("expected"), int):
            continue
        expected = int(entry["expected"])
        points = _points(entry.get("points"))
        measured = value_at(points, onset)
        if measured is None or int(measured) == expected:
            continue
        larger = measured > expected
        evidence = [
            Evidence(
                kind="metric",
                summary=f"host agent: {name} at MTU {measured:g} at the onset (InterfaceMtu), not {expected}",
                resource_ids=(name,),
                data={
                    "interface": name,
                    "measured_mtu": int(measured),
                    "expected_mtu": expected,
                    "points": [[at.isoformat(), value] for at, value in points],
                },
            )
        ]
        change = _interface_change(data.get("changes"), name, measured, onset)
        if change is not None:
            evidence.append(
                Evidence(
                    kind="change_event",
                    summary=str(change.get("summary")),
                    resource_ids=tuple(str(r) for r in change.get("resource_ids") or ()),
                    data={"at": change.get("at"), "actor": change.get("actor"), **change["site_change"]},
                )
            )
        severity = Severity.HIGH if larger and black_hole_now else Severity.WARNING
        condition = (
            "and a black hole is dropping its large packets now (see the finding above)"
            if severity is Severity.HIGH
            else "a risk: large transfers stall wherever the path cannot carry them and frag-needed is lost; "
            "verify with `dropsleuth probe pmtu <target>` from the host"
        )
        findings.append(
            Finding(
                code=FindingCode.INTERFACE_MTU_UNEXPECTED,
                severity=severity,
                confidence=0.95,
                title=f"interface {name} runs at MTU {measured:g}, the site expects {expected}",
                detail=f"The host agent measured {name} at {measured:g} where the registry expects {expected}"
                + (f" ({change.get('summary')})" if change else "")
                + f": {condition}.",
                resource_ids=(name,),
                evidence=tuple(evidence),
                remediation=Remediation(
                    summary=f"Set {name}'s MTU back to {expected} (netplan: `mtu: {expected}` under {name}), "
                    "through `dropsleuth netplan apply` so the change is tested and reverted if it fails.",
                    commands=(f"ip link set dev {name} mtu {expected}",),
                ),
            )
        )
    return findings


def agent_black_hole_evidence(data: Mapping[str, Any]) -> list[Evidence]:
    """The agent's DF-probe verdicts that found a black hole, one piece of evidence per target."""
    raw = data.get("black_hole_by_target")
    evidence = []
    for target, rows in sorted(raw.items()) if isinstance(raw, Mapping) else ():
        points = _points(rows)
        holes = [at for at, value in points if value >= 1]
        if not holes:
            continue
        evidence.append(
            Evidence(
                kind="metric",
                summary=f"host agent's DF probes toward {target}: black hole in {len(holes)} of "
                f"{len(points)} cycles, from {holes[0].isoformat()} (PathMtuBlackHole)",
                resource_ids=(str(target),),
                data={"target": target, "points": [[at.isoformat(), value] for at, value in points]},
            )
        )
    return evidence
