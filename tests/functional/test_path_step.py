"""The ``path_mtu`` step on a moto account: the sender's MTU from the registry or the host agent's metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.probe.agent import to_metric_data
from dropsleuth.probe.spool import Datapoint
from dropsleuth.sites import Site
from dropsleuth.steps import StepEnvironment
from dropsleuth.steps.path import STEP
from tests.support import site_behind_a_vpn

REGION = "eu-west-1"
SITE_CIDR = "192.168.60.0/24"
TARGET = "10.50.1.99"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
WINDOW = Window(start=NOW - timedelta(hours=1), end=NOW)


def _agent_reports(metric: str, dimensions: dict[str, str], values: list[float]) -> None:
    """Publish as the site agent does (its own datapoints and PutMetricData form)."""
    points = [
        Datapoint(metric, value, "None", (NOW - timedelta(minutes=30 - minute)).timestamp(), dimensions)
        for minute, value in enumerate(values)
    ]
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="DropSleuth", MetricData=to_metric_data(points)
    )


def _run(vpc: str, eni: str, **site_fields: Any) -> Any:
    site = Site(name="plant-60", cidrs=(SITE_CIDR,), vpc_id=vpc, **site_fields)
    context = InvestigationContext(
        vpc_id=vpc,
        source=Endpoint(cidr=SITE_CIDR),
        destination=Endpoint(eni_id=eni),
        window=WINDOW,
        site=site,
    )
    return STEP.run(context, StepEnvironment())


def test_the_interface_mtu_the_agent_measured_is_the_senders(aws: None) -> None:
    # Given no wan_mtu, eno1 expected at 1400, and the agent measuring eno1 at exactly that
    site = site_behind_a_vpn(SITE_CIDR, vpc_cidr="10.50.0.0/16", subnet_cidr="10.50.1.0/24")
    vpc, eni = site.vpc_id, site.eni_id
    _agent_reports("InterfaceMtu", {"Site": "plant-60", "Interface": "eno1"}, [1400.0] * 5)
    outcome = _run(vpc, eni, expected_mtus={"eno1": 1400})
    assert outcome.data["packet_size"] == 1400
    assert outcome.data["verdict"] == "ok"  # 1400 fits the VPN's 1406
    assert "host agent measured eno1 at 1400" in outcome.data["source_mtu_from"]


def test_a_measured_mtu_beats_the_expected_and_the_declared_one(aws: None) -> None:
    # Given the registry expecting 1400 (and even declaring wan_mtu 1400), and the agent measuring 9000
    site = site_behind_a_vpn(SITE_CIDR, vpc_cidr="10.50.0.0/16", subnet_cidr="10.50.1.0/24")
    vpc, eni = site.vpc_id, site.eni_id
    _agent_reports("InterfaceMtu", {"Site": "plant-60", "Interface": "eno1"}, [1400.0, 9000.0, 9000.0])
    outcome = _run(vpc, eni, expected_mtus={"eno1": 1400}, wan_mtu=1400)
    # The sender sends what the host measured: the VPN cannot carry it.
    assert outcome.data["packet_size"] == 9000
    assert outcome.data["verdict"] == "pmtud_blackhole"
    assert "measured eno1 at 9000" in outcome.data["source_mtu_from"]
    assert "expects 1400" in outcome.data["source_mtu_from"]
    series = outcome.data["interface_mtus"]["eno1"]
    assert series["expected"] == 1400
    assert [p["value"] for p in series["points"]] == [1400.0, 9000.0, 9000.0]


def test_without_agent_data_the_expected_mtu_is_used_and_labelled_unconfirmed(aws: None) -> None:
    site = site_behind_a_vpn(SITE_CIDR, vpc_cidr="10.50.0.0/16", subnet_cidr="10.50.1.0/24")
    vpc, eni = site.vpc_id, site.eni_id
    outcome = _run(vpc, eni, expected_mtus={"eno1": 1400, "wan0": 9000})
    assert outcome.data["packet_size"] == 9000  # the largest interface's MTU is what a host can send
    assert "not confirmed" in outcome.data["source_mtu_from"]


def test_the_agents_path_mtu_is_not_the_senders_mtu(aws: None) -> None:
    # The smallest hop's MTU, measured across the VPN, would hide the black hole if taken as the sender's.
    site = site_behind_a_vpn(SITE_CIDR, vpc_cidr="10.50.0.0/16", subnet_cidr="10.50.1.0/24")
    vpc, eni = site.vpc_id, site.eni_id
    _agent_reports("PathMtu", {"Site": "plant-60", "Target": TARGET}, [1406.0, 1300.0, 1406.0])
    outcome = _run(vpc, eni, wan_mtu=9000, probe_targets=(TARGET,))
    assert outcome.data["packet_size"] == 9000
    assert outcome.data["verdict"] == "pmtud_blackhole"


@pytest.mark.parametrize(("clamp", "verdict"), [(1366, "ok"), (1400, "pmtud_blackhole")])
def test_the_site_registrys_mss_clamp_covers_the_vpn_only_when_small_enough(
    aws: None, clamp: int, verdict: str
) -> None:
    site = site_behind_a_vpn(SITE_CIDR, vpc_cidr="10.50.0.0/16", subnet_cidr="10.50.1.0/24")
    vpc, eni = site.vpc_id, site.eni_id
    outcome = _run(vpc, eni, wan_mtu=9000, mss_clamp=clamp)
    assert outcome.data["packet_size"] == clamp + 40
    assert outcome.data["verdict"] == verdict
