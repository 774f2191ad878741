"""The metrics step finds the NAT gateway on the path (moto topology) and a non-zero drop counter reaches
the report's evidence; a counter of zero does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.investigate import investigate
from dropsleuth.model import FindingCode, Report, Severity
from dropsleuth.steps import StepEnvironment, default_steps

START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


def _private_subnet_behind_a_nat() -> tuple[str, str, str]:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.0.0/24")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(VpcId=vpc, InternetGatewayId=igw)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    public_rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=public_rt, SubnetId=public)
    private_rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=private_rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.associate_route_table(RouteTableId=private_rt, SubnetId=private)
    eni = ec2.create_network_interface(SubnetId=private)["NetworkInterface"]["NetworkInterfaceId"]
    return vpc, eni, nat


def _investigate_metrics(vpc: str, eni: str) -> Report:
    context = InvestigationContext(
        vpc_id=vpc,
        source=Endpoint(eni_id=eni),
        destination=Endpoint(ip="198.51.100.20"),
        window=Window(start=START, end=START + timedelta(minutes=60)),
    )
    steps = [s for s in default_steps() if s.name in {"path_mtu", "metrics"}]
    return investigate(context, steps=steps, environment=StepEnvironment())


def _put_drops(nat: str, values: list[float]) -> None:
    boto3.client("cloudwatch", region_name="eu-west-1").put_metric_data(
        Namespace="AWS/NATGateway",
        MetricData=[
            {
                "MetricName": "PacketsDropCount",
                "Dimensions": [{"Name": "NatGatewayId", "Value": nat}],
                "Timestamp": START + timedelta(minutes=minute),
                "Value": value,
            }
            for minute, value in enumerate(values)
        ],
    )


def _drop_evidence(report: Report, nat: str) -> list[str]:
    return [
        e.summary for f in report.findings for e in f.evidence if nat in e.resource_ids and e.kind == "metric"
    ]


def test_nat_drops_on_the_path_reach_the_evidence(aws: None) -> None:
    vpc, eni, nat = _private_subnet_behind_a_nat()
    _put_drops(nat, [0.0] * 30 + [40.0] * 5 + [0.0] * 25)

    report = _investigate_metrics(vpc, eni)

    metrics = next(s for s in report.steps if s.name == "metrics")
    assert any(f"PacketsDropCount of {nat}: 200 packets dropped" in c for c in metrics.data["checked"])
    assert any("200 packets dropped in the window" in s for s in _drop_evidence(report, nat)), [
        (f.code, [e.summary for e in f.evidence]) for f in report.findings
    ]


def test_a_quiet_nat_adds_no_evidence(aws: None) -> None:
    vpc, eni, nat = _private_subnet_behind_a_nat()
    _put_drops(nat, [0.0] * 60)

    report = _investigate_metrics(vpc, eni)

    metrics = next(s for s in report.steps if s.name == "metrics")
    assert any(
        f"PacketsDropCount of {nat}: 0 packets dropped in 60 min" in c for c in metrics.data["checked"]
    )
    assert _drop_evidence(report, nat) == []


def test_a_nat_without_data_is_unknown_not_clean(aws: None) -> None:
    vpc, eni, nat = _private_subnet_behind_a_nat()

    report = _investigate_metrics(vpc, eni)

    metrics = next(s for s in report.steps if s.name == "metrics")
    [line] = [c for c in metrics.data["checked"] if f"PacketsDropCount of {nat}" in c]
    assert "unknown — no data in the window" in line
    assert "0 packets dropped" not in line


def _put_nat_metric(nat: str, metric: str, values: list[float]) -> None:
    boto3.client("cloudwatch", region_name="eu-west-1").put_metric_data(
        Namespace="AWS/NATGateway",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "NatGatewayId", "Value": nat}],
                "Timestamp": START + timedelta(minutes=minute),
                "Value": value,
            }
            for minute, value in enumerate(values)
        ],
    )


def test_port_allocation_errors_of_the_nat_on_the_path_are_a_finding(aws: None) -> None:
    vpc, eni, nat = _private_subnet_behind_a_nat()
    _put_nat_metric(nat, "ErrorPortAllocation", [0.0] * 30 + [40.0] * 30)
    _put_nat_metric(nat, "IdleTimeoutCount", [3.0] * 60)

    report = _investigate_metrics(vpc, eni)

    (finding,) = [f for f in report.findings if f.code is FindingCode.NAT_PORT_EXHAUSTION]
    assert finding.resource_ids == (nat,)
    assert finding.evidence[0].data["during_total"] == 1200
    # No site series here, so no onset: counting in the window is a warning, never high.
    assert finding.severity is Severity.WARNING
    assert finding.remediation is not None
    assert any("associate-nat-gateway-address" in c for c in finding.remediation.commands)
    assert any(f"NAT gateway {nat} idle timeouts: checked" in line for line in report.checked)


def test_a_nat_without_port_errors_is_checked_clean(aws: None) -> None:
    vpc, eni, nat = _private_subnet_behind_a_nat()
    _put_nat_metric(nat, "ErrorPortAllocation", [0.0] * 60)

    report = _investigate_metrics(vpc, eni)

    assert FindingCode.NAT_PORT_EXHAUSTION not in report.codes()
    assert any(f"NAT gateway {nat} port allocation: checked, clean" in line for line in report.checked)
    assert any(f"NAT gateway {nat} idle timeouts: unknown" in line for line in report.checked)


def test_a_nat_with_no_data_at_all_is_unknown_not_clean(aws: None) -> None:
    vpc, eni, nat = _private_subnet_behind_a_nat()

    report = _investigate_metrics(vpc, eni)

    assert any(f"NAT gateway {nat} port allocation: unknown" in line for line in report.checked)
    assert not any(f"NAT gateway {nat} port allocation: checked" in line for line in report.checked)
