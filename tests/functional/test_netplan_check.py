"""``dropsleuth netplan-check FILE``: real netplan files, the checks and the CLI's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dropsleuth.aws.errors import InputError
from dropsleuth.probe.netplan import check_file
from tests.support import subprocess_env

DROPSLEUTH = str(Path(sys.executable).with_name("dropsleuth"))

SITE = """\
# /etc/netplan/01-site.yaml
network:
  version: 2
  renderer: networkd
  ethernets:
    eno1:
      addresses: [192.0.2.10/24]
      routes:
        - to: default
          via: 192.0.2.1
    eno2:
      mtu: 9000
      addresses: [198.51.100.10/24]
  vlans:
    vlan20:
      id: 20
      link: eno1
      mtu: 1400
"""


def _file(tmp_path: Path, text: str, name: str = "01-site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DROPSLEUTH, "netplan-check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=False,
    )


def test_a_clean_file(tmp_path: Path) -> None:
    path = _file(tmp_path, SITE)
    assert check_file(path, {"eno1": 1500, "eno2": 9000, "vlan20": 1400}, current_default="eno1") == []
    done = _cli(str(path), "--expect", "eno1=1500", "--expect", "eno2=9000", "--default-interface", "eno1")
    assert done.returncode == 0, done.stderr
    assert "no MTU or default-route problem found" in done.stdout


def test_the_jumbo_mtu_on_the_wrong_interface(tmp_path: Path) -> None:
    # The change meant to raise eno1 to 9000 put it on eno2.
    path = _file(tmp_path, SITE)
    done = _cli(str(path), "--expect", "eno1=9000", "--default-interface", "eno1", "-o", "json")
    assert done.returncode == 1, done.stderr
    (finding,) = json.loads(done.stdout)["findings"]
    assert finding["code"] == "INTERFACE_MTU_UNEXPECTED"
    assert finding["resource_ids"] == ["eno1"]
    assert "MTU 9000 is set on eno2 instead" in finding["title"]


def test_a_vlan_above_its_parent_and_the_default_route_moving(tmp_path: Path) -> None:
    changed = (
        SITE.replace("mtu: 1400", "mtu: 9000")
        .replace(
            "    eno2:\n      mtu: 9000\n",
            "    eno2:\n      mtu: 9000\n      routes: [{to: default, via: 198.51.100.1}]\n",
        )
        .replace("      routes:\n        - to: default\n          via: 192.0.2.1\n", "")
    )
    path = _file(tmp_path, changed)
    found = check_file(path, {}, current_default="eno1")
    titles = sorted(f.title for f in found)
    assert titles == [
        "VLAN vlan20 has MTU 9000, above its parent eno1's 1500",
        "the default route moves from eno1 to eno2",
    ]
    done = _cli(str(path), "--default-interface", "eno1")
    assert done.returncode == 1
    assert "RECENT_NETWORK_CHANGE" in done.stdout
    assert "vlan20" in done.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("network: [unclosed\n", "is not valid YAML"),
        ("just: a mapping\n", "no `network:` mapping"),
    ],
)
def test_a_file_that_is_not_netplan_is_bad_input(tmp_path: Path, text: str, message: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(InputError, match=message):
        check_file(path, {}, current_default="eno1")
    done = _cli(str(path), "--default-interface", "eno1")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert message in done.stderr


def test_a_missing_file_and_a_bad_expectation_are_bad_input(tmp_path: Path) -> None:
    missing = _cli(str(tmp_path / "nope.yaml"), "--default-interface", "eno1")
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    bad = _cli(str(_file(tmp_path, SITE)), "--expect", "eno1=big", "--default-interface", "eno1")
    assert bad.returncode == 2
    assert "--expect" in bad.stderr
