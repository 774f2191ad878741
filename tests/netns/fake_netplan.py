"""A stand-in for ``netplan apply`` in the lab (netplan itself is not installed there): applies the MTU of
every interface the YAML files in DIRECTORY declare, with a real ``ip link set … mtu``, in lexical order
as netplan merges them. Usage: python fake_netplan.py DIRECTORY"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

SECTIONS = ("ethernets", "bonds", "bridges", "vlans")


def main(directory: str) -> int:
    mtus: dict[str, int] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        network = (yaml.safe_load(path.read_text()) or {}).get("network") or {}
        for section in SECTIONS:
            for name, settings in (network.get(section) or {}).items():
                if isinstance(settings, dict) and settings.get("mtu"):
                    mtus[str(name)] = int(settings["mtu"])
    for name, mtu in sorted(mtus.items()):
        subprocess.run(["ip", "link", "set", "dev", name, "mtu", str(mtu)], check=True, timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
