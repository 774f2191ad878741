"""The agent's systemd units: its own user, only the capabilities its probes need, credentials from
/etc/dropsleuth (read as systemd reads the files: key=value lines under sections)."""

from __future__ import annotations

from pathlib import Path

import pytest

UNITS = sorted((Path(__file__).parents[2] / "deploy" / "agent").glob("*.service"))


def _settings(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_the_agent_runs_as_its_own_user_with_raw_sockets_only(unit: Path) -> None:
    settings = _settings(unit)
    assert settings["DynamicUser"] == ["yes"]
    assert "User" not in settings
    assert settings["AmbientCapabilities"] == ["CAP_NET_RAW"]
    assert settings["CapabilityBoundingSet"] == ["CAP_NET_RAW"]
    assert settings["NoNewPrivileges"] == ["true"]
    assert settings["StateDirectory"] == ["dropsleuth"]
    # ProtectHome hides /root/.aws: the credentials' configuration lives under /etc/dropsleuth instead.
    assert settings["ProtectHome"] == ["true"]
    assert settings["Environment"] == ["AWS_CONFIG_FILE=/etc/dropsleuth/aws-config"]


def test_both_units_exist() -> None:
    assert [u.name for u in UNITS] == ["dropsleuth-agent-once.service", "dropsleuth-agent.service"]
