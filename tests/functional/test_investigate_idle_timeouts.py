"""The site's client keepalive against the NAT gateway on the path and the VPC's NLB listeners, on moto
(``DescribeListenerAttributes`` answers ``tcp.idle_timeout.seconds``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.investigate import investigate
from dropsleuth.model import FindingCode, Report, Severity
from dropsleuth.sites import Site
from dropsleuth.steps import StepEnvironment, default_steps
from tests.functional.test_investigate_gateway_drops import _private_subnet_behind_a_nat

START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


def _nlb_listener(vpc: str, idle_timeout_s: int) -> str:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    elbv2 = boto3.client("elbv2", region_name="eu-west-1")
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.9.0/24", AvailabilityZone="eu-west-1a")["Subnet"]
    arn = elbv2.create_load_balancer(Name="ingest", Subnets=[subnet["SubnetId"]], Type="network")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    group = elbv2.create_target_group(Name="ingest", Protocol="TCP", Port=443, VpcId=vpc)["TargetGroups"][0]
    listener = elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="TCP",
        Port=443,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )["Listeners"][0]["ListenerArn"]
    elbv2.modify_listener_attributes(
        ListenerArn=listener, Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": str(idle_timeout_s)}]
    )
    return listener


def _investigate(vpc: str, eni: str, keepalive_s: int | None) -> Report:
    context = InvestigationContext(
        vpc_id=vpc,
        source=Endpoint(eni_id=eni),
        destination=Endpoint(ip="198.51.100.20"),
        window=Window(start=START, end=START + timedelta(minutes=60)),
        site=Site(name="plant-7", client_keepalive_s=keepalive_s),
    )
    steps = [s for s in default_steps() if s.name in {"path_mtu", "metrics"}]
    return investigate(context, steps=steps, environment=StepEnvironment())


def test_a_keepalive_longer_than_the_listener_and_nat_timeouts_is_a_risk_for_each(aws: None) -> None:
    vpc, eni, nat = _private_subnet_behind_a_nat()
    listener = _nlb_listener(vpc, idle_timeout_s=120)

    report = _investigate(vpc, eni, keepalive_s=600)

    found = [f for f in report.findings if f.code is FindingCode.IDLE_TIMEOUT_MISMATCH]
    assert {f.severity for f in found} == {Severity.WARNING}
    by_resource = {f.resource_ids[0]: f for f in found}
    assert nat in by_resource
    (balancer,) = set(by_resource) - {nat}
    assert by_resource[balancer].evidence[0].data["idle_timeout_s"] == 120
    assert by_resource[balancer].remediation is not None
    assert by_resource[balancer].remediation.commands[0] == (
        f"aws elbv2 modify-listener-attributes --listener-arn {listener} "
        "--attributes Key=tcp.idle_timeout.seconds,Value=660"
    )


def test_a_short_keepalive_is_checked_against_both(aws: None) -> None:
    vpc, eni, nat = _private_subnet_behind_a_nat()
    _nlb_listener(vpc, idle_timeout_s=900)

    report = _investigate(vpc, eni, keepalive_s=240)

    assert FindingCode.IDLE_TIMEOUT_MISMATCH not in report.codes()
    assert f"NAT gateway {nat} idle timeout: checked — 350 s, longer than the clients' keepalive (240 s)" in (
        report.checked
    )
    assert any("TCP:443 idle timeout: checked — 900 s" in line for line in report.checked)


def test_without_a_keepalive_in_the_registry_the_mismatch_is_unknown(aws: None) -> None:
    vpc, eni, _ = _private_subnet_behind_a_nat()

    report = _investigate(vpc, eni, keepalive_s=None)

    assert FindingCode.IDLE_TIMEOUT_MISMATCH not in report.codes()
    assert any(
        line.startswith("idle-timeout mismatch (NAT gateways, NLB listeners): unknown")
        for line in report.checked
    )


def test_every_call_the_listener_check_makes_is_declared_for_investigate(aws: None) -> None:
    from dropsleuth.aws import clients
    from dropsleuth.aws.permissions import record_api_calls
    from dropsleuth.handlers.investigate import FUNCTION

    vpc, eni, _ = _private_subnet_behind_a_nat()
    _nlb_listener(vpc, idle_timeout_s=120)
    clients.reset()
    with record_api_calls() as recorder:
        _investigate(vpc, eni, keepalive_s=600)

    declared = {action for permissions in FUNCTION.permissions for action in permissions.actions}
    assert {"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerAttributes"} <= (
        recorder.actions
    )
    assert recorder.actions - declared == set()
