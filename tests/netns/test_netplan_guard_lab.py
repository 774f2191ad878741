"""``dropsleuth netplan apply`` in the lab: real ``ip link`` apply and revert in the edge namespace (a
stand-in for ``netplan apply``, tests/netns/fake_netplan.py), real DF probes toward the cloud namespace
across the black-holing path. SITE-2847's mistake is refused, reverted by itself when forced; a good change
is kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netns.lab import Lab, sh

pytestmark = pytest.mark.netns

DROPSLEUTH = str(Path(sys.executable).with_name("dropsleuth"))
FAKE_NETPLAN = Path(__file__).with_name("fake_netplan.py")


def _netplan(mtu: int) -> str:
    return f"network:\n  version: 2\n  ethernets:\n    e0:\n      mtu: {mtu}\n"


def _mtu(lab: Lab) -> int:
    links = json.loads(sh("ip", "-j", "link", "show", "dev", "e0", netns=lab.ns("edge")).stdout)
    return int(links[0]["mtu"])


@pytest.fixture
def site(tmp_path: Path, blackhole_lab: Lab) -> Path:
    """The edge host's site.yaml, /etc/netplan with e0 at 1500 (applied), and the new file's place."""
    (tmp_path / "netplan").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "netplan" / "50-lab.yaml").write_text(_netplan(1500))
    sh("ip", "link", "set", "dev", "e0", "mtu", "1500", netns=blackhole_lab.ns("edge"))
    config = tmp_path / "site.yaml"
    spool = tmp_path / "state" / "spool.jsonl"
    config.write_text(
        "site: lab-site\nhost: edge-1\nexpected_mtus: {e0: 1500}\n"
        f"targets: [{{address: {blackhole_lab.cloud_ip}}}]\nspool: {{path: {spool}}}\n"
    )
    return tmp_path


def _apply(lab: Lab, site: Path, mtu: int, *extra: str) -> subprocess.CompletedProcess[str]:
    new = site / "new" / "50-lab.yaml"
    new.write_text(_netplan(mtu))
    command = f"{sys.executable} {FAKE_NETPLAN} {site / 'netplan'}"
    env = {
        **os.environ,
        # Change records go nowhere from inside the lab (a closed local port): they stay queued.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [
            "ip", "netns", "exec", lab.ns("edge"), DROPSLEUTH, "netplan", "apply", str(new),
            "--config", str(site / "site.yaml"), "--netplan-dir", str(site / "netplan"),
            "--backup-dir", str(site / "backups"), "--default-interface", "e0", "--ticket", "CHG-4711",
            "--test-duration", "3", "--every", "1", "--yes",
            "--apply-command", command, "--revert-command", command, "-o", "json", *extra,
        ],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip


def _queued(site: Path) -> list[dict[str, object]]:
    state = json.loads((site / "state" / "agent-state.json").read_text())
    return list(state["pending_changes"])


def test_the_wan_interface_to_9000_is_refused_and_when_forced_reverted_by_itself(
    blackhole_lab: Lab, site: Path
) -> None:
    # When the SITE-2847 change is applied without --force
    refused = _apply(blackhole_lab, site, 9000)
    # Then it is refused, naming the WAN interface, and nothing changed
    assert refused.returncode == 1, refused.stdout + refused.stderr
    answer = json.loads(refused.stdout)
    assert answer["status"] == "refused"
    assert "you are changing e0, the WAN interface" in answer["findings"][0]["title"]
    assert _mtu(blackhole_lab) == 1500
    assert "mtu: 1500" in (site / "netplan" / "50-lab.yaml").read_text()

    # When forced: applied for real, the DF probes find the black hole, the change is reverted by itself
    forced = _apply(blackhole_lab, site, 9000, "--force")
    assert forced.returncode == 1, forced.stdout + forced.stderr
    answer = json.loads(forced.stdout)
    assert answer["status"] == "reverted"
    assert "post-change test failed" in answer["reason"]
    assert "black_hole" in answer["test_failures"][0]
    assert answer["changes"] == ["e0 mtu 1500 -> 9000"]
    assert _mtu(blackhole_lab) == 1500
    assert "mtu: 1500" in (site / "netplan" / "50-lab.yaml").read_text()
    # And both steps are recorded, with the ticket, in the agent's queue for the change log
    kinds = [(r["kind"], r["ticket"]) for r in _queued(site)]
    assert kinds == [("netplan_apply", "CHG-4711"), ("netplan_revert", "CHG-4711")]


def test_a_good_change_is_kept(blackhole_lab: Lab, site: Path) -> None:
    # Given e0 at 1400 today (the old file says so), and a change back to the expected 1500
    (site / "netplan" / "50-lab.yaml").write_text(_netplan(1400))
    sh("ip", "link", "set", "dev", "e0", "mtu", "1400", netns=blackhole_lab.ns("edge"))
    kept = _apply(blackhole_lab, site, 1500)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    answer = json.loads(kept.stdout)
    assert answer["status"] == "kept"
    assert answer["test_failures"] == []
    assert answer["test_runs"] >= 3
    assert _mtu(blackhole_lab) == 1500
    assert "mtu: 1500" in (site / "netplan" / "50-lab.yaml").read_text()
    assert [r["kind"] for r in _queued(site)] == ["netplan_apply"]
