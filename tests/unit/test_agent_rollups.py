"""Site-only roll-ups: the alarms watch ``Site`` alone; CloudWatch does not aggregate across dimensions."""

from __future__ import annotations

from dropsleuth.probe.agent import with_site_rollups
from dropsleuth.probe.spool import Datapoint

T = 1_763_629_200.0  # 2025-11-20T09:00:00Z


def test_black_hole_toward_one_target_raises_the_site_series() -> None:
    points = [
        Datapoint("PathMtuBlackHole", 0.0, "Count", T + 1, {"Site": "plant-7", "Target": "a"}),
        Datapoint("PathMtuBlackHole", 1.0, "Count", T + 2, {"Site": "plant-7", "Target": "b"}),
        Datapoint("PathMtu", 1500.0, "Bytes", T + 2, {"Site": "plant-7", "Target": "b"}),
        Datapoint("InterfaceMtuMismatch", 0.0, "Count", T + 3, {"Site": "plant-7", "Interface": "eno1"}),
        Datapoint("UploadThroughputMbps", 1.8, "Megabits/Second", T + 4, {"Site": "plant-7"}),
    ]
    rolled = with_site_rollups(points)
    added = rolled[len(points) :]
    assert rolled[: len(points)] == points
    by_name = {p.name: p for p in added}
    # Alarmed and measured per target/interface: one Site-only point, the worst of them
    assert by_name["PathMtuBlackHole"].value == 1.0
    assert by_name["PathMtuBlackHole"].dimensions == {"Site": "plant-7"}
    assert by_name["InterfaceMtuMismatch"].value == 0.0
    # Context-only metrics and metrics already per site are not duplicated
    assert "PathMtu" not in by_name
    assert "UploadThroughputMbps" not in by_name


def test_rollups_are_per_minute_and_per_site() -> None:
    points = [
        Datapoint("PathMtuBlackHole", 1.0, "Count", T, {"Site": "a", "Target": "x"}),
        Datapoint("PathMtuBlackHole", 0.0, "Count", T + 60, {"Site": "a", "Target": "x"}),
        Datapoint("PathMtuBlackHole", 0.0, "Count", T, {"Site": "b", "Target": "x"}),
    ]
    added = with_site_rollups(points)[3:]
    assert sorted((p.dimensions["Site"], p.timestamp, p.value) for p in added) == [
        ("a", T, 1.0),
        ("a", T + 60, 0.0),
        ("b", T, 0.0),
    ]
