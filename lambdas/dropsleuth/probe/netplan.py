"""Reads a netplan file and checks it against the expected MTUs before it is applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dropsleuth.aws.errors import InputError
from dropsleuth.model import Finding
from dropsleuth.probe.interfaces import default_route_interfaces
from dropsleuth.rules.netplan import check_netplan


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML parse error as one line (PyYAML's message spans several, with a caret drawing)."""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def load_netplan_file(path: str | Path) -> dict[str, Any]:
    """The YAML of a netplan file; unreadable, invalid YAML or no ``network:`` mapping is an InputError."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}", field="file") from error
    except yaml.YAMLError as error:
        raise InputError(f"{path} is not valid YAML: {yaml_problem(error)}", field="file") from error
    if not isinstance(document, dict) or not isinstance(document.get("network"), dict):
        raise InputError(f"{path} has no `network:` mapping: not a netplan file", field="file")
    return document


def check_file(
    path: str | Path, expected: dict[str, int], *, current_default: str | None = None
) -> list[Finding]:
    """Findings for the netplan file at ``path``; the default-route interface is read from this host
    unless given."""
    document = load_netplan_file(path)
    if current_default is None:
        defaults = default_route_interfaces()
        current_default = defaults[0] if defaults else None
    return check_netplan(document, expected, current_default)
