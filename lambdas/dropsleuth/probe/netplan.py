"""Reads a netplan file and checks it against the expected MTUs before it is applied."""

from __future__ import annotations

from pathlib import Path

import yaml

from dropsleuth.aws.errors import InputError
from dropsleuth.model import Finding
from dropsleuth.probe.interfaces import default_route_interfaces
from dropsleuth.rules.netplan import check_netplan


def check_file(
    path: str | Path, expected: dict[str, int], *, current_default: str | None = None
) -> list[Finding]:
    """Findings for the netplan file at ``path``; the default-route interface is read from this host
    unless given."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}", field="file") from error
    except yaml.YAMLError as error:
        raise InputError(f"{path} is not valid YAML: {error}", field="file") from error
    if not isinstance(document, dict) or not isinstance(document.get("network"), dict):
        raise InputError(f"{path} has no `network:` mapping: not a netplan file", field="file")
    if current_default is None:
        defaults = default_route_interfaces()
        current_default = defaults[0] if defaults else None
    return check_netplan(document, expected, current_default)
