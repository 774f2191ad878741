"""The ``path_mtu`` step on a moto account: the sender's MTU from the registry or the host agent's metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from dropsleuth.context import Endpoint, InvestigationContext, Window
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
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_data(
        Namespace="DropSleuth",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": NOW - timedelta(minutes=30 - minute),
                "Value": value,
            }
            for minute, value in enumerate(values)
        ],
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


def test_an_interface_mtu_the_agent_confirmed_is_the_senders(aws: None) -> None:
    # Given no wan_mtu, eno1 expected at 1400, and the agent saying eno1 has exactly that MTU
    site = site_behind_a_vpn(SITE_CIDR, vpc_cidr="10.50.0.0/16", subnet_cidr="10.50.1.0/24")
    vpc, eni = site.vpc_id, site.eni_id
    _agent_reports("InterfaceMtuMismatch", {"Site": "plant-60", "Interface": "eno1"}, [0.0] * 5)
    outcome = _run(vpc, eni, expected_mtus={"eno1": 1400})
    assert outcome.data["packet_size"] == 1400
    assert outcome.data["verdict"] == "ok"  # 1400 fits the VPN's 1406
    assert "host agent measured eno1" in outcome.data["source_mtu_from"]


def test_an_interface_the_agent_reports_as_different_is_not_used(aws: None) -> None:
    site = site_behind_a_vpn(SITE_CIDR, vpc_cidr="10.50.0.0/16", subnet_cidr="10.50.1.0/24")
    vpc, eni = site.vpc_id, site.eni_id
    _agent_reports("InterfaceMtuMismatch", {"Site": "plant-60", "Interface": "eno1"}, [0.0, 1.0, 1.0])
    outcome = _run(vpc, eni, expected_mtus={"eno1": 1400})
    # The sender's MTU is unknown: the receiver's ENI (9001) bounds it, and the VPN cannot carry that.
    assert outcome.data["packet_size"] == 9001
    assert outcome.data["verdict"] == "pmtud_blackhole"
    assert "not known" in outcome.data["source_mtu_from"]


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
