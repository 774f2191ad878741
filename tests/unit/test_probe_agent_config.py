"""The agent's configuration and the pure interface check."""

from __future__ import annotations

from pathlib import Path

import pytest

from dropsleuth.aws.errors import InputError
from dropsleuth.model import FindingCode, Severity
from dropsleuth.probe.agent import load_config, to_metric_data
from dropsleuth.probe.interfaces import InterfaceState, check_interfaces, parse_expectations
from dropsleuth.probe.spool import Datapoint

EXAMPLE = Path(__file__).parents[2] / "deploy" / "agent" / "site.yaml"


def test_the_shipped_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.site == "branch-12"
    assert config.expected_mtus == {"eno1": 1500, "vlan20": 1400}
    assert config.upload is not None


def test_a_bad_config_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("site: x\ntargets: [{address: 10.0.0.1, mode: carrier-pigeon}]\n")
    with pytest.raises(InputError, match=r"targets\.0\.mode"):
        load_config(path)


def test_metric_data_keeps_the_original_timestamp_and_sorted_dimensions() -> None:
    (datum,) = to_metric_data(
        [Datapoint("PathMtu", 1400, "Bytes", 1_700_000_000, {"Target": "t", "Site": "s"})]
    )
    assert datum["Timestamp"].timestamp() == 1_700_000_000
    assert datum["Dimensions"] == [{"Name": "Site", "Value": "s"}, {"Name": "Target", "Value": "t"}]


def test_interface_check_flags_larger_and_missing_interfaces() -> None:
    states = [InterfaceState("eno1", 9000, True), InterfaceState("eno2", 1500, True)]
    found = check_interfaces(states, {"eno1": 1500, "eno2": 1500, "vlan9": 1400}, ["eno1"])
    by_name = {f.resource_ids[0]: f for f in found}
    assert set(by_name) == {"eno1", "vlan9"}
    assert by_name["eno1"].code is FindingCode.INTERFACE_MTU_UNEXPECTED
    # Configuration alone is a risk: both are warnings; the larger MTU on the default route is the surer one.
    assert by_name["eno1"].severity is Severity.WARNING
    assert "default route" in by_name["eno1"].title
    assert by_name["vlan9"].severity is Severity.WARNING
    assert by_name["eno1"].confidence > by_name["vlan9"].confidence


@pytest.mark.parametrize("bad", ["eno1", "eno1=", "=1500", "eno1=15x", "eno1=20"])
def test_expectations_are_validated(bad: str) -> None:
    with pytest.raises(ValueError, match="IFACE=MTU"):
        parse_expectations([bad])
