"""EC2 network allowances from the CloudWatch agent (namespace CWAgent) for the instances behind the path's
ends, read back from moto's CloudWatch and graded like the dropsleuth agent's ENA counters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3

from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.demo.account import amazon_linux_image
from dropsleuth.investigate import investigate
from dropsleuth.model import FindingCode, Report, Severity
from dropsleuth.sites import Site
from dropsleuth.steps import StepEnvironment, default_steps
from tests.functional.test_metrics_context import START, put

SITE = "plant-7"
ONSET_MINUTE = 30


def _two_instances() -> tuple[str, dict[str, str], dict[str, str]]:
    """A VPC with two instances: their ids and primary ENIs."""
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.70.1.0/24")["Subnet"]["SubnetId"]
    found = ec2.run_instances(
        ImageId=amazon_linux_image(ec2), InstanceType="m5.large", MinCount=2, MaxCount=2, SubnetId=subnet
    )["Instances"]
    first, second = (
        {"id": i["InstanceId"], "eni": i["NetworkInterfaces"][0]["NetworkInterfaceId"]} for i in found
    )
    return vpc, first, second


def _running_totals(start: float, per_minute: list[float]) -> list[float]:
    """What the agent publishes: the driver's counter since it loaded, not the growth per minute."""
    totals, total = [], start
    for grown in per_minute:
        total += grown
        totals.append(total)
    return totals


def _agent_publishes(instance: str, metric: str, totals: list[float], interface: str = "eth0") -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    # Dimensions as the agent appends them (InstanceId) plus the ethtool plugin's own; sorted by name because
    # moto compares dimension lists in order, where CloudWatch treats them as a set.
    dims = {"InstanceId": instance, "driver": "ena", "interface": interface}
    put(cloudwatch, "CWAgent", metric, dict(sorted(dims.items())), totals)


def _site_throughput_collapses() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    put(cloudwatch, "DropSleuth", "UploadThroughputMbps", {"Site": SITE}, [40.0] * ONSET_MINUTE + [2.0] * 30)


def _investigate(vpc: str, source: Endpoint, destination: Endpoint) -> Report:
    context = InvestigationContext(
        vpc_id=vpc,
        source=source,
        destination=destination,
        window=Window(start=START, end=START + timedelta(minutes=60)),
        site=Site(name=SITE),
    )
    steps = [s for s in default_steps() if s.name in {"path_mtu", "metrics"}]
    return investigate(context, steps=steps, environment=StepEnvironment())


def _allowance_findings(report: Report) -> list[Any]:
    return [f for f in report.findings if f.code is FindingCode.ENA_ALLOWANCE_EXCEEDED]


def test_an_allowance_counter_that_began_growing_at_the_onset_is_high_and_names_the_instance(
    aws: None,
) -> None:
    vpc, sender, receiver = _two_instances()
    _site_throughput_collapses()
    # A counter that already stood at 1,200 (an old burst) and grows 300 a minute from the onset.
    growth = [0.0] * ONSET_MINUTE + [300.0] * 30
    _agent_publishes(receiver["id"], "ethtool_pps_allowance_exceeded", _running_totals(1200, growth))
    _agent_publishes(receiver["id"], "ethtool_bw_in_allowance_exceeded", _running_totals(0, [0.0] * 60))
    _agent_publishes(receiver["id"], "ethtool_pps_allowance_exceeded", _running_totals(0, [0.0] * 60), "eth1")

    report = _investigate(vpc, Endpoint(eni_id=sender["eni"]), Endpoint(instance_id=receiver["id"]))

    (finding,) = _allowance_findings(report)
    assert finding.severity is Severity.HIGH
    assert finding.resource_ids == (receiver["id"],)
    (evidence,) = finding.evidence
    assert evidence.data["source"] == "CloudWatch agent"
    assert evidence.data["metric"] == "ethtool_pps_allowance_exceeded"
    assert evidence.data["dimensions"]["interface"] == "eth0"
    # The growth, not the running total: nothing before the onset (the first point is the baseline).
    assert (evidence.data["before_total"], evidence.data["during_total"]) == (0, 9000)
    assert "CloudWatch agent" in finding.title
    # The sender's agent publishes nothing: unknown, not clean.
    assert any(
        line.startswith(
            f"EC2 network allowances of {sender['id']} (CloudWatch agent): unknown — the CloudWatch "
            f"agent's ethtool plugin does not publish for {sender['id']}"
        )
        for line in report.checked
    ), report.checked


def test_counters_that_did_not_grow_are_checked_clean_per_instance(aws: None) -> None:
    vpc, sender, receiver = _two_instances()
    _site_throughput_collapses()
    for instance in (sender["id"], receiver["id"]):
        _agent_publishes(instance, "ethtool_conntrack_allowance_exceeded", _running_totals(5000, [0.0] * 60))

    report = _investigate(vpc, Endpoint(eni_id=sender["eni"]), Endpoint(eni_id=receiver["eni"]))

    assert _allowance_findings(report) == []
    for instance in (sender["id"], receiver["id"]):
        assert (
            f"EC2 network allowances of {instance} (CloudWatch agent): checked, clean — 1 "
            "ethtool_*_allowance_exceeded counters did not grow on eth0" in report.checked
        )
    # The destination's ENI as moto describes it (moto returns no ConnectionTrackingConfiguration).
    assert any(
        line.startswith(f"security-group connection tracking of {receiver['eni']}: checked — ")
        for line in report.checked
    )
    assert not any(f"connection tracking of {sender['eni']}" in line for line in report.checked)


def test_an_end_outside_the_vpc_reads_no_instance(aws: None) -> None:
    vpc, sender, _ = _two_instances()

    report = _investigate(vpc, Endpoint(eni_id=sender["eni"]), Endpoint(ip="198.51.100.20"))

    lines = [line for line in report.checked if line.startswith("EC2 network allowances of")]
    assert lines == [
        (
            f"EC2 network allowances of {sender['id']} (CloudWatch agent): unknown — the CloudWatch agent's "
            f"ethtool plugin does not publish for {sender['id']} (no ethtool_*_allowance_exceeded in CWAgent "
            "in the window)"
        )
    ]
