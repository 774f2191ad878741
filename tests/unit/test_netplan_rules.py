"""Netplan pre-change checks over literal documents."""

from __future__ import annotations

import yaml

from dropsleuth.model import FindingCode
from dropsleuth.rules.netplan import check_netplan

DOC = yaml.safe_load(
    """
network:
  version: 2
  ethernets:
    eno1:
      addresses: [192.0.2.10/24]
      routes: [{to: default, via: 192.0.2.1}]
    eno2:
      mtu: 9000
  vlans:
    vlan20:
      id: 20
      link: eno1
      mtu: 1400
"""
)


def test_a_clean_file_has_no_findings() -> None:
    assert check_netplan(DOC, {"eno1": 1500, "eno2": 9000}, "eno1") == []


def test_mtu_on_the_wrong_interface() -> None:
    (finding,) = check_netplan(DOC, {"eno1": 9000}, "eno1")
    assert finding.code is FindingCode.INTERFACE_MTU_UNEXPECTED
    assert "eno1 would get MTU 1500, expected 9000" in finding.title
    assert "eno2" in finding.title


def test_vlan_above_its_parent() -> None:
    document = yaml.safe_load(yaml.safe_dump(DOC))
    document["network"]["vlans"]["vlan20"]["mtu"] = 9000
    (finding,) = check_netplan(document, {}, "eno1")
    assert finding.resource_ids == ("vlan20",)
    assert "above its parent eno1's 1500" in finding.title


def test_default_route_moved() -> None:
    (finding,) = check_netplan(DOC, {}, "eno2")
    assert finding.code is FindingCode.RECENT_NETWORK_CHANGE
    assert "from eno2 to eno1" in finding.title
