"""The agent's host drop-counter datapoints: deltas only against a usable previous reading."""

from __future__ import annotations

import shutil
from pathlib import Path

from dropsleuth.probe.host_drop_metrics import host_drop_points

FIXTURES = Path(__file__).parents[1] / "fixtures" / "host_counters"


def tree(tmp_path: Path, fixture: str, boot_id: str = "boot-a") -> Path:
    root = tmp_path / "host"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(FIXTURES / fixture, root, symlinks=True)
    (root / "proc/sys/kernel/random").mkdir(parents=True, exist_ok=True)
    (root / "proc/sys/kernel/random/boot_id").write_text(boot_id + "\n")
    return root / "proc"


def points(tmp_path: Path, proc: Path, now: float) -> dict[str, float]:
    found = host_drop_points(
        "site", state_file=tmp_path / "state.json", now=now, max_age_s=180, proc=proc, host="h", ethtool=None
    )
    assert all(p.dimensions == {"Site": "site", "Host": "h"} for p in found)
    return {p.name: p.value for p in found}


def test_the_first_reading_publishes_only_the_conntrack_level_then_deltas(tmp_path: Path) -> None:
    first = points(tmp_path, tree(tmp_path, "listen_overflow_before"), 1000.0)
    assert set(first) == {"ConntrackTableUsedPercent"}
    second = points(tmp_path, tree(tmp_path, "listen_overflow_during"), 1060.0)
    assert second["TcpListenOverflows"] == 12
    assert second["TcpListenDrops"] == 12
    # A fresh namespace has loopback only: no NIC counter at all, rather than a zero.
    assert "NicRxDropped" not in second


def test_a_reading_from_another_boot_or_too_old_gives_no_delta(tmp_path: Path) -> None:
    points(tmp_path, tree(tmp_path, "listen_overflow_before"), 1000.0)
    rebooted = points(tmp_path, tree(tmp_path, "listen_overflow_during", boot_id="boot-b"), 1060.0)
    assert "TcpListenOverflows" not in rebooted
    points(tmp_path, tree(tmp_path, "listen_overflow_before", boot_id="boot-b"), 2000.0)
    stale = points(tmp_path, tree(tmp_path, "listen_overflow_during", boot_id="boot-b"), 2000.0 + 181)
    assert "TcpListenOverflows" not in stale


def test_a_damaged_state_file_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"taken_at": 1')
    assert "TcpListenOverflows" not in points(tmp_path, tree(tmp_path, "listen_overflow_during"), 1000.0)
    assert points(tmp_path, tree(tmp_path, "listen_overflow_during"), 1060.0)["TcpListenOverflows"] == 0
